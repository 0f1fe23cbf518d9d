import type { Command } from "commander";
import type { Ctx } from "../context.js";
import type { ExitCode } from "../exit-codes.js";

/**
 * Wraps a command handler for commander: the handler gets the context, the database argument and
 * the command's options, and returns the exit code.
 */
export type Act = <O>(
  handler: (ctx: Ctx, db: string | undefined, opts: O) => Promise<ExitCode>,
) => (db: string | undefined, opts: O) => Promise<void>;

/** A subcommand of `program` that acts on one database: the optional [db] argument every one takes. */
export function dbCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .argument("[db]", "database file (default: the only *.remoterun.json here)");
}
