/** `remoterun run`: submit the runners that should run under the skip/force rules. */
import type { Command } from "commander";
import { dryRunSummary } from "../../index.js";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode, UsageError } from "../exit-codes.js";
import { type Act, dbCommand } from "./types.js";

interface RunOptions {
  force?: boolean;
  forceIgnoresSuccess?: boolean;
  dryRun?: boolean;
}

export function registerRun(program: Command, act: Act): void {
  dbCommand(
    program,
    "run",
    "submit the runners that have not run yet (with --force: also submitted and failed ones)",
  )
    .option("-f, --force", "resubmit runners that are submitted, running or failed")
    .option("--force-ignores-success", "with --force, also resubmit runners that succeeded")
    .option(
      "-n, --dry-run",
      "render the job scripts, launch script and submit commands under localDir and print where; transfer, submit and record nothing (--verbose: list everything)",
    )
    .action(act(run));
}

async function run(ctx: Ctx, db: string | undefined, opts: RunOptions): Promise<ExitCode> {
  if (opts.forceIgnoresSuccess && !opts.force) {
    throw new UsageError("--force-ignores-success only has an effect with --force");
  }
  const ds = ctx.open(db);
  const args = {
    ...(opts.force ? { force: true } : {}),
    ...(opts.forceIgnoresSuccess ? { forceIgnoresSuccess: true } : {}),
  };
  if (opts.dryRun) {
    const d = await ds.run({ ...args, dryRun: true });
    // With --verbose the library printed the full summary already.
    if (!ctx.globals.verbose)
      for (const line of dryRunSummary(ds.name, d.dryRun, d.skipped.length, false)) ctx.print(line);
    // No close(): it would save the database, which a dry run leaves as it was (the lock goes at exit).
    return EXIT.OK;
  }
  const r = await ds.run(args);
  ctx.print(
    r.submitted.length
      ? `submitted ${r.submitted.length} runner(s): ${list(r.submitted)}`
      : ctx.out.dim("no runners to submit"),
  );
  if (r.skipped.length) {
    ctx.print(
      ctx.out.dim(
        `skipped ${r.skipped.length} runner(s) already submitted, finished or failed${opts.force ? "" : " (use --force to resubmit)"}`,
      ),
    );
  }
  await ds.close();
  return EXIT.OK;
}

/** Names, shortened when there are many. */
export function list(names: readonly string[], max = 10): string {
  return names.length <= max
    ? names.join(", ")
    : `${names.slice(0, max).join(", ")}, … (${names.length} in all)`;
}
