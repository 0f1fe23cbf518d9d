/** `remoterun wait`: poll until every submitted runner has finished; exit 1 if any did not succeed. */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { lastLine } from "../format.js";
import { seconds } from "../parse.js";
import { list } from "./run.js";
import { type Act, dbCommand } from "./types.js";

interface WaitOptions {
  interval: number;
  timeout?: number;
  progress: boolean;
}

export function registerWait(program: Command, act: Act): void {
  dbCommand(
    program,
    "wait",
    "wait until every submitted runner has finished (exit 1 if any failed, 3 on timeout)",
  )
    .option("-i, --interval <seconds>", "longest pause between polls", seconds(), 1)
    .option("-t, --timeout <seconds>", "give up after this long (exit code 3)", seconds(true))
    .option(
      "--no-progress",
      "no progress on stderr (by default a live line on a terminal, else a line per change)",
    )
    .action(act(wait));
}

async function wait(ctx: Ctx, db: string | undefined, opts: WaitOptions): Promise<ExitCode> {
  const ds = ctx.open(db);
  // Interrupted, the live line ends with a newline so that the shell's prompt starts below it.
  const onInt = () => {
    if (opts.progress && ctx.io.stderr.isTTY) ctx.io.stderr.write("\n");
    process.exit(130);
  };
  process.once("SIGINT", onInt);
  try {
    await ds.wait({
      interval: opts.interval,
      progress: opts.progress,
      ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
    });
  } finally {
    process.off("SIGINT", onInt);
    await ds.close();
  }
  return reportOutcome(ctx, ds.runners);
}

/** Print which runners did not succeed; EXIT.OK when every runner succeeded. */
export function reportOutcome(
  ctx: Ctx,
  runners: readonly { name: string; state: string; error?: { message: string } | undefined }[],
): ExitCode {
  const ok = runners.filter((r) => r.state === "completed" || r.state === "satisfied");
  const failed = runners.filter((r) => r.state === "failed");
  const other = runners.filter((r) => !ok.includes(r) && !failed.includes(r));
  if (failed.length === 0 && other.length === 0) {
    ctx.print(ctx.out.green(`all ${runners.length} runner(s) succeeded`));
    return EXIT.OK;
  }
  // Each failure once: with its reason when the error is known, else in one line of names.
  const unknown: string[] = [];
  for (const r of failed) {
    if (r.error) ctx.warn(`${ctx.err.red("failed")} ${r.name}: ${lastLine(r.error.message)}`);
    else unknown.push(r.name);
  }
  if (unknown.length)
    ctx.warn(
      `${ctx.err.red("failed")} ${list(unknown)} ${ctx.err.dim("(errors not fetched yet: remoterun errors fetches and lists them)")}`,
    );
  if (other.length) ctx.warn(`not run: ${list(other.map((r) => `${r.name} (${r.state})`))}`);
  ctx.print(
    `${ok.length} of ${runners.length} runner(s) succeeded, ${failed.length} failed${other.length ? `, ${other.length} not run` : ""}`,
  );
  return EXIT.RUNNERS_FAILED;
}
