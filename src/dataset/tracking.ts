import { isInFlightState, type Runner } from "../runner/index.js";
import { InvalidArgumentError, RunnerFailedError, WaitTimeoutError } from "../shared/errors.js";
import { checkOptionKeys } from "../shared/suggest.js";
import type { DatasetInternals } from "./internals.js";
import { WAIT_KEYS, type WaitOptions } from "./options.js";
import { baseJobId } from "./plans.js";
import { DIAG_MARKER, FOLDER_MARKER, LIVE_MARKER, STATUS_MARKER, statusScript } from "./scripts.js";
import { type MasterLiveness, parseLiveLines, parseStateLines } from "./status.js";

/** How long a job the scheduler reports finished may stay without its runner's own final line. */
export const UNREPORTED_GRACE_MS = 20_000;

export function markFailed<Args extends object, Result>(r: Runner<Args, Result>, why: string): void {
  r.setState("failed");
  r.errorText = why;
  r.result = new RunnerFailedError(r.name, why);
}

/**
 * A failure's error text with what the status command saw of its submission, like a traceback: the
 * submission log's tail first, the cause on the last line (the line a RunnerFailedError's message
 * shows).
 */
function withCause(message: string, l: MasterLiveness | undefined, addReason = true): string {
  if (!l) return message;
  const cause = [message, ...(addReason && l.reason ? [l.reason] : [])].join("; ").replace(/\s*\n\s*/g, " ");
  return l.logTail ? `submission log (${l.dir}) ends with:\n${l.logTail}\n${cause}` : cause;
}

/**
 * Update every in-flight runner in one remote command: the scheduler's view of the jobs (when there
 * is a scheduler) and the state lines the runs wrote. The runs' own lines win; the scheduler's view
 * only turns runners whose job died without a word (timeout, cancel, node failure) into failures.
 */
export async function refresh<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
): Promise<void> {
  const folder = ds.folder;
  const inFlight = ds.runners.filter((r) => isInFlightState(r.state) && r.token);
  if (inFlight.length === 0) {
    ds.liveness?.clear();
    return;
  }
  const wanted = new Map<string, { token: string; slot: number; pooled?: boolean; folder: number }>();
  const folders = new Map<string, { dir: string; token: string; at: number; pid?: string }>();
  const folderOf = new Map<string, string>();
  for (const r of inFlight) {
    const p = ds.placements.get(r.name);
    if (!p) continue;
    const dir = `${p.remoteRoot}/${folder}`;
    const key = `${dir}\0${r.token}`;
    const pid = /^pid:(\d+)$/.exec(r.jobId ?? "")?.[1];
    const f = folders.get(key);
    // The folder's position in the status command, whose output marks each folder's lines.
    if (!f) folders.set(key, { dir, token: r.token!, at: folders.size, ...(pid ? { pid } : {}) });
    else if (pid && !f.pid) f.pid = pid;
    folderOf.set(r.name, key);
    const at = (folders.get(key) as { at: number }).at;
    wanted.set(r.name, { token: r.token!, slot: p.slot, folder: at, ...(p.pooled ? { pooled: true } : {}) });
  }
  const scheduler = ds.scheduler;
  const jobIds = scheduler
    ? [...new Set(inFlight.map((r) => baseJobId(r.jobId)).filter((id) => id !== undefined))]
    : [];
  const list = [...folders.values()];
  const res = await ds.connection.exec(
    statusScript(list, jobIds.length ? scheduler!.statusScript(jobIds) : undefined, !scheduler),
  );
  const cut = res.stdout.indexOf(STATUS_MARKER);
  const schedulerView = scheduler && cut > 0 ? scheduler.parseStatus(res.stdout.slice(0, cut)) : new Map();
  const lines = cut >= 0 ? res.stdout.slice(cut + STATUS_MARKER.length) : res.stdout;
  // Without a scheduler, the status command says whether each submission's master still runs.
  const live = new Map<string, MasterLiveness>();
  if (!scheduler) {
    const found = parseLiveLines(lines, list, LIVE_MARKER, DIAG_MARKER);
    list.forEach((f, i) => {
      const l = found.get(i);
      if (l) live.set(`${f.dir}\0${f.token}`, l);
    });
    ds.liveness?.clear();
    for (const [key, l] of live) ds.liveness?.set(key, l);
  }
  const updates = parseStateLines(lines, wanted, FOLDER_MARKER);
  const changed: Runner<Args, Result>[] = [];
  for (const r of inFlight) {
    const u = updates.get(r.name);
    const l = live.get(folderOf.get(r.name) ?? "");
    if (u && u.state !== r.state) {
      r.setState(u.state, u.time);
      if (u.crash) markFailed(r, withCause(u.crash, l));
      changed.push(r);
    }
    // Its master is gone (or its folder removed) and it has no final line: it will never have one.
    if (isInFlightState(r.state) && l && l.state === "gone") {
      markFailed(
        r,
        withCause(`${r.name} did not finish: ${l.reason ?? "its master process is gone"}`, l, false),
      );
      changed.push(r);
    }
    if (!isInFlightState(r.state)) ds.unreported.delete(r.name);
    if (!isInFlightState(r.state) || !r.jobId) continue;
    const job = schedulerView.get(r.jobId) ?? schedulerView.get(baseJobId(r.jobId) ?? "");
    if (!job) continue;
    if (job.state === "failed") {
      const why = /Dependency/.test(job.reason ?? "")
        ? `upstream runner did not succeed, so the scheduler will never start this job (${job.reason})`
        : `job ${r.jobId} ended by the scheduler: ${job.reason ?? job.raw}`;
      markFailed(r, why);
      changed.push(r);
    } else if (job.state === "completed") {
      // The scheduler's view was read before the state lines, so a finished job has written its
      // lines by then — unless a shared filesystem has not shown them to this node yet (NFS caches
      // attributes for seconds). Only a job silent for a grace period counts as failed.
      const since = ds.unreported.get(r.name) ?? Date.now();
      ds.unreported.set(r.name, since);
      if (Date.now() - since >= UNREPORTED_GRACE_MS) {
        ds.unreported.delete(r.name);
        markFailed(r, `job ${r.jobId} ended (${job.raw}) without the runner reporting a result`);
        changed.push(r);
      }
    } else if (job.state === "running" && r.state === "submitted") {
      r.setState("started");
      changed.push(r);
    }
  }
  ds.saveRunners([...new Set(changed)]);
  const never =
    inFlight.length && jobIds.length
      ? [...new Set(changed.filter((r) => /never start/.test(r.errorText ?? "")).map((r) => r.jobId!))]
      : [];
  // Jobs that wait for a dependency that can never be met would sit in the queue forever.
  if (never.length && scheduler)
    await ds.connection.exec(scheduler.cancelScript(never), { allowFailure: true });
}

