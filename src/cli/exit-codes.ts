/**
 * Exit codes of `remoterun`, stable for scripts, and the mapping of the library's typed errors to
 * them. Uses only the public error classes.
 */
import {
  CommandError,
  ConnectionError,
  DatabaseError,
  DatasetLockedError,
  InvalidArgumentError,
  RemoteEnvironmentError,
  SchedulerError,
  SerializationError,
  TemplateError,
  TransferError,
  WaitTimeoutError,
} from "../index.js";

export const EXIT = {
  /** Success (for `wait` and `results`: every runner succeeded; for `errors`: no runner failed). */
  OK: 0,
  /**
   * Some runners failed (or, for `wait`/`results`, have not succeeded yet; `errors` lists at least
   * one failure); for `logs`: nothing is known yet of the runner's output.
   */
  RUNNERS_FAILED: 1,
  /**
   * Usage error or bad input: unknown option, missing or unknown database, a Dataset name that
   * matches several databases, an unknown runner, invalid value.
   */
  USAGE: 2,
  /** `wait` timed out. */
  TIMEOUT: 3,
  /** Connection, transfer, remote command or scheduler error. */
  REMOTE: 4,
  /** The database is locked by another process or cannot be read (`list`: one of them cannot). */
  DATABASE: 5,
  /** Anything else: a bug (rerun with --debug for the stack). */
  INTERNAL: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The text of `remoterun --help` that documents the exit codes. */
export const EXIT_CODES_HELP = `Exit codes:
  0   success (for wait and results: every runner succeeded; for errors: none failed)
  1   some runners failed (for wait and results: not every runner succeeded; errors: some failed;
      logs: nothing known yet of the runner's output)
  2   usage error or bad input (unknown option, missing, unknown or ambiguous Dataset, unknown
      runner, invalid value)
  3   wait timed out
  4   connection, transfer, remote command or scheduler error
  5   database locked by another process, or unreadable (list: one of those listed)
  70  unexpected internal error (rerun with --debug for the stack)`;

/** An error of the command line itself (not of the library): always a usage error. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The exit code for an error thrown by a command. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (error instanceof WaitTimeoutError) return EXIT.TIMEOUT;
  if (error instanceof DatasetLockedError || error instanceof DatabaseError) return EXIT.DATABASE;
  if (
    error instanceof InvalidArgumentError ||
    error instanceof SerializationError ||
    error instanceof TemplateError
  )
    return EXIT.USAGE;
  if (
    error instanceof ConnectionError ||
    error instanceof TransferError ||
    error instanceof CommandError ||
    error instanceof SchedulerError ||
    error instanceof RemoteEnvironmentError
  )
    return EXIT.REMOTE;
  return EXIT.INTERNAL;
}
