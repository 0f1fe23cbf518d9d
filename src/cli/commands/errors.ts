/** `remoterun errors`: every failed runner once, with its args and the last line of its error. */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { argsSummary, jsonSafe, lastLine, table, truncate } from "../format.js";
import { type Act, dbCommand } from "./types.js";
import { readView } from "./view.js";

interface ErrorsOptions {
  json?: boolean;
  fetch: boolean;
}

export function registerErrors(program: Command, act: Act): void {
  dbCommand(
    program,
    "errors",
    "fetch, then list each failed runner once: name, args, last line of its error (exit 1 if any)",
  )
    .option(
      "--json",
      'a JSON array: { "runner", "args", "error" (last line), "fullError" } per failed runner (null until fetched)',
    )
    .option("--no-fetch", "list what the database holds, without contacting the remote side")
    .action(act(errors));
}

async function errors(ctx: Ctx, db: string | undefined, opts: ErrorsOptions): Promise<ExitCode> {
  const view = await readView(ctx, db, { fetch: opts.fetch, json: opts.json });
  const failed = view.runners.filter((r) => r.state === "failed" || r.error !== undefined);
  if (opts.json) {
    ctx.print(
      JSON.stringify(
        failed.map((r) => ({
          runner: r.name,
          args: jsonSafe(r.args),
          error: r.error ? r.error.message : null,
          fullError: r.error ? r.error.fullError : null,
        })),
        null,
        2,
      ),
    );
  } else if (failed.length === 0) {
    const finished = new Set(["completed", "satisfied"]);
    const open = view.runners.filter((r) => !finished.has(r.state)).length;
    ctx.print(
      ctx.out.dim(
        `no failed runner among ${view.runners.length}${open ? ` (${open} not finished yet: remoterun status)` : ""}`,
      ),
    );
  } else {
    const width = ctx.isTTY ? Math.max(30, (ctx.io.stdout.columns || 80) - 45) : 200;
    const rows = failed.map((r) => [
      r.name,
      argsSummary(r.args, 40),
      r.error
        ? ctx.out.red(truncate(lastLine(r.error.message), width))
        : ctx.out.dim(view.readOnly || !opts.fetch ? "(error not fetched yet)" : "(no error recorded)"),
    ]);
    for (const line of table(["RUNNER", "ARGS", "ERROR"], rows, ctx.out)) ctx.print(line);
    ctx.print(ctx.out.dim(`${failed.length} of ${view.runners.length} runner(s) failed`));
  }
  return failed.length ? EXIT.RUNNERS_FAILED : EXIT.OK;
}
