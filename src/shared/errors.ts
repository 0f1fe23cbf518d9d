/**
 * Typed errors of remoterun. Every error carries a stable `code` so callers can branch on it
 * without string matching, and the values that explain it (execa-style rich error values).
 */
export class RemoterunError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Short, safe rendering of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string")
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "object") {
    const ctor = (value as object).constructor?.name;
    try {
      const s = JSON.stringify(value);
      if (s !== undefined) return s.length > 80 ? `${s.slice(0, 77)}...` : s;
    } catch {
      /* circular or BigInt inside: fall through */
    }
    return ctor ? `[object ${ctor}]` : "[object]";
  }
  return String(value);
}

/** A public entry point received a value of the wrong type or shape. Nothing was written. */
export class InvalidArgumentError extends RemoterunError {
  readonly argument: string;
  readonly value: unknown;
  readonly expected: string;
  constructor(argument: string, value: unknown, expected: string, detail?: string) {
    super(
      "ERR_INVALID_ARGUMENT",
      `invalid ${argument}: got ${describeValue(value)}, expected ${expected}${detail ? ` (${detail})` : ""}`,
    );
    this.argument = argument;
    this.value = value;
    this.expected = expected;
  }
}

/** A value cannot be serialised faithfully (functions, symbols, class instances, cycles...). */
export class SerializationError extends RemoterunError {
  readonly path: string;
  readonly value: unknown;
  constructor(path: string, value: unknown, reason: string) {
    super("ERR_NOT_SERIALIZABLE", `cannot serialise ${path}: ${describeValue(value)} ${reason}`);
    this.path = path;
    this.value = value;
  }
}

/** wait() ran out of time; `pending` names the runners that had not finished. */
export class WaitTimeoutError extends RemoterunError {
  readonly pending: string[];
  readonly timeout: number;
  constructor(timeout: number, pending: string[]) {
    const shown =
      pending.slice(0, 10).join(", ") + (pending.length > 10 ? `, ... (${pending.length} in all)` : "");
    super(
      "ERR_WAIT_TIMEOUT",
      `wait timed out after ${timeout} s with ${pending.length} runner(s) pending: ${shown}`,
    );
    this.pending = pending;
    this.timeout = timeout;
  }
}

/**
 * The value that stands in `results` for a runner whose function threw (or whose job died).
 * `message` is the last line of its stderr, `fullError` the whole of it.
 */
export class RunnerFailedError extends RemoterunError {
  readonly runner: string;
  readonly fullError: string;
  constructor(runner: string, fullError: string) {
    const lines = fullError.split("\n").filter((l) => l.trim() !== "");
    super(
      "ERR_RUNNER_FAILED",
      lines.length ? lines[lines.length - 1] : "runner failed without an error message",
    );
    this.runner = runner;
    this.fullError = fullError;
  }
}

/** Another process holds the database of this Dataset. */
export class DatasetLockedError extends RemoterunError {
  readonly file: string;
  readonly holder: string;
  constructor(file: string, holder: string) {
    super("ERR_DATASET_LOCKED", `database ${file} is in use by ${holder}; close that process or wait for it`);
    this.file = file;
    this.holder = holder;
  }
}

/**
 * A Dataset object used after `close()` or `hardReset()`, or after a newer object took its database
 * (`new Dataset` or `Dataset.open` of the same file): nothing was changed.
 */
export class DatasetClosedError extends RemoterunError {
  readonly dataset: string;
  readonly file: string;
  /** "close" (close() or hardReset()) or "replaced" (a newer object holds the database). */
  readonly by: "close" | "replaced";
  constructor(dataset: string, file: string, by: "close" | "replaced") {
    super(
      "ERR_DATASET_CLOSED",
      by === "close"
        ? `Dataset ${dataset} was closed (close() or hardReset()): make a new Dataset object, or Dataset.open(${JSON.stringify(file)}), to go on`
        : `Dataset ${dataset}: a newer Dataset object holds its database ${file}; use that one`,
    );
    this.dataset = dataset;
    this.file = file;
    this.by = by;
  }
}

/** A database file exists but is not this Dataset's or cannot be read. */
export class DatabaseError extends RemoterunError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super("ERR_DATABASE", `${file}: ${message}`, options);
    this.file = file;
  }
}

