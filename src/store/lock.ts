import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { DatabaseError, DatasetLockedError, describeValue } from "../shared/errors.js";
import { shellQuote } from "../shared/quote.js";
import { writeTemp } from "./atomic.js";

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  /** The holder keeps the lock only for moments (a status refresh): others wait for it. */
  brief?: boolean;
}

/** Whether this process holds its locks only for moments (see holdLocksBriefly). */
let brief = false;
/** How long an opener waits for a holder that holds the lock only for moments, ms. */
const BRIEF_PATIENCE_MS = 10_000;

/**
 * Mark this process's locks as brief: held only for a refresh (the `remoterun status` command). A
 * process that finds the lock held by such a holder waits for it, up to 10 s, instead of failing.
 */
export function holdLocksBriefly(): void {
  brief = true;
}

type LockRead = { kind: "gone" } | { kind: "damaged"; text: string } | { kind: "ok"; info: LockInfo };

/**
 * An exclusive, crash-tolerant lock file. Created atomically with link(2) from a complete private
 * temp file (fails if the lock exists), so two processes can never both hold it and nobody ever sees
 * it half-written. A lock left behind on this host by a dead process (kill -9), or naming a pid that
 * now belongs to a process started after the lock was taken (a reused pid), is taken over; a live
 * holder gives DatasetLockedError. A lock file that is not what this class writes (empty, garbage)
 * is a DatabaseError saying how to remove it. A lock of this very process is re-entrant: re-creating
 * a Dataset in the same process (a notebook cell run twice) just takes it again.
 */
export class FileLock {
  private held = false;
  constructor(readonly file: string) {}

  acquire(): void {
    const me: LockInfo = {
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      ...(brief ? { brief: true } : {}),
    };
    const { tmp } = writeTemp(this.file, Buffer.from(JSON.stringify(me)));
    const patience = Date.now() + BRIEF_PATIENCE_MS;
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          linkSync(tmp, this.file);
          this.held = true;
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const read = readLock(this.file);
        if (read.kind === "gone") continue; // released in between: try again
        if (read.kind === "damaged") throw this.damaged(read.text);
        const holder = read.info;
        if (holder.host === me.host && holder.pid === me.pid) {
          this.held = true;
          return;
        }
        if (holder.brief && Date.now() < patience && (holder.host !== me.host || holds(holder))) {
          // A status refresh: it lets go in a moment.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
          attempt--;
          continue;
        }
        if (holder.host !== me.host || holds(holder)) {
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

  private damaged(text: string): DatabaseError {
    const what = text.trim() === "" ? "empty" : `holds ${describeValue(text)}`;
    return new DatabaseError(
      this.file,
      `the lock file is damaged (${what}; expected {"pid":…,"host":…,"since":…} as remoterun writes it), so it cannot tell whether a process holds this Dataset. If no process is using it, remove the lock file: rm ${shellQuote(this.file)}`,
    );
  }

  /** Move a stale lock aside, but only if it is still the one we judged stale. */
  private takeOverStale(stale: LockInfo): void {
    const aside = `${this.file}.stale-${randomBytes(8).toString("hex")}`;
    try {
      renameSync(this.file, aside);
    } catch {
      return;
    }
    const moved = readLock(aside);
    if (
      moved.kind !== "ok" ||
      moved.info.pid !== stale.pid ||
      moved.info.host !== stale.host ||
      moved.info.since !== stale.since
    ) {
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
    const read = readLock(this.file);
    if (read.kind === "ok" && read.info.pid === process.pid && read.info.host === hostname()) {
      try {
        unlinkSync(this.file);
      } catch {}
    }
  }

  get isHeld(): boolean {
    return this.held;
  }
}

function readLock(file: string): LockRead {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    // Not a file at all (a folder, say): damaged, not a lock on its way.
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? { kind: "gone" } : { kind: "damaged", text: `(not a readable file: ${code})` };
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    if (
      info !== null &&
      typeof info === "object" &&
      Number.isSafeInteger(info.pid) &&
      info.pid > 0 &&
      typeof info.host === "string" &&
      info.host !== "" &&
      typeof info.since === "string" &&
      !Number.isNaN(Date.parse(info.since)) &&
      (info.brief === undefined || typeof info.brief === "boolean")
    )
      return { kind: "ok", info };
  } catch {}
  return { kind: "damaged", text };
}

/** Whether the lock's process still holds it: alive, and not a newer process that reused the pid. */
function holds(info: LockInfo): boolean {
  if (!isAlive(info.pid)) return false;
  const started = startTime(info.pid);
  // The holder wrote `since` after it started. One second of slack covers the clock resolutions.
  return started === undefined || started <= Date.parse(info.since) + 1000;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** USER_HZ, the unit of /proc/<pid>/stat times (100 on every Linux architecture Node runs on). */
const CLOCK_TICKS = 100;

/**
 * When a process started (epoch ms). From /proc: its start (field 22 of /proc/<pid>/stat, in clock
 * ticks after boot) against the time since boot (/proc/uptime), so that the answer is on the same
 * wall clock as `since`. Without /proc (macOS), from `ps -o lstart=` (to the second). Undefined when
 * neither tells (then a live pid counts as the holder).
 */
export function startTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return startTimeFromPs(pid);
  }
  try {
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[22 - 3]);
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    if (!Number.isFinite(ticks) || !Number.isFinite(uptime)) return undefined;
    return Date.now() - (uptime - ticks / CLOCK_TICKS) * 1000;
  } catch {
    return undefined;
  }
}

function startTimeFromPs(pid: number): number | undefined {
  const ps = spawnSync("ps", ["-o", "lstart=", "-p", String(pid)], {
    encoding: "utf8",
    timeout: 5000,
    env: { ...process.env, LC_ALL: "C" },
  });
  // lstart is local time, to the second ("Sun Nov 29 19:30:07 2026"); `holds` allows for that.
  const t = ps.status === 0 ? Date.parse(ps.stdout.trim()) : Number.NaN;
  return Number.isNaN(t) ? undefined : t;
}
