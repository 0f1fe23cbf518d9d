/** `remoterun retry`: resubmit the failed runners, and only those. */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { nameList } from "../format.js";
import { list } from "./run.js";
import { type Act, dbCommand } from "./types.js";

export function registerRetry(program: Command, act: Act): void {
  dbCommand(program, "retry", "resubmit the runners that failed (and only those)")
    .option(
      "-n, --dry-run",
      "say which runners would be resubmitted (count, first names; --verbose: all); change nothing",
    )
    .action(act(retry));
}

async function retry(ctx: Ctx, db: string | undefined, opts: { dryRun?: boolean }): Promise<ExitCode> {
  const ds = ctx.open(db, { dryRun: opts.dryRun === true });
  const { submitted } = await ds.retryFailed({ dryRun: opts.dryRun === true });
  if (opts.dryRun) {
    const say = (line: string) => ctx.print(`${ctx.out.yellow("dry run:")} ${line}`);
    say(
      submitted.length
        ? `would resubmit ${submitted.length} failed runner(s): ${nameList(submitted, ctx.globals.verbose === true)}`
        : "no failed runners to retry",
    );
    return EXIT.OK;
  }
  ctx.print(
    submitted.length
      ? `resubmitted ${submitted.length} failed runner(s): ${list(submitted)}`
      : ctx.out.dim("no failed runners to retry"),
  );
  await ds.close();
  return EXIT.OK;
}