/** A remote (or local) command exited non-zero. */
export class CommandError extends RemoterunError {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly command: string;
  constructor(
    command: string,
    result: { exitCode: number | null; signal?: string | null; stdout: string; stderr: string },
    what = "command",
  ) {
    const last = result.stderr.trim().split("\n").pop() ?? "";
    super(
      "ERR_COMMAND_FAILED",
      `${what} failed with ${result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`}${last ? `: ${last}` : ""}`,
    );
    this.command = command;
    this.exitCode = result.exitCode;
    this.signal = result.signal ?? null;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

/** Reaching the remote machine failed: refused, unreachable, authentication, host key, timeout. */
export class ConnectionError extends RemoterunError {
  readonly host: string;
  readonly reason: "refused" | "timeout" | "auth" | "host-key" | "unreachable" | "dropped" | "unknown";
  /** The whole stderr of the process that failed (ssh, rsync, tar). */
  readonly stderr: string;
  /** The line of that output that explains the failure (also in `message`), when one is known. */
  readonly causeLine: string | undefined;
  /** What to do about it, when known. */
  readonly advice: string | undefined;
  constructor(
    host: string,
    reason: ConnectionError["reason"],
    message: string,
    stderr = "",
    options: { cause?: unknown; causeLine?: string; advice?: string } = {},
  ) {
    super(
      `ERR_CONNECTION_${reason.toUpperCase().replace("-", "_")}`,
      `${host}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.host = host;
    this.reason = reason;
    this.stderr = stderr;
    this.causeLine = options.causeLine;
    this.advice = options.advice;
  }
}

/**
 * What explains a failed transfer, read from the output of its processes: a full disk, a folder
 * that may not be written, a shell that prints on stdout, a missing program...
 */
export type TransferFailureKind =
  /** The disk written to (remote when sending, local when fetching) or the user's quota is full. */
  | "no-space"
  | "read-only"
  /** A folder or file may not be created, written or read (remoteDir, say). */
  | "permission"
  /** A program (rsync, tar, node) is missing on the far side. */
  | "missing-program"
  /** The remote login shell prints on stdout: rsync's protocol cannot start. */
  | "noisy-shell"
  /** A folder or file does not exist. */
  | "not-found"
  | "unknown";

/** A file transfer (rsync/scp/cp) failed. */
export class TransferError extends RemoterunError {
  readonly direction: "push" | "pull";
  /** The whole stderr of the transfer's processes. */
  readonly stderr: string;
  /** What the output says went wrong ("unknown" when no known line explains it). */
  readonly kind: TransferFailureKind;
  /** The line of output that explains the failure (also in `message`), when one is known. */
  readonly causeLine: string | undefined;
  /** What to do about it, when known. */
  readonly advice: string | undefined;
  constructor(
    direction: "push" | "pull",
    message: string,
    stderr = "",
    options: { cause?: unknown; causeLine?: string; advice?: string; kind?: TransferFailureKind } = {},
  ) {
    super(
      "ERR_TRANSFER",
      `${direction} failed: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.direction = direction;
    this.stderr = stderr;
    this.kind = options.kind ?? "unknown";
    this.causeLine = options.causeLine;
    this.advice = options.advice;
  }
}

/** A job-script template could not be rendered for a runner. */
export class TemplateError extends RemoterunError {
  readonly placeholder: string;
  readonly runner: string | undefined;
  /** 1-based line of the template, when the error is about one line (e.g. an unclosed placeholder). */
  readonly line: number | undefined;
  /** The value that could not be written, when the error is about a value. */
  readonly value: unknown;
  constructor(
    placeholder: string,
    runner: string | undefined,
    message: string,
    details: { line?: number; value?: unknown } = {},
  ) {
    super(
      "ERR_TEMPLATE",
      `${runner ? `runner ${runner}: ` : ""}placeholder #${placeholder}#: ${details.line !== undefined ? `line ${details.line}: ` : ""}${message}`,
    );
    this.placeholder = placeholder;
    this.runner = runner;
    this.line = details.line;
    this.value = details.value;
  }
}

/** The scheduler refused a submission or answered something we cannot parse. */
export class SchedulerError extends RemoterunError {
  readonly output: string;
  constructor(message: string, output = "") {
    super("ERR_SCHEDULER", message);
    this.output = output;
  }
}

/** The remote side lacks something the Dataset needs (e.g. `node` for function Datasets). */
export class RemoteEnvironmentError extends RemoterunError {
  constructor(message: string) {
    super("ERR_REMOTE_ENVIRONMENT", message);
  }
}
