import type { Ctx } from "../context.js";
import type { ExitCode } from "../exit-codes.js";

/**
 * Wraps a command handler for commander: the handler gets the context, the database argument and
 * the command's options, and returns the exit code.
 */
export type Act = <O>(
  handler: (ctx: Ctx, db: string | undefined, opts: O) => Promise<ExitCode>,
) => (db: string | undefined, opts: O) => Promise<void>;
