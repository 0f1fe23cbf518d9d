import { parseLogLine } from "../remote/wire.mjs";
import type { RunnerState } from "../runner/index.js";

export interface RunnerUpdate {
  state: RunnerState;
  time: number;
  /** Why a runner failed without writing its own error (its process died). */
  crash?: string;
}

/**
 * Read state lines, claim lines and the master's exit lines (formats in src/remote/wire.mjs) and
 * work out the newest state of each runner of the given submissions. Lines of other tokens are
 * ignored: freshness comes from the token, never from comparing clocks.
 *
 * A runner whose runtime process ended without a terminal line for it has crashed with that
 * process. Which process ran it: with fixed shares (scheduler groups, script Datasets), process
 * `slot % P`; with a shared pool (`pooled`), the processes whose claim lines name its slot (all of
 * them must have ended), or, when none claimed it, every process of the submission (once all have
 * ended, nothing is left to run it).
 */
export function parseStateLines(
  text: string,
  wanted: Map<string, { token: string; slot: number; pooled?: boolean; folder?: number }>,
  folderMarker = "@@folder",
): Map<string, RunnerUpdate> {
  const latest = new Map<string, RunnerUpdate>();
  // Exit and claim lines count per folder: the masters of one submission in two folders (runners
  // with different remoteDirs) share its token, and each numbers its lanes from 0.
  const exits = new Map<string, { p: number; codes: Map<number, number> }>();
  const claims = new Map<string, { k: number; ranges: [number, number][] }[]>();
  let folder = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${folderMarker}\t`)) {
      folder = Number(line.slice(folderMarker.length + 1));
      continue;
    }
    const l = parseLogLine(line);
    if (!l) continue;
    if (l.kind === "exit") {
      const key = `${folder}\0${l.token}`;
      const e = exits.get(key) ?? { p: l.p, codes: new Map() };
      e.codes.set(l.k, l.code);
      exits.set(key, e);
      continue;
    }
    if (l.kind === "claim") {
      const key = `${folder}\0${l.token}`;
      const c = claims.get(key) ?? [];
      c.push({ k: l.k, ranges: l.ranges });
      claims.set(key, c);
      continue;
    }
    const w = wanted.get(l.name);
    if (!w || w.token !== l.token) continue;
    const prev = latest.get(l.name);
    // A terminal line always wins over "started", whatever the order the lines were read in.
    if (prev && prev.state !== "started" && l.state === "started") continue;
    latest.set(l.name, { state: l.state, time: l.time });
  }
  for (const [name, w] of wanted) {
    const cur = latest.get(name);
    if (cur && cur.state !== "started") continue;
    const key = `${w.folder ?? 0}\0${w.token}`;
    const e = exits.get(key);
    if (!e) continue;
    let code: number | undefined;
    if (!w.pooled) code = e.codes.get(w.slot % e.p);
    else {
      const by = new Set<number>();
      for (const c of claims.get(key) ?? [])
        if (c.ranges.some(([a, b]) => a <= w.slot && w.slot <= b)) by.add(c.k);
      const lanes = by.size > 0 ? [...by] : Array.from({ length: e.p }, (_, k) => k);
      if (lanes.every((k) => e.codes.has(k)))
        code = lanes.map((k) => e.codes.get(k) as number).find((c) => c !== 0) ?? e.codes.get(lanes[0]);
    }
    if (code === undefined) continue;
    latest.set(name, {
      state: "failed",
      time: Date.now(),
      crash: `runtime process exited with code ${code} before ${name} finished (see its submission log)`,
    });
  }
  return latest;
}

/** What the status command found of the master process of one submission without a scheduler. */
export interface MasterLiveness {
  /** The submission's token. */
  token: string;
  /** The Dataset's remote folder of the submission. */
  dir: string;
  /** The master's pid, when known. */
  pid?: number;
  /** alive: it (or a process of its group) still runs; gone: no process left; unknown: no pid known. */
  state: "alive" | "gone" | "unknown";
  /** Whether the remote folder still exists. */
  folder: boolean;
  /** Why runs of this submission can no longer report, when the master is gone or the folder removed. */
  reason?: string;
  /** What the submission log ends with (last lines), when read. */
  logTail?: string;
}

/**
 * Parse the `@@live` lines of the status command (see rr_live in scripts.ts): folder index →
 * liveness, with a reason built from what was seen (folder removed, not writable, disk full, log).
 */
export function parseLiveLines(
  text: string,
  folders: readonly { dir: string; token: string }[],
  marker: string,
  diagMarker = "@@diag",
): Map<number, MasterLiveness> {
  const diag = new Map<string, string[]>();
  for (const line of text.split("\n"))
    if (line.startsWith(`${diagMarker}\t`)) {
      const f = line.split("\t");
      diag.set(f[1], f.slice(2));
    }
  const out = new Map<number, MasterLiveness>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${marker}\t`)) continue;
    const [, i, state, pid, folder] = line.split("\t");
    const f = folders[Number(i)];
    if (!f || (state !== "alive" && state !== "gone" && state !== "unknown")) continue;
    const [writable, free, log] = diag.get(i) ?? [];
    const tail = log && log !== "-" ? lastLines(Buffer.from(log, "base64").toString("utf8"), 6) : "";
    const live: MasterLiveness = {
      token: f.token,
      dir: f.dir,
      ...(/^\d+$/.test(pid ?? "") ? { pid: Number(pid) } : {}),
      state,
      folder: folder === "1",
      ...(tail ? { logTail: tail } : {}),
    };
    const causes: string[] = [];
    if (writable === "0")
      causes.push(`${f.dir} is not writable (Permission denied or Read-only file system)`);
    if (/^\d+$/.test(free ?? "") && Number(free) < 64)
      causes.push(`No space left on device: ${free} KB free where ${f.dir} is`);
    if (!live.folder) {
      live.state = "gone";
      live.reason = `folder removed: ${f.dir} no longer exists (No such file or directory), so its runs can no longer report`;
    } else if (state === "gone") {
      const who = live.pid ? `the master process (pid ${live.pid})` : "the master process";
      live.reason = [
        `${who} of submission ${f.token} is gone (killed, or it could not write the end of its runs)`,
        ...causes,
      ].join("; ");
    } else if (causes.length) live.reason = causes.join("; ");
    out.set(Number(i), live);
  }
  return out;
}

/** The last `n` non-empty lines of a text. */
function lastLines(text: string, n: number): string {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "")
    .slice(-n)
    .join("\n");
}
