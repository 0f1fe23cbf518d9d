/** `remoterun results`: fetch, then print results in runner order, with their args (JSON, CSV or a table). */
import type { Command } from "commander";
import type { Runner } from "../../index.js";
import type { Ctx } from "../context.js";
import { type ResultRow, resultsTable, toCsv } from "../csv.js";
import { EXIT, type ExitCode, UsageError } from "../exit-codes.js";
import { jsonResult, jsonSafe, renderResults } from "../format.js";
import { type Act, dbCommand } from "./types.js";

interface ResultsOptions {
  json?: boolean;
  csv?: boolean;
  fetch: boolean;
}

export function registerResults(program: Command, act: Act): void {
  dbCommand(
    program,
    "results",
    "fetch and print the results in runner order (exit 1 unless every runner succeeded)",
  )
    .option(
      "--json",
      'a JSON array: { "runner", "state", "args", "result" } per runner ("error" instead for failures; neither before it finished; null for a function that returned nothing)',
    )
    .option(
      "--csv",
      "CSV: runner, state, one column per arg (nested keys dotted), result (or its keys), error",
    )
    .option("--no-fetch", "print what the database holds, without contacting the remote side")
    .action(act(results));
}

/** What `results --json` prints for one runner. */
export function resultRow(r: Runner): ResultRow {
  const row: ResultRow = { runner: r.name, state: r.state, args: jsonSafe(r.args) };
  if (r.error !== undefined) row.error = r.error.message;
  // A function that returns nothing succeeded all the same: its result is null here.
  else if (r.state === "satisfied") row.result = r.result === undefined ? null : jsonResult(r.result);
  return row;
}

async function results(ctx: Ctx, db: string | undefined, opts: ResultsOptions): Promise<ExitCode> {
  if (opts.json && opts.csv) throw new UsageError("--json and --csv: choose one");
  const machine = opts.json === true || opts.csv === true;
  const ds = ctx.open(db, { json: machine });
  if (opts.fetch) {
    await ds.fetchResults();
    await ds.close();
  }
  const runners = ds.runners;
  if (opts.json) ctx.print(JSON.stringify(runners.map(resultRow), null, 2));
  else if (opts.csv) {
    const t = resultsTable(runners.map(resultRow));
    ctx.io.stdout.write(toCsv(t.header, t.rows));
  } else for (const line of renderResults(runners, ctx.out)) ctx.print(line);
  // Each failure is in the output above, once: stderr only says how many.
  const failed = runners.filter((r) => r.error !== undefined).length;
  const missing = runners.filter((r) => r.error === undefined && r.state !== "satisfied").length;
  if (failed || missing) {
    const parts = [
      ...(failed ? [`${failed} of ${runners.length} runner(s) failed (remoterun errors lists them)`] : []),
      ...(missing ? [`${missing}${failed ? "" : ` of ${runners.length}`} runner(s) have no result yet`] : []),
    ];
    ctx.warn(ctx.err.dim(parts.join("; ")));
  }
  return failed || missing ? EXIT.RUNNERS_FAILED : EXIT.OK;
}
