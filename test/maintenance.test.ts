/**
 * Maintenance operations of a Dataset on localhost — retryFailed, resetRuns, removeRun, wipeRuns,
 * wipeLocal, wipeRemote, hardReset — and, for every one of them, that `dryRun: true` says what it
 * would do and changes nothing: not the runners, not a byte of the database, not a file.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Dataset, type DatasetOptions, InvalidArgumentError, RunnerFailedError } from "../src/index.js";
import { isRunning, masterEnded } from "./helpers/processes.js";
import { tree } from "./helpers/tree.js";
import { fromSource, SOURCES } from "./lifecycle/functions.js";

/** Fails while its `marker` file is absent; counts its calls per x in the folder it runs in (remoteDir). */
const MARKED = `async ({ x, marker }) => {
  const fs = await import("node:fs");
  fs.appendFileSync("calls-" + x, "1");
  if (marker && !fs.existsSync(marker)) throw new Error("marker " + marker + " is missing");
  return x * 10;
}`;

const POLL = { interval: 0.05, timeout: 60 };
const scratch: string[] = [];
const open: Dataset[] = [];
afterAll(async () => {
  for (const ds of open) await ds.close().catch(() => {});
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

let seq = 0;
function scene(source: string = SOURCES.double) {
  const tmp = mkdtempSync(join(tmpdir(), "rr-maint-"));
  scratch.push(tmp);
  const name = `maint${++seq}`;
  const dirs = { dbDir: tmp, localDir: join(tmp, "local"), remoteDir: join(tmp, "remote") };
  const messages: string[] = [];
  const make = (options: DatasetOptions = {}) => {
    const ds = new Dataset(fromSource(source), {
      name,
      ...dirs,
      logger: (m: string) => messages.push(m),
      ...options,
    });
    open.push(ds);
    return ds;
  };
  return { tmp, dirs, messages, make };
}

/** Run every runner to the end and fetch; then let the master processes exit (they write last). */
async function runAll(ds: Dataset): Promise<void> {
  await ds.run();
  await ds.wait(POLL);
  await ds.fetchResults();
  await settle(ds);
}

/** A new Dataset (of SOURCES.double) whose runs of these `x` all ran; its staging and remote folders. */
async function ranScene(xs: number[]) {
  const s = scene();
  const ds = s.make({ skip: false });
  ds.appendRuns(xs.map((x) => ({ x })));
  await runAll(ds);
  return { s, ds, staging: join(s.dirs.localDir, ds.folder), remote: join(s.dirs.remoteDir, ds.folder) };
}

/** Wait until the masters of the Dataset's submissions have ended (their last files written). */
async function settle(ds: Dataset): Promise<void> {
  for (const jobId of new Set(ds.runners.map((r) => r.jobId))) await masterEnded(jobId);
}

function runnersOf(ds: Dataset) {
  return ds.runners.map((r) => ({
    index: r.index,
    name: r.name,
    identity: r.identity,
    args: r.args,
    runArgs: { ...r.runArgs },
    state: r.state,
    stateTime: r.stateTime,
    token: r.token,
    jobId: r.jobId,
    result: r.result instanceof RunnerFailedError ? { failed: r.result.fullError } : r.result,
    resultText: r.resultText,
    errorText: r.errorText,
  }));
}

/** Everything a dry run must leave as it was. */
function everything(ds: Dataset, tmp: string) {
  return {
    runners: runnersOf(ds),
    results: ds.results.map((v) => (v instanceof RunnerFailedError ? v.fullError : v)),
    db: readFileSync(`${ds.dbFile}.json`).toString("hex"),
    journal: existsSync(`${ds.dbFile}.journal`) ? readFileSync(`${ds.dbFile}.journal`).toString("hex") : null,
    files: tree(tmp),
  };
}

/** Runs `op` as a dry run: it must log `dry run:` lines and change nothing. Returns its result. */
async function dry<T>(s: ReturnType<typeof scene>, ds: Dataset, op: () => T | Promise<T>): Promise<T> {
  const before = everything(ds, s.tmp);
  const logged = s.messages.length;
  const out = await op();
  const said = s.messages.slice(logged);
  expect(said.length).toBeGreaterThan(0);
  for (const m of said) expect(m).toMatch(/^dry run: would /);
  expect(everything(ds, s.tmp)).toEqual(before);
  return out;
}

const names = (ds: Dataset) => ds.runners.map((r) => r.name);

describe("maintenance operations", () => {
  it("retryFailed resubmits only the failed runners; once the input is fixed they succeed", async () => {
    const s = scene(MARKED);
    const marker = join(s.tmp, "marker");
    const ds = s.make({ skip: false });
    ds.appendRuns([{ x: 1 }, { x: 2, marker }, { x: 3 }]);
    await runAll(ds);
    expect(ds.results[0]).toBe(10);
    expect(ds.results[1]).toBeInstanceOf(RunnerFailedError);
    expect((ds.results[1] as RunnerFailedError).message).toContain("is missing");
    expect(ds.results[2]).toBe(30);
    const tokens = ds.runners.map((r) => r.token);

    const plan = await dry(s, ds, () => ds.retryFailed({ dryRun: true }));
    expect(plan).toEqual({ submitted: ["runner-1"] });
    expect(s.messages.at(-1)).toBe("dry run: would resubmit runner-1");

    writeFileSync(marker, "fixed");
    expect(await ds.retryFailed()).toEqual({ submitted: ["runner-1"] });
    expect(ds.runners[0].token).toBe(tokens[0]);
    expect(ds.runners[2].token).toBe(tokens[2]);
    expect(ds.runners[1].token).not.toBe(tokens[1]);
    await ds.wait(POLL);
    await ds.fetchResults();
    expect(ds.results).toEqual([10, 20, 30]);
    expect(ds.runners.map((r) => r.state)).toEqual(["satisfied", "satisfied", "satisfied"]);
    // The runners that had succeeded ran once; the fixed one twice.
    // (Runs take place in remoteDir itself.)
    const calls = (x: number) => readFileSync(join(s.dirs.remoteDir, `calls-${x}`), "utf8").length;
    expect([calls(1), calls(2), calls(3)]).toEqual([1, 2, 1]);

    await settle(ds);
    expect(await ds.retryFailed()).toEqual({ submitted: [] });
    // Nothing failed: a dry run has nothing to say and changes nothing either.
    const before = everything(ds, s.tmp);
    expect(await ds.retryFailed({ dryRun: true })).toEqual({ submitted: [] });
    expect(everything(ds, s.tmp)).toEqual(before);
  });

  it("resetRuns: state reset, results cleared (also in the database); the next run() submits them again", async () => {
    const { s, ds } = await ranScene([1, 2, 3]);
    expect(ds.results).toEqual([2, 4, 6]);

    const plan = await dry(s, ds, () => ds.resetRuns({ dryRun: true }));
    expect(plan).toEqual(["runner-0", "runner-1", "runner-2"]);
    expect(s.messages.slice(-3)).toEqual([
      "dry run: would reset runner-0",
      "dry run: would reset runner-1",
      "dry run: would reset runner-2",
    ]);

    expect(ds.resetRuns()).toEqual(["runner-0", "runner-1", "runner-2"]);
    expect(ds.runners.map((r) => r.state)).toEqual(["reset", "reset", "reset"]);
    expect(ds.results).toEqual([undefined, undefined, undefined]);
    expect(ds.runners.every((r) => r.token === undefined && r.resultText === undefined)).toBe(true);
    await ds.close();

    const again = s.make();
    expect(again.runners.map((r) => r.state)).toEqual(["reset", "reset", "reset"]);
    expect(again.results).toEqual([undefined, undefined, undefined]);
    expect(again.resetRuns()).toEqual([]);
    const ran = await again.run();
    expect(ran.submitted).toEqual(["runner-0", "runner-1", "runner-2"]);
    await again.wait(POLL);
    expect(await again.fetchResults()).toEqual([2, 4, 6]);
    await settle(again);
  });

  it("removeRun by position and by name; a bad one is an InvalidArgumentError", async () => {
    const s = scene();
    const ds = s.make({ skip: false });
    ds.appendRun({ x: 1 });
    ds.appendRun({ x: 2 });
    ds.appendRun({ x: 3 }, { name: "special" });
    ds.appendRun({ x: 4 });
    await runAll(ds);
    expect(names(ds)).toEqual(["runner-0", "runner-1", "special", "runner-3"]);

    expect(await dry(s, ds, () => ds.removeRun(1, { dryRun: true }))).toBe("runner-1");
    expect(s.messages.at(-1)).toBe("dry run: would remove runner-1");
    expect(await dry(s, ds, () => ds.removeRun("special", { dryRun: true }))).toBe("special");

    for (const bad of [4, -1, 1.5, "nope"]) {
      expect(() => ds.removeRun(bad)).toThrow(InvalidArgumentError);
      expect(() => ds.removeRun(bad, { dryRun: true })).toThrow(InvalidArgumentError);
    }
    expect(names(ds)).toHaveLength(4);

    expect(ds.removeRun(1)).toBe("runner-1");
    expect(names(ds)).toEqual(["runner-0", "special", "runner-3"]);
    expect(ds.removeRun("special")).toBe("special");
    expect(names(ds)).toEqual(["runner-0", "runner-3"]);
    expect(ds.results).toEqual([2, 8]);
    expect(() => ds.removeRun("special")).toThrow(InvalidArgumentError);
    await ds.close();

    const again = s.make();
    expect(names(again)).toEqual(["runner-0", "runner-3"]);
    expect(again.results).toEqual([2, 8]);
    // A removed run's args are free again: appending them adds a new runner.
    const back = again.appendRun({ x: 2 });
    expect(back.name).not.toBe("runner-0");
    expect(names(again)).toHaveLength(3);
  });

  it("wipeRuns removes every runner (also from the database) and leaves the files", async () => {
    const { s, ds } = await ranScene([1, 2]);

    expect(await dry(s, ds, () => ds.wipeRuns({ dryRun: true }))).toEqual(["runner-0", "runner-1"]);
    expect(s.messages.slice(-2)).toEqual([
      "dry run: would remove runner-0",
      "dry run: would remove runner-1",
    ]);

    const files = Object.keys(tree(s.tmp)).filter((f) => !f.includes(".remoterun."));
    expect(ds.wipeRuns()).toEqual(["runner-0", "runner-1"]);
    expect(ds.runners).toEqual([]);
    expect(ds.results).toEqual([]);
    expect(Object.keys(tree(s.tmp)).filter((f) => !f.includes(".remoterun."))).toEqual(files);
    await ds.close();
    expect(s.make().runners).toEqual([]);
  });

  it("wipeLocal deletes the staging folder only", async () => {
    const { s, ds, staging, remote } = await ranScene([1, 2]);
    expect(existsSync(staging) && existsSync(remote)).toBe(true);

    expect(await dry(s, ds, () => ds.wipeLocal({ dryRun: true }))).toEqual([staging]);
    expect(s.messages.at(-1)).toBe(`dry run: would delete ${staging}`);

    const runners = runnersOf(ds);
    expect(ds.wipeLocal()).toEqual([staging]);
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(s.dirs.localDir)).toBe(true);
    expect(existsSync(remote)).toBe(true);
    expect(runnersOf(ds)).toEqual(runners);
    expect(ds.wipeLocal()).toEqual([]);
  });

  it("wipeRemote deletes the remote folder only", async () => {
    const { s, ds, staging, remote } = await ranScene([1, 2]);

    expect(await dry(s, ds, () => ds.wipeRemote({ dryRun: true }))).toEqual([remote]);
    expect(s.messages.at(-1)).toBe(`dry run: would delete localhost:${remote}`);

    const runners = runnersOf(ds);
    expect(await ds.wipeRemote()).toEqual([remote]);
    expect(existsSync(remote)).toBe(false);
    expect(existsSync(s.dirs.remoteDir)).toBe(true);
    expect(existsSync(staging)).toBe(true);
    expect(runnersOf(ds)).toEqual(runners);
    expect(ds.results).toEqual([2, 4]);
  });

  it("hardReset deletes the folders, the runners and the database files", async () => {
    const { s, ds, staging, remote } = await ranScene([1, 2]);

    await dry(s, ds, () => ds.hardReset({ dryRun: true }));
    const said = s.messages.filter((m) => m.startsWith("dry run:"));
    expect(said).toEqual([
      `dry run: would delete ${staging}`,
      `dry run: would delete localhost:${remote}`,
      "dry run: would remove runner-0",
      "dry run: would remove runner-1",
      `dry run: would delete the database ${ds.dbFile}.json`,
    ]);

    const dbFiles = () => readdirSync(s.tmp).filter((f) => f.includes(".remoterun"));
    expect(dbFiles().sort()).toEqual([
      `${ds.folder}.remoterun.journal`,
      `${ds.folder}.remoterun.json`,
      `${ds.folder}.remoterun.lock`,
    ]);
    await ds.hardReset();
    expect(dbFiles()).toEqual([]);
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(remote)).toBe(false);
    expect(ds.runners).toEqual([]);

    const fresh = s.make();
    expect(fresh.restored).toBe(false);
    expect(fresh.runners).toEqual([]);
  });

  it("hardReset cancels the runners in flight first: no orphan keeps running", async () => {
    const s = scene(SOURCES.long);
    const ds = s.make({ skip: false });
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    await ds.run();
    const pid = Number(/^pid:(\d+)$/.exec(ds.runners[0].jobId ?? "")?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(isRunning(pid)).toBe(true);
    await dry(s, ds, () => ds.hardReset({ dryRun: true }));
    expect(s.messages).toContain("dry run: would cancel 2 runner(s) in flight first");
    expect(isRunning(pid)).toBe(true);
    await ds.hardReset();
    await masterEnded(`pid:${pid}`);
    expect(isRunning(pid)).toBe(false);
    expect(existsSync(join(s.dirs.remoteDir, ds.folder))).toBe(false);
  });

  it("skip: false says that it deleted the earlier database", async () => {
    const { s, ds } = await ranScene([1]);
    await ds.close();
    const again = s.make({ skip: false });
    expect(again.restored).toBe(false);
    expect(s.messages.some((m) => /^skip: false: the earlier database of .* was deleted/.test(m))).toBe(true);
    await again.close();
    const n = s.messages.length;
    s.make({ skip: false }); // nothing was recorded in between: a fresh database is still deleted and said
    expect(s.messages.slice(n).some((m) => m.startsWith("skip: false:"))).toBe(true);
  });

  it("dryRun must be a boolean, and a dry run before anything ran changes nothing either", async () => {
    const s = scene();
    const ds = s.make({ skip: false });
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    const bad = { dryRun: "yes" } as unknown as { dryRun: boolean };
    expect(() => ds.resetRuns(bad)).toThrow(InvalidArgumentError);
    expect(() => ds.removeRun(0, bad)).toThrow(InvalidArgumentError);
    expect(() => ds.wipeRuns(bad)).toThrow(InvalidArgumentError);
    expect(() => ds.wipeLocal(bad)).toThrow(InvalidArgumentError);
    await expect(ds.wipeRemote(bad)).rejects.toThrow(InvalidArgumentError);
    await expect(ds.hardReset(bad)).rejects.toThrow(InvalidArgumentError);
    await expect(ds.retryFailed(bad)).rejects.toThrow(InvalidArgumentError);
    expect(names(ds)).toEqual(["runner-0", "runner-1"]);

    await dry(s, ds, () => ds.wipeRuns({ dryRun: true }));
    await dry(s, ds, () => ds.removeRun(0, { dryRun: true }));
    await dry(s, ds, () => ds.wipeRemote({ dryRun: true }));
    await dry(s, ds, () => ds.hardReset({ dryRun: true }));
    expect(ds.resetRuns({ dryRun: true })).toEqual([]);
    expect(existsSync(s.dirs.localDir)).toBe(false);
  });
});
