/**
 * Spawning helpers shared by the ssh connection and its transports: run one program, feed its
 * stdin, collect its output, enforce a time limit. No shell is involved: argv goes straight to
 * execve, so no byte of an argument is re-interpreted locally.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Readable } from "node:stream";

export interface ProcessResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  /** The time limit expired and the process was killed. */
  timedOut: boolean;
  /** The program could not be started at all (ENOENT, EACCES...). */
  spawnError?: Error;
}

export interface RunOptions {
  /** Bytes written to stdin, then stdin is closed. */
  input?: string | Buffer;
  /** A stream piped into stdin after `input` (e.g. a tar archive). */
  inputStream?: Readable;
  /** Do not collect stdout: hand it to the caller (who pipes it elsewhere). */
  stdout?: "collect" | "pipe";
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called once with the child right after spawn (e.g. to pipe its stdout). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Grace period between SIGTERM and SIGKILL on timeout. */
const KILL_GRACE_MS = 1000;

export function runProcess(
  program: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    if (options.stdout !== "pipe") child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    let term: NodeJS.Timeout | undefined;
    let kill: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0) {
      term = setTimeout(() => {
        timedOut = true;
        child.kill("SIGTERM");
        kill = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
      }, options.timeoutMs);
    }
    child.on("error", (e) => {
      spawnError = e;
    });
    let done = false;
    const finish = (code: number | null, sig: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      clearTimeout(term);
      clearTimeout(kill);
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        exitCode: code,
        signal: sig,
        timedOut,
        spawnError,
      });
    };
    child.on("close", finish);
    child.on("exit", (code, sig) => {
      if (!timedOut) return;
      // A killed ssh multiplexing client has handed its pipes to the control master, which keeps
      // them open while the remote command runs: do not wait for them after a timeout.
      setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish(code, sig);
      }, 200).unref();
    });
    // The far side may exit before reading all of stdin: that is not our failure.
    child.stdin!.on("error", () => {});
    options.onSpawn?.(child);
    if (options.inputStream) {
      if (options.input !== undefined) child.stdin!.write(options.input);
      options.inputStream.on("error", () => child.stdin!.destroy());
      options.inputStream.pipe(child.stdin!);
    } else {
      child.stdin!.end(options.input ?? "");
    }
  });
}

/** One-line summary of a failed process for error messages. */
export function describeFailure(program: string, r: ProcessResult): string {
  if (r.spawnError) return `cannot run ${program}: ${r.spawnError.message}`;
  if (r.timedOut) return `${program} timed out`;
  const last = r.stderr.trim().split("\n").pop() ?? "";
  const how = r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode}`;
  return `${program} failed with ${how}${last ? `: ${last}` : ""}`;
}
