import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, lstat, mkdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { transferKindOf } from "../shared/errno.js";
import { CommandError, TransferError } from "../shared/errors.js";
import { forEachLimited } from "../shared/limit.js";
import { checkRelativeFiles } from "./paths.js";
import { parseReport, reportScript } from "./report.js";
import type {
  Connection,
  ConnectionReport,
  ConnectionSpec,
  ConnectionStats,
  ExecOptions,
  ExecResult,
} from "./types.js";

export interface LocalConnectionOptions {
  /** Command that starts node (default: the node running this process). */
  node?: string;
  /** Default per-command time limit in ms (default 10 minutes). */
  commandTimeout?: number;
}

/** Runs everything on this machine: scripts through a local `bash -s`, files copied in-process. */
export class LocalConnection implements Connection {
  readonly kind = "local" as const;
  readonly label = "localhost";
  readonly stats: ConnectionStats = { launches: 0, execs: 0, pushes: 0, pulls: 0 };
  readonly nodeCommand: string;
  private readonly commandTimeout: number;

  constructor(options: LocalConnectionOptions = {}) {
    this.nodeCommand = options.node ?? process.execPath;
    this.commandTimeout = options.commandTimeout ?? 600_000;
  }

  exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.stats.launches++;
    this.stats.execs++;
    return runBash(script, { cwd: options.cwd, timeoutMs: options.timeoutMs ?? this.commandTimeout }).then(
      (r) => {
        if (r.exitCode !== 0 && !options.allowFailure) throw new CommandError(script, r, "local command");
        return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
      },
    );
  }

  async push(localRoot: string, remoteRoot: string, files: readonly string[]): Promise<void> {
    checkRelativeFiles(files);
    this.stats.pushes++;
    await copyAll(localRoot, remoteRoot, files, "push", false);
  }

  async pull(remoteRoot: string, localRoot: string, files: readonly string[]): Promise<void> {
    checkRelativeFiles(files);
    this.stats.pulls++;
    await copyAll(remoteRoot, localRoot, files, "pull", true, true);
  }

  async testConnection(): Promise<ConnectionReport> {
    const startedAt = Date.now();
    const t0 = performance.now();
    const r = await this.exec(reportScript(this.nodeCommand));
    const latencyMs = performance.now() - t0;
    const report = parseReport(r.stdout, { host: this.label, startedAt, endedAt: Date.now(), latencyMs });
    return { ...report, clockOffsetMs: 0 }; // same clock
  }

  async close(): Promise<void> {}

  toJSON(): ConnectionSpec {
    const spec: ConnectionSpec = { kind: "local", transport: "cp" };
    if (this.nodeCommand !== process.execPath) spec.node = this.nodeCommand;
    return spec;
  }
}

async function copyAll(
  fromRoot: string,
  toRoot: string,
  files: readonly string[],
  direction: "push" | "pull",
  skipMissing: boolean,
  pullLinks = false,
): Promise<void> {
  const made = new Set<string>();
  const from = resolve(fromRoot);
  const to = resolve(toRoot);
  await forEachLimited(files, 16, async (f) => {
    if (pullLinks) {
      // Pulled: a FIFO, socket or device is never opened (reading a FIFO would wait forever).
      const st = await lstat(join(from, f)).catch(() => undefined);
      if (st && !st.isFile() && !st.isSymbolicLink()) return;
    }
    const dest = join(to, f);
    const dir = dirname(dest);
    if (!made.has(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      made.add(dir);
    }
    try {
      // Copied beside, then renamed over: a process reading the file meanwhile (an extra file of an
      // earlier submission still going) sees the old contents or the new, never a half-written file.
      const part = `${dest}.part-${randomBytes(6).toString("hex")}`;
      try {
        // Pulled, a symbolic link stays a link (as rsync and tar bring it): its target is never read.
        const link = pullLinks ? await readlink(join(from, f)).catch(() => undefined) : undefined;
        if (link !== undefined) await symlink(link, part);
        else await copyFile(join(from, f), part);
        await rename(part, dest);
      } catch (e) {
        await rm(part, { force: true });
        throw e;
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (skipMissing && err.code === "ENOENT") return;
      throw new TransferError(direction, `${f}: ${err.message}`, "", {
        cause: err,
        causeLine: err.message,
        kind: transferKindOf(err),
      });
    }
  });
}

/** Run `bash -s` with the script on stdin. Exported for reuse by tests and the ssh module. */
export function runBash(
  script: string,
  options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult & { signal: string | null }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("bash", ["-s"], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) {
      timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    }
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolvePromise({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: code ?? 128,
        signal,
      });
    });
    child.stdin.on("error", () => {
      /* the script may exit before reading all of stdin */
    });
    child.stdin.end(script);
  });
}
