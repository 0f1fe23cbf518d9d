/**
 * The private folder of one SSH connection: it holds the control-master socket and the short-lived
 * file lists of transfers. Made on first use with mode 0700 under a short path (unix socket paths
 * are limited to ~104 bytes), removed by close(). Folders of connections that were never closed
 * are removed when the process exits (best effort; the master itself exits after ControlPersist).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Longest base folder we accept before falling back to /tmp (socket path ≈ base + 12 chars). */
const MAX_BASE = 70;

interface Live {
  dir: string;
  /** argv (after `ssh`) that stops the master, or null. */
  exitArgs: string[] | null;
}

const live = new Set<Live>();
let hooked = false;

function onExit(): void {
  for (const l of live) {
    if (l.exitArgs && existsSync(join(l.dir, "cm"))) {
      spawnSync("ssh", l.exitArgs, { stdio: "ignore", timeout: 2000 });
    }
    rmSync(l.dir, { recursive: true, force: true });
  }
  live.clear();
}

export class ControlDir {
  private entry: Live | null = null;
  private counter = 0;

  /** The folder, made on first call. */
  get path(): string {
    if (!this.entry) {
      const base = tmpdir().length <= MAX_BASE ? tmpdir() : "/tmp";
      this.entry = { dir: mkdtempSync(join(base, "rr-")), exitArgs: null };
      live.add(this.entry);
      if (!hooked) {
        hooked = true;
        process.once("exit", onExit);
      }
    }
    return this.entry.dir;
  }

  get exists(): boolean {
    return this.entry !== null;
  }

  get socket(): string {
    return join(this.path, "cm");
  }

  /** True when a control master is listening (or its socket is still there). */
  get hasSocket(): boolean {
    return this.entry !== null && existsSync(join(this.entry.dir, "cm"));
  }

  /** Remember how to stop the master if the process exits without close(). */
  setExitArgs(args: string[]): void {
    if (this.entry) this.entry.exitArgs = args;
  }

  /** A fresh file name inside the folder (for transfer lists). */
  tempFile(prefix: string): string {
    return join(this.path, `${prefix}-${++this.counter}`);
  }

  remove(): void {
    if (!this.entry) return;
    rmSync(this.entry.dir, { recursive: true, force: true });
    live.delete(this.entry);
    this.entry = null;
  }
}