/**
 * Stop every in-flight runner: one scheduler cancel (or one kill of the master process groups)
 * for all of them. Cancelled runners are marked failed. Returns the names cancelled.
 */
export async function cancel<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
): Promise<string[]> {
  await refresh(ds);
  const inFlight = ds.runners.filter((r) => isInFlightState(r.state));
  if (inFlight.length === 0) return [];
  const scheduler = ds.scheduler;
  const ids = [...new Set(inFlight.map((r) => baseJobId(r.jobId)).filter((id) => id !== undefined))];
  let script: string;
  if (scheduler) script = scheduler.cancelScript(ids);
  else {
    const pids = ids.map((id) => id.replace(/^pid:/, "")).filter((p) => /^\d+$/.test(p));
    script = `for p in ${pids.join(" ")}; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done; true`;
  }
  await ds.connection.exec(script, { allowFailure: true });
  for (const r of inFlight) markFailed(r, "cancelled");
  ds.saveRunners(inFlight);
  ds.log(1, `cancelled ${inFlight.length} runner(s)`);
  return inFlight.map((r) => r.name);
}

/**
 * Poll `finished` until it says yes, backing off from 20 ms to `interval` seconds; after `timeout`
 * seconds, WaitTimeoutError naming the runners still `pending`.
 */
export async function waitUntil(
  finished: () => Promise<boolean>,
  pending: () => string[],
  options: WaitOptions,
): Promise<void> {
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new InvalidArgumentError("wait options", options, "an object { interval?, timeout?, progress? }");
  checkOptionKeys("wait()", options, { own: WAIT_KEYS, runArgs: false });
  const interval = options.interval ?? 1;
  const timeout = options.timeout;
  if (typeof interval !== "number" || !(interval > 0))
    throw new InvalidArgumentError("wait interval", interval, "a positive number of seconds");
  if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
    throw new InvalidArgumentError("wait timeout", timeout, "a number of seconds >= 0");
  }
  if (options.progress !== undefined && typeof options.progress !== "boolean")
    throw new InvalidArgumentError("wait progress", options.progress, "true or false");
  const t0 = Date.now();
  let pause = Math.min(0.02, interval);
  for (;;) {
    if (await finished()) return;
    const elapsed = (Date.now() - t0) / 1000;
    if (timeout !== undefined && elapsed >= timeout) throw new WaitTimeoutError(timeout, pending());
    const left = timeout === undefined ? pause : Math.min(pause, Math.max(0, timeout - elapsed));
    await new Promise((res) => setTimeout(res, left * 1000));
    pause = Math.min(interval, pause * 2);
  }
}
