/** Runner functions and checks shared by the tests that kill or cripple a run's remote master. */
import { expect } from "vitest";
import type { Dataset } from "../../src/dataset/index.js";
import { RunnerFailedError } from "../../src/shared/errors.js";

/** Runners that sleep `ms`, then return `{ i }` (or a string of `big` bytes). */
export const sleeper = async (args: { i: number; ms: number; big?: number }) => {
  await new Promise((r) => setTimeout(r, args.ms));
  return args.big ? "x".repeat(args.big) : { i: args.i };
};

/** Downstream runners that return what their upstream runner returned. */
export const follower = async (_args: { i: number }, ctx: { upstream?: unknown }) => ctx.upstream;

type Sleepers = Dataset<Parameters<typeof sleeper>[0], Awaited<ReturnType<typeof sleeper>>>;
type Followers = Dataset<Parameters<typeof follower>[0], unknown>;

/** What the helpers use of a Dataset, whatever its types. */
export interface Some {
  wait(o: { timeout: number; interval: number }): Promise<void>;
  isFinished(): Promise<boolean[]>;
  readonly runners: readonly { state: string; jobId?: string | undefined }[];
  readonly errors: readonly (RunnerFailedError | undefined)[];
}

/** Poll until every runner has started (its state line is there), or fail. */
export async function started(ds: Some): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    await ds.isFinished();
    if (ds.runners.every((r) => r.state === "started")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`runners did not start: ${ds.runners.map((r) => r.state).join(", ")}`);
}

/** The pid of the master of the first runner's submission (its job id is `pid:<n>`). */
export const masterPid = (ds: Some) => Number(/^pid:(\d+)$/.exec(ds.runners[0].jobId ?? "")?.[1]);

/** wait() resolves; nothing is left in flight; every runner failed with an error matching `cause`. */
export async function expectAllFailed(ds: Some, cause: RegExp): Promise<void> {
  await expect(ds.wait({ timeout: 60, interval: 0.2 })).resolves.toBeUndefined();
  expect(ds.runners.map((r) => r.state)).toEqual(ds.runners.map(() => "failed"));
  for (const e of ds.errors) {
    expect(e).toBeInstanceOf(RunnerFailedError);
    expect(e!.fullError).toMatch(cause);
    // The message (the error's last line) says why the runner failed, never a line of the log tail.
    expect(e!.message).toMatch(/did not finish|exited with code|gone|removed|killed/);
    if (process.env.RR_SHOW) console.log(e!.fullError);
  }
}

/** Makes `down` the downstream Dataset of `up`, appends runners 0 and 1 (sleeping `ms`) to both, runs `up`. */
export async function launchUpAndDown(up: Sleepers, down: Followers, ms: number): Promise<void> {
  up.setDownstream(down as never);
  up.appendRuns([0, 1].map((i) => ({ i, ms })));
  down.appendRuns([0, 1].map((i) => ({ i })));
  await up.run();
}

/** Runners 0 and 1 through `up` and then `down`, to the end: `down` returns what `up` did. Closes both. */
export async function runUpAndDown(up: Sleepers, down: Followers): Promise<void> {
  await launchUpAndDown(up, down, 0);
  await up.wait({ timeout: 30, interval: 0.1 });
  await down.wait({ timeout: 30, interval: 0.1 });
  await up.fetchResults();
  await down.fetchResults();
  expect(down.results).toEqual([{ i: 0 }, { i: 1 }]);
  await up.close();
  await down.close();
}

/**
 * Runs three runners that each return 150 kB on `ds`, whose remote folder is a tiny disk: wait()
 * returns, nothing is left in flight, and the runners that failed (at least one) say the disk is
 * full. Closes `ds`.
 */
export async function expectDiskFull(ds: Sleepers): Promise<void> {
  ds.appendRuns([0, 1, 2].map((i) => ({ i, ms: 300, big: 150_000 })));
  await ds.run();
  await expect(ds.wait({ timeout: 60, interval: 0.2 })).resolves.toBeUndefined();
  await ds.fetchResults();
  expect(ds.runners.filter((r) => r.state === "submitted" || r.state === "started")).toEqual([]);
  const failed = ds.runners.filter((r) => r.state === "failed");
  expect(failed.length).toBeGreaterThan(0);
  for (const r of failed) expect(r.errorText).toMatch(/No space left|ENOSPC|damaged/i);
  if (process.env.RR_SHOW) console.log(failed.map((r) => r.errorText));
  expect(failed.some((r) => /No space left on device/.test(r.errorText ?? ""))).toBe(true);
  await ds.close();
}
