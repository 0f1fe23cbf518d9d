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

/** The help of the [db] argument every command that works on one Dataset takes. */
export const DB_ARGUMENT =
  "the Dataset: its name or <name>-<id> (looked for here and below), its database file, or a folder holding one (default: the only database here)";

/** A subcommand of `program` that acts on one database: the optional [db] argument every one takes. */
export function dbCommand(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).argument("[db]", DB_ARGUMENT);
}
