/** What a file transport (rsync, scp/tar) needs from its SSH connection, and how it reports failure. */
import { existsSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConnectionError, TransferError } from "../shared/errors.js";
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
 * Turn a failed transfer process into the right error: a ConnectionError when ssh says the
 * connection is the problem (so that callers can retry), a TransferError otherwise.
 */
export function transferFailure(
  direction: "push" | "pull",
  program: string,
  label: string,
  r: ProcessResult,
): ConnectionError | TransferError {
  if (r.timedOut) return new TransferError(direction, `${program} timed out`, r.stderr);
  const reason = r.spawnError ? null : classifySshStderr(r.stderr);
  if (reason) return new ConnectionError(label, reason, reasonMessage(reason, r.stderr), r.stderr);
  return new TransferError(direction, describeFailure(program, r), r.stderr);
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
