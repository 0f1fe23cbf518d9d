/** What a file transport (rsync, scp/tar) needs from its SSH connection, and how it reports failure. */
import { existsSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConnectionError, TransferError, type TransferFailureKind } from "../shared/errors.js";
import { findCause, isConnectionCause } from "./causes.js";
import { nulList } from "./paths.js";
import { describeFailure, type ProcessResult, type RunOptions } from "./process.js";
import { classifySshStderr, reasonMessage } from "./ssh-errors.js";

export interface TransportContext {
  /** ssh options shared by the connection (-F config file, port, user, key, control socket...). */
  readonly sshArgs: readonly string[];
  /** The destination as ssh sees it. */
  readonly host: string;
  /** Connection label for error messages. */
  readonly label: string;
  readonly timeoutMs: number;
  /** Spawn one process; every call is counted in stats.launches. */
  run(program: string, args: readonly string[], options?: RunOptions): Promise<ProcessResult>;
  /** A fresh path inside the connection's private folder. */
  tempFile(prefix: string): string;
}

export interface Transport {
  readonly name: "rsync" | "scp";
  push(ctx: TransportContext, localRoot: string, remoteRoot: string, files: readonly string[]): Promise<void>;
  pull(ctx: TransportContext, remoteRoot: string, localRoot: string, files: readonly string[]): Promise<void>;
}

/**
 * Turn a failed transfer into the right error: a ConnectionError when ssh says the connection is the
 * problem (so that callers can retry), a TransferError otherwise. The message names the line that
 * explains the failure (findCause: ranked known lines of ssh, rsync, tar, mkdir, bash), read from
 * the stderr of every process of the transfer (`r` failed; `others` ran beside it); the whole of it
 * is kept on the error.
 */
export function transferFailure(
  direction: "push" | "pull",
  program: string,
  label: string,
  r: ProcessResult,
  others: readonly ProcessResult[] = [],
): ConnectionError | TransferError {
  const stderr = [r.stderr, ...others.map((o) => o.stderr)].filter((s) => s !== "").join("\n");
  if (r.spawnError) {
    return new TransferError(direction, describeFailure(program, r), stderr, {
      cause: r.spawnError,
      kind: "missing-program",
      causeLine: r.spawnError.message,
      advice: `install ${program} on this machine`,
    });
  }
  if (r.timedOut) return new TransferError(direction, `${program} timed out`, stderr);
  const cause = findCause(stderr);
  const reason = classifySshStderr(stderr);
  const details = { causeLine: cause?.line, advice: cause?.advice };
  if (reason && (!cause || isConnectionCause(cause.kind))) {
    return new ConnectionError(label, reason, reasonMessage(reason, stderr), stderr, details);
  }
  if (!cause) return new TransferError(direction, describeFailure(program, r), stderr);
  const how = r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode}`;
  return new TransferError(direction, `${cause.summary}: ${cause.line} (${program} ${how})`, stderr, {
    ...details,
    kind: isConnectionCause(cause.kind) ? "unknown" : (cause.kind as TransferFailureKind),
  });
}

/** `host:path` for rsync/scp, bracketing IPv6 literals. */
export function remoteSpec(host: string, path: string): string {
  return `${host.includes(":") ? `[${host}]` : host}:${path}`;
}

/**
 * Run `use` with a private temporary file that lists `files` NUL-separated, each with a "./" prefix
 * (one process reads the whole list, whatever the names); the file is removed afterwards.
 */
export async function withFileList<T>(
  ctx: Pick<TransportContext, "tempFile">,
  prefix: "push" | "pull",
  files: readonly string[],
  use: (list: string) => Promise<T>,
): Promise<T> {
  const list = ctx.tempFile(prefix);
  await writeFile(list, nulList(files, "./"), { mode: 0o600 });
  try {
    return await use(list);
  } finally {
    await rm(list, { force: true });
  }
}

/**
 * Make `localRoot` (mode 0700 if new) and return a function to call once the pull is done: it makes
 * private (0700) the folders that the pull had to create for `files` (tar and rsync make them with
 * this process's umask). Nothing is created for files that do not come.
 */
export async function pullFolders(localRoot: string, files: readonly string[]): Promise<() => Promise<void>> {
  await mkdir(localRoot, { recursive: true, mode: 0o700 });
  const parents = new Set<string>();
  for (const f of files) {
    for (let d = dirname(f); d !== "." && d !== "/" && !parents.has(d); d = dirname(d)) parents.add(d);
  }
  const fresh = [...parents].filter((d) => !existsSync(join(localRoot, d)));
  return async () => {
    for (const d of fresh) await chmod(join(localRoot, d), 0o700).catch(() => undefined);
  };
}
