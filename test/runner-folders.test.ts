/**
 * Runners of one Dataset in different folders: a runner's own localDir or remoteDir (or both). Each
 * pair of folders is its own submission, so no submission's files overwrite another's: every runner
 * runs once and gets its own result, for function and script Datasets.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Dataset, DatasetClosedError, InvalidArgumentError } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "rr-folders-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const wait = { interval: 0.05, timeout: 60 };
let seq = 0;

/** Appends its n to a side file (one line per execution) and returns n + 1. */
const counted = new Function(
  "args",
  'return import("node:fs").then((fs) => { fs.appendFileSync(args.side, args.n + "\\n"); return args.n + 1; });',
) as (args: { n: number; side: string }) => Promise<number>;

const executions = (side: string) =>
  readFileSync(side, "utf8")
    .split("\n")
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);

describe("runners with folders of their own", () => {
  it.each([
    ["remoteDir", (d: string) => ({ remoteDir: join(d, "far-own") })],
    ["localDir", (d: string) => ({ localDir: join(d, "stage-own") })],
    ["both", (d: string) => ({ localDir: join(d, "stage-own"), remoteDir: join(d, "far-own") })],
  ] as const)("own %s: every runner runs once, with its own result", async (_what, own) => {
    const dir = join(root, `f${++seq}`);
    const side = join(dir, "side.txt");
    const ds = new Dataset(counted, {
      name: "own",
      skip: false,
      verbose: 0,
      dbDir: dir,
      localDir: join(dir, "stage"),
      remoteDir: join(dir, "far"),
    });
    ds.appendRun({ n: 1, side });
    ds.appendRun({ n: 2, side }, own(dir));
    ds.appendRun({ n: 3, side });
    ds.appendRun({ n: 4, side }, own(dir));
    const { submitted } = await ds.run();
    expect(submitted).toEqual(["runner-0", "runner-1", "runner-2", "runner-3"]);
    await ds.wait(wait);
    expect(await ds.fetchResults()).toEqual([2, 3, 4, 5]);
    expect(executions(side)).toEqual([1, 2, 3, 4]);
    // Nothing is left to run, and nothing runs again.
    expect((await ds.run()).submitted).toEqual([]);
    expect(executions(side)).toEqual([1, 2, 3, 4]);
    await ds.close();
  });

  it("a script Dataset with a runner's own remoteDir", async () => {
    const dir = join(root, `s${++seq}`);
    const ds = new Dataset(undefined, {
      script: "echo $(( #n# * 2 ))\n",
      name: "own-script",
      skip: false,
      verbose: 0,
      dbDir: dir,
      localDir: join(dir, "stage"),
      remoteDir: join(dir, "far"),
    });
    ds.appendRun({ n: 1 });
    ds.appendRun({ n: 2 }, { remoteDir: join(dir, "far-own") });
    await ds.run();
    await ds.wait(wait);
    expect(await ds.fetchResults()).toEqual(["2", "4"]);
    await ds.close();
  });

  it("Datasets with dependencies refuse runners in another localDir before anything is sent", async () => {
    const dir = join(root, `c${++seq}`);
    const opts = { skip: false, verbose: 0, dbDir: dir, remoteDir: join(dir, "far") };
    const up = new Dataset(({ n }: { n: number }) => n, { ...opts, name: "up", localDir: join(dir, "a") });
    const down = new Dataset((_a: Record<string, unknown>, ctx: { upstream?: unknown }) => ctx.upstream, {
      ...opts,
      name: "down",
      localDir: join(dir, "a"),
    });
    up.setDownstream(down as unknown as Dataset<Record<string, unknown>, unknown>);
    up.appendRun({ n: 1 });
    up.appendRun({ n: 2 }, { localDir: join(dir, "b") });
    down.appendRun({});
    down.appendRun({ m: 1 });
    await expect(up.run()).rejects.toThrow(InvalidArgumentError);
    expect(up.runners.map((r) => r.state)).toEqual(["created", "created"]);
    expect(down.runners.map((r) => r.state)).toEqual(["created", "created"]);
    await up.close();
    await down.close();
  });
});

describe("one Dataset object used at once from several places", () => {
  it("two run() calls at the same time submit each runner once; the second finds them submitted", async () => {
    const dir = join(root, `p${++seq}`);
    const side = join(dir, "side.txt");
    const ds = new Dataset(counted, { name: "twice", skip: false, verbose: 0, dbDir: dir });
    ds.appendRuns([
      { n: 1, side },
      { n: 2, side },
    ]);
    const [a, b] = await Promise.all([ds.run(), ds.run()]);
    expect(a.submitted).toEqual(["runner-0", "runner-1"]);
    expect(b.submitted).toEqual([]);
    await Promise.all([ds.wait(wait), ds.wait(wait)]);
    const [r1, r2] = await Promise.all([ds.fetchResults(), ds.fetchResults()]);
    expect(r1).toEqual([2, 3]);
    expect(r2).toEqual([2, 3]);
    expect(executions(side)).toEqual([1, 2]);
    await ds.close();
  });

  it("a closed Dataset refuses every call with DatasetClosedError and changes nothing", async () => {
    const dir = join(root, `x${++seq}`);
    const ds = new Dataset(({ n }: { n: number }) => n, {
      name: "closed",
      skip: false,
      verbose: 0,
      dbDir: dir,
    });
    ds.appendRun({ n: 1 });
    await ds.close();
    const calls: [string, () => unknown][] = [
      ["appendRun", () => ds.appendRun({ n: 2 })],
      ["appendRuns", () => ds.appendRuns([{ n: 3 }])],
      ["setRunArgs", () => ds.setRunArgs("x", 1)],
      ["updateRunArgs", () => ds.updateRunArgs({ x: 1 })],
      ["resetRuns", () => ds.resetRuns()],
      ["removeRun", () => ds.removeRun(0)],
      ["wipeRuns", () => ds.wipeRuns()],
      ["run", () => ds.run()],
      ["retryFailed", () => ds.retryFailed()],
      ["cancel", () => ds.cancel()],
      ["fetchResults", () => ds.fetchResults()],
      ["isFinished", () => ds.isFinished()],
    ];
    for (const [what, call] of calls) {
      let err: unknown;
      try {
        await call();
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(DatasetClosedError);
      expect((err as Error).message, what).toMatch(/was closed/);
    }
    expect(ds.runners).toHaveLength(1);
    // Reopened, it has what it had.
    const again = new Dataset(({ n }: { n: number }) => n, { name: "closed", verbose: 0, dbDir: dir });
    expect(again.runners.map((r) => r.args)).toEqual([{ n: 1 }]);
    // The old object, now replaced by a newer one, says so.
    expect(() => ds.appendRun({ n: 4 })).toThrow(DatasetClosedError);
    await again.close();
  });
});
