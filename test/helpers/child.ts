/** Child node processes driven by a JSON config, with a way to wait for the lines they print. */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./dist.js";

export interface Child {
  proc: ChildProcess;
  /** Everything printed on stdout so far, line by line. */
  lines: string[];
  stderr: () => string;
  /** Resolves with the first stdout line that starts with `prefix` (already printed or to come). */
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL and wait until the process is gone. */
  kill9(): Promise<void>;
}

export function spawnFixture(fixture: string, config: unknown): Child {
  const proc = spawn(process.execPath, [join(ROOT, "test/fixtures", fixture), JSON.stringify(config)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let err = "";
  let partial = "";
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) {
        if (l.startsWith(w.prefix)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (c: string) => {
    err += c;
  });
  // "exit" can come before the last stdout chunk has been read; "close" waits for the pipes, unless a
  // grandchild still holds them, hence the short grace after "exit".
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.on("close", (code, signal) => res({ code, signal }));
    proc.on("exit", (code, signal) => setTimeout(() => res({ code, signal }), 500).unref());
  });
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    waitFor(prefix, timeoutMs = 30_000) {
      const hit = lines.find((l) => l.startsWith(prefix));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`child never printed "${prefix}"; stdout: ${lines.join(" | ")}; stderr: ${err}`),
            ),
          timeoutMs,
        );
        const w = {
          prefix,
          resolve: (l: string) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        exited.then(({ code, signal }) => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            reject(
              new Error(
                `child exited (${code ?? signal}) before printing "${prefix}"; stdout: ${lines.join(" | ")}; stderr: ${err}`,
              ),
            );
          }
        });
      });
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}
