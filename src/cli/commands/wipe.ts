/** `remoterun wipe`: delete staging folders, remote folders, runners, or everything (--hard). */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode, UsageError } from "../exit-codes.js";
import { nameList } from "../format.js";
import { type Act, dbCommand } from "./types.js";

interface WipeOptions {
  local?: boolean;
  remote?: boolean;
  runs?: boolean;
  hard?: boolean;
  dryRun?: boolean;
}

export function registerWipe(program: Command, act: Act): void {
  dbCommand(program, "wipe", "delete the Dataset's files and/or runners (say what with the flags)")
    .option("--local", "delete the staging folder(s) under localDir")
    .option("--remote", "delete the folder(s) under remoteDir on the remote side")
    .option("--runs", "remove every runner from the Dataset and its database")
    .option("--hard", "all of the above and the database itself")
    .option(
      "-n, --dry-run",
      "say what would be deleted (counts, first names; --verbose: all); change nothing",
    )
    .action(act(wipe));
}

async function wipe(ctx: Ctx, db: string | undefined, opts: WipeOptions): Promise<ExitCode> {
  if (!opts.local && !opts.remote && !opts.runs && !opts.hard) {
    throw new UsageError("say what to wipe: --local, --remote, --runs and/or --hard");
  }
  const dryRun = opts.dryRun === true;
  const { ds, file } = ctx.openWithFile(db, { dryRun });
  if (dryRun) {
    // What each part would delete, in counts and the first few names (all of them with --verbose).
    const all = ctx.globals.verbose === true;
    const say = (line: string) => ctx.print(`${ctx.out.yellow("dry run:")} ${line}`);
    if (opts.local || opts.hard) {
      const dirs = ds.wipeLocal({ dryRun });
      say(
        dirs.length
          ? `would delete ${dirs.length} local folder(s): ${nameList(dirs, all)}`
          : "no local folder to delete",
      );
    }
    if (opts.remote || opts.hard) {
      const dirs = await ds.wipeRemote({ dryRun });
      say(`would delete ${dirs.length} folder(s) on ${ds.connection.label}: ${nameList(dirs, all)}`);
    }
    if (opts.runs || opts.hard) {
      const names = ds.wipeRuns({ dryRun });
      say(
        names.length
          ? `would remove ${names.length} runner(s): ${nameList(names, all)}`
          : "no runner to remove",
      );
    }
    if (opts.hard) say(`would delete the database ${file}`);
    ctx.print(ctx.out.dim("nothing was changed"));
    // A dry run leaves the database exactly as it was (no save on the way out).
    return EXIT.OK;
  }
  if (opts.hard) {
    await ds.hardReset();
    ctx.print(`hard reset of ${ds.name}: folders, runners and database deleted`);
    return EXIT.OK;
  }
  // Folders first: where they are is known from the runners.
  if (opts.local) {
    const dirs = ds.wipeLocal();
    for (const d of dirs) ctx.print(`deleted ${d}`);
    if (!dirs.length) ctx.print(ctx.out.dim("no local folder to delete"));
  }
  if (opts.remote) {
    const dirs = await ds.wipeRemote();
    for (const d of dirs) ctx.print(`deleted ${ds.connection.label}:${d}`);
  }
  if (opts.runs) {
    const names = ds.wipeRuns();
    ctx.print(`removed ${names.length} runner(s)`);
  }
  await ds.close();
  return EXIT.OK;
}
