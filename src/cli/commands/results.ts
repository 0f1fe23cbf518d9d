/** `remoterun results`: fetch, then print results in runner order (failures as `{ error }` in JSON). */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { jsonResult, renderResults } from "../format.js";
import { type Act, dbCommand } from "./types.js";

interface ResultsOptions {
  json?: boolean;
  fetch: boolean;
}

export function registerResults(program: Command, act: Act): void {
  dbCommand(
    program,
    "results",
    "fetch and print the results in runner order (exit 1 unless every runner succeeded)",
  )
    .option("--json", "a JSON array: values, { error: message } for failures, null when not finished")
    .option("--no-fetch", "print what the database holds, without contacting the remote side")
    .action(act(results));
}

async function results(ctx: Ctx, db: string | undefined, opts: ResultsOptions): Promise<ExitCode> {
  const ds = ctx.open(db, { json: opts.json });
  if (opts.fetch) {
    await ds.fetchResults();
    await ds.close();
  }
  const runners = ds.runners;
  if (opts.json)
    ctx.print(
      JSON.stringify(
        runners.map((r) => jsonResult(r.result)),
        null,
        2,
      ),
    );
  else for (const line of renderResults(runners, ctx.out)) ctx.print(line);
  const failed = runners.filter((r) => r.error !== undefined);
  const missing = runners.filter((r) => r.result === undefined);
  for (const r of failed) ctx.warn(`${ctx.err.red("failed")} ${r.name}: ${r.error!.message}`);
  if (missing.length) ctx.warn(`${missing.length} runner(s) have no result yet`);
  return failed.length || missing.length ? EXIT.RUNNERS_FAILED : EXIT.OK;
}
