/** The `remoterun` command line: commander wiring, error reporting and exit codes. */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerCancel } from "./commands/cancel.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerErrors } from "./commands/errors.js";
import { registerFetch } from "./commands/fetch.js";
import { registerInit } from "./commands/init.js";
import { registerList } from "./commands/list.js";
import { registerLogs } from "./commands/logs.js";
import { registerResults } from "./commands/results.js";
import { registerRetry } from "./commands/retry.js";
import { registerRun } from "./commands/run.js";
import { registerStatus } from "./commands/status.js";
import type { Act } from "./commands/types.js";
import { registerWait } from "./commands/wait.js";
import { registerWipe } from "./commands/wipe.js";
import { Ctx, type GlobalOptions, type Io, processIo } from "./context.js";
import { EXIT, EXIT_CODES_HELP, exitCodeOf } from "./exit-codes.js";

const DB_HELP = `The Dataset: every command that works on one takes [db], which is
  - a Dataset's name or <name>-<id> (a word without "/"), looked for in the current folder and the
    folders below it (as remoterun list shows them); several matches are an error that lists them;
  - or the path of its database <name>-<id>.remoterun.json (the .json may be left out), or of a folder
    holding exactly one database (./name for a folder when a Dataset has that name too).
Without it: the only database of the current folder.`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return String(pkg.version);
  } catch {
    return "unknown";
  }
}

/** The program; `outcome.code` receives the exit code of the command that ran. */
export function buildProgram(io: Io, outcome: { code: number; ctx?: Ctx }): Command {
  const program = new Command("remoterun");
  program
    .description("Inspect and drive a remoterun Dataset from the shell.")
    .version(version(), "-V, --version")
    .option("--debug", "print stack traces of errors")
    .option("-v, --verbose", "print the library's messages")
    .option("--no-color", "no colours (also off with NO_COLOR or when not writing to a terminal)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError("(remoterun --help for usage)")
    .addHelpText("after", `\n${DB_HELP}\n\n${EXIT_CODES_HELP}\n`);

  const act: Act = (handler) =>
    async function (this: Command, db, opts) {
      const ctx = new Ctx(io, this.optsWithGlobals<GlobalOptions>());
      outcome.ctx = ctx;
      outcome.code = await handler(ctx, db, opts);
    };

  registerStatus(program, act);
  registerRun(program, act);
  registerWait(program, act);
  registerFetch(program, act);
  registerResults(program, act);
  registerRetry(program, act);
  registerCancel(program, act);
  registerWipe(program, act);
  registerDoctor(program, act);
  registerList(program, act);
  registerErrors(program, act);
  registerLogs(program, act);
  registerInit(program, act);
  return program;
}

/** Run the command line; resolves with the exit code. Errors are printed, never thrown. */
export async function runCli(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const outcome: { code: number; ctx?: Ctx } = { code: EXIT.OK };
  const program = buildProgram(io, outcome);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return outcome.code;
  } catch (e) {
    // Commander has printed its own message (usage errors); help and version exit 0.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    const ctx = outcome.ctx ?? new Ctx(io, program.opts<GlobalOptions>());
    const code = exitCodeOf(e);
    const err = e as Error;
    const debug = ctx.globals.debug === true || argv.includes("--debug");
    ctx.warn(`${ctx.err.red("remoterun: error:")} ${err?.message ?? String(e)}`);
    if (debug) {
      if (err?.stack) ctx.warn(ctx.err.dim(err.stack));
      if (err?.cause) ctx.warn(ctx.err.dim(`cause: ${(err.cause as Error)?.stack ?? String(err.cause)}`));
    } else if (code === EXIT.INTERNAL) ctx.warn(ctx.err.dim("(rerun with --debug for the stack trace)"));
    return code;
  }
}
