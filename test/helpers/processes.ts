import { readFileSync } from "node:fs";

/** Whether a process runs (a zombie, dead but not reaped by an init that does not reap, does not). */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * Wait (at most `ms`) until the master of a submission without a scheduler has ended: its lanes
 * append their exit lines a moment after their runners' last lines, so a test that compares file
 * trees starts after that. `jobId` is a runner's `pid:N` (anything else: nothing to wait for).
 */
export async function masterEnded(jobId: string | undefined, ms = 10_000): Promise<void> {
  const pid = Number(/^pid:(\d+)$/.exec(jobId ?? "")?.[1]);
  if (!pid) return;
  for (const t0 = Date.now(); isRunning(pid) && Date.now() - t0 < ms; )
    await new Promise((r) => setTimeout(r, 50));
}
