import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { DatasetLockedError } from "../shared/errors.js";

interface LockInfo {
  pid: number;
  host: string;
  since: string;
}

/**
 * An exclusive, crash-tolerant lock file. Created atomically with link(2) (fails if it exists), so
 * two processes can never both hold it. A lock left behind by a dead process on this host (kill -9)
 * is taken over; a live holder gives DatasetLockedError. A lock of this very process is re-entrant:
 * re-creating a Dataset in the same process (a notebook cell run twice) just takes it again.
 */
export class FileLock {
  private held = false;
  constructor(readonly file: string) {}

  acquire(): void {
    const me: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    const tmp = `${this.file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, JSON.stringify(me), { mode: 0o600 });
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          linkSync(tmp, this.file);
          this.held = true;
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const holder = readInfo(this.file);
        if (holder === undefined) continue; // vanished or half-written: try again
        if (holder.host === me.host && holder.pid === me.pid) {
          this.held = true;
          return;
        }
        if (holder.host !== me.host || isAlive(holder.pid)) {
          throw new DatasetLockedError(
            this.file,
            `process ${holder.pid} on ${holder.host} since ${holder.since}`,
          );
        }
        this.takeOverStale(holder);
      }
      throw new DatasetLockedError(this.file, "processes racing for it");
    } finally {
      try {
        unlinkSync(tmp);
      } catch {}
    }
  }

  /** Move a dead holder's lock aside, but only if it is still the one we judged dead. */
  private takeOverStale(stale: LockInfo): void {
    const aside = `${this.file}.stale-${process.pid}`;
    try {
      renameSync(this.file, aside);
    } catch {
      return;
    }
    const moved = readInfo(aside);
    if (moved && (moved.pid !== stale.pid || moved.host !== stale.host)) {
      // Someone else took it over in between: put theirs back.
      try {
        linkSync(aside, this.file);
      } catch {}
    }
    try {
      unlinkSync(aside);
    } catch {}
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    const holder = readInfo(this.file);
    if (holder && holder.pid === process.pid && holder.host === hostname()) {
      try {
        unlinkSync(this.file);
      } catch {}
    }
  }

  get isHeld(): boolean {
    return this.held;
  }
}

function readInfo(file: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(file, "utf8")) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
