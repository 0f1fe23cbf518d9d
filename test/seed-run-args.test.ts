/**
 * Replays every example of the "Run Args" documentation page (shared/seeds/run-args.txt) in its
 * TypeScript spelling and checks what the page prints, then the "Temporary Run() Args" paragraph.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dataset, InvalidArgumentError } from "../src/index.js";
import { DatasetStore } from "../src/store/index.js";

/** How Python's print(dict) looks in TypeScript: util.inspect on one line. */
const show = (v: unknown) => inspect(v, { breakLength: Number.POSITIVE_INFINITY });
const DEFAULTS_PRINTED =
  "{ skip: true, force: false, asynchronous: true, localDir: 'temp_runner_local', remoteDir: 'temp_runner_remote' }";

/** for (const [k, v] of Object.entries(x)) console.log(k, v) — the page's `for k, v in ...items()` */
const printItems = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `${k} ${String(v)}`);

/** The page's `def function(inp): return inp`: remoterun functions take one args object. */
function fn({ inp }: { inp?: unknown }) {
  return inp;
}

describe("run-args page, cells 1-9 (defaults, in a temporary working directory)", () => {
  const cwd = process.cwd();
  let tmp: string;
  let ds: Dataset<object>;
  const out: string[] = [];

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "rr-seed-"));
    process.chdir(tmp);
  });
  afterAll(async () => {
    await ds?.close();
    process.chdir(cwd);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("[1] appendRun prints 'appended run runner-0'", () => {
    ds = new Dataset(fn, { skip: false, logger: (m) => out.push(m) });
    expect(out).toEqual([]);
    ds.appendRun({ inp: 1 });
    expect(out).toEqual(["appended run runner-0"]);
    // The database went into the working directory (the default dbDir).
    expect(readdirSync(tmp).some((f) => f.endsWith(".remoterun.json"))).toBe(true);
  });

  it("[2] the Dataset's run args are the defaults, in the documented order", () => {
    expect(show(ds.runArgs)).toBe(DEFAULTS_PRINTED);
    expect(Object.keys(ds.runArgs)).toEqual(["skip", "force", "asynchronous", "localDir", "remoteDir"]);
  });

  it("[3] a Runner's own run args start empty", () => {
    expect(show(ds.runners[0].runArgs)).toBe("{}");
  });

  it("[4] derivedRunArgs combines the levels", () => {
    expect(show(ds.runners[0].derivedRunArgs)).toBe(DEFAULTS_PRINTED);
  });

  it("[5] direct mutation appends a key at the end", () => {
    ds.runArgs.direct = true;
    expect(printItems(ds.runArgs)).toEqual([
      "skip true",
      "force false",
      "asynchronous true",
      "localDir temp_runner_local",
      "remoteDir temp_runner_remote",
      "direct true",
    ]);
  });

  it("[6] setRunArgs with lists and with one pair", () => {
    ds.setRunArgs(["a", "b", "c"], [1, 2, 3]);
    ds.setRunArgs("d", 4);
    expect(printItems(ds.runArgs)).toEqual([
      "skip true",
      "force false",
      "asynchronous true",
      "localDir temp_runner_local",
      "remoteDir temp_runner_remote",
      "direct true",
      "a 1",
      "b 2",
      "c 3",
      "d 4",
    ]);
  });

  it("setRunArgs with keys and values of different lengths is refused and changes nothing", () => {
    const before = show(ds.runArgs);
    const err = (() => {
      try {
        ds.setRunArgs(["x", "y"], [1]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/2 value\(s\).*got 1/);
    expect(() => ds.setRunArgs(["x"], 1)).toThrow(InvalidArgumentError);
    expect(() => ds.runners[0].setRunArgs(["x", "y"], [1, 2, 3])).toThrow(InvalidArgumentError);
    expect(show(ds.runArgs)).toBe(before);
    expect(ds.runners[0].runArgs).toEqual({});
  });

  it("[7] updateRunArgs keeps the existing key order", () => {
    ds.updateRunArgs({ a: 10, b: 11, c: 12, d: 13 });
    expect(printItems(ds.runArgs)).toEqual([
      "skip true",
      "force false",
      "asynchronous true",
      "localDir temp_runner_local",
      "remoteDir temp_runner_remote",
      "direct true",
      "a 10",
      "b 11",
      "c 12",
      "d 13",
    ]);
  });

  it("[8] a runner override wins in derivedRunArgs and leaves the Dataset alone", () => {
    ds.runners[0].runArgs.d = "foo";
    expect(ds.runArgs.d ?? null).toBe(13);
    expect(ds.runners[0].runArgs.d ?? null).toBe("foo");
    expect(ds.runners[0].derivedRunArgs.d ?? null).toBe("foo");
  });

  it("[9] another runner keeps the Dataset-level value", () => {
    out.length = 0;
    ds.appendRun({ inp: 2 });
    expect(out).toEqual(["appended run runner-1"]);
    expect(ds.runners[1].derivedRunArgs.d ?? null).toBe(13);
    expect(ds.runners[1].runArgs).toEqual({});
    expect(ds.runners[0].derivedRunArgs.d).toBe("foo");
  });

  it("Runner.setRunArgs / updateRunArgs only touch that runner", () => {
    ds.runners[1].setRunArgs(["e", "f"], [5, 6]);
    ds.runners[1].updateRunArgs({ g: 7 });
    expect(ds.runners[1].runArgs).toEqual({ e: 5, f: 6, g: 7 });
    expect("e" in ds.runArgs).toBe(false);
    expect("e" in ds.runners[0].runArgs).toBe(false);
    expect(ds.runners[1].derivedRunArgs).toMatchObject({ d: 13, e: 5, f: 6, g: 7 });
  });

  it("the run args set above are saved with the Dataset and restored in the same order", async () => {
    ds.save();
    const again = new Dataset(fn, { logger: () => {} });
    ds = again;
    expect(again.restored).toBe(true);
    expect(printItems(again.runArgs)).toEqual([
      "skip true",
      "force false",
      "asynchronous true",
      "localDir temp_runner_local",
      "remoteDir temp_runner_remote",
      "direct true",
      "a 10",
      "b 11",
      "c 12",
      "d 13",
    ]);
    expect(again.runners.map((r) => r.runArgs)).toEqual([{ d: "foo" }, { e: 5, f: 6, g: 7 }]);
  });
});

describe("Temporary Run() Args", () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "rr-seed-tmp-"));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it("run({ remoteDir }) sends files there, then the arg is gone from every level and the database", async () => {
    const msgs: string[] = [];
    const dirs = { dbDir: tmp, localDir: join(tmp, "local"), remoteDir: join(tmp, "saved remote") };
    const other = join(tmp, "temporary remote");
    const ds = new Dataset((a: { inp: number }) => a.inp * 10, {
      skip: false,
      name: "temporary",
      ...dirs,
      logger: (m) => msgs.push(m),
    });
    ds.appendRun({ inp: 1 });
    ds.appendRun({ inp: 2 });

    // During the run, derivedRunArgs sees the temporary value (observed through the Runner).
    const seen: unknown[] = [];
    const origPush = ds.connection.push.bind(ds.connection);
    ds.connection.push = async (l, r, files) => {
      seen.push(ds.runners[0].derivedRunArgs.remoteDir, ds.temporaryRunArgs.remoteDir);
      return origPush(l, r, files);
    };
    const res = await ds.run({ remoteDir: other });
    expect(res.submitted).toEqual(["runner-0", "runner-1"]);
    expect(seen).toEqual([other, other]);

    // The files went to the temporary folder, not the saved one.
    expect(existsSync(other)).toBe(true);
    expect(existsSync(dirs.remoteDir)).toBe(false);
    const folder = readdirSync(other).find((f) => f.startsWith("temporary-"));
    expect(folder).toBeDefined();
    const token = ds.runners[0].token!;
    const sent = readdirSync(join(other, folder!));
    expect(readdirSync(join(other, folder!, `runtime-${token}`))).toContain("function.mjs");
    expect(sent.some((f) => f.includes(token))).toBe(true);

    // Gone from every level right after run() returns.
    expect(ds.temporaryRunArgs).toEqual({});
    expect(ds.runArgs.remoteDir).toBe(dirs.remoteDir);
    for (const r of ds.runners) {
      expect(r.runArgs).toEqual({});
      expect(r.derivedRunArgs.remoteDir).toBe(dirs.remoteDir);
    }

    await ds.wait({ interval: 0.05, timeout: 30 });
    await ds.fetchResults();
    expect(ds.results).toEqual([10, 20]);
    await ds.close();

    // Nothing of it in the saved run args.
    const base = ds.dbFile;
    type Rec = { index: number; runArgs: Record<string, unknown> };
    const state = DatasetStore.peek<{ runArgs: Record<string, unknown> }, Rec>(base);
    expect(state?.meta.runArgs.remoteDir).toBe(dirs.remoteDir);
    expect(state?.runners.map((r) => r.runArgs)).toEqual([{}, {}]);

    // A restored Dataset has no trace of it either, yet still knows where its results were.
    const back = new Dataset((a: { inp: number }) => a.inp * 10, {
      name: "temporary",
      ...dirs,
      logger: () => {},
    });
    expect(back.restored).toBe(true);
    expect(back.temporaryRunArgs).toEqual({});
    expect(back.runArgs.remoteDir).toBe(dirs.remoteDir);
    expect(back.runners.map((r) => r.derivedRunArgs.remoteDir)).toEqual([dirs.remoteDir, dirs.remoteDir]);
    expect(back.results).toEqual([10, 20]);

    // The next plain run() uses the saved remoteDir again.
    back.appendRun({ inp: 3 });
    await back.run();
    const token2 = back.runners[2].token!;
    expect(token2).not.toBe(token);
    expect(readdirSync(join(dirs.remoteDir, folder!)).some((f) => f.includes(token2))).toBe(true);
    expect(readdirSync(join(other, folder!)).some((f) => f.includes(token2))).toBe(false);
    await back.wait({ interval: 0.05, timeout: 30 });
    await back.fetchResults();
    expect(back.results).toEqual([10, 20, 30]);
    await back.close();
  });

  it("temporary args of a run() that throws are dropped too", async () => {
    const ds = new Dataset((a: { inp: number }) => a.inp, {
      skip: false,
      name: "temporary-throws",
      dbDir: tmp,
      localDir: join(tmp, "l2"),
      remoteDir: join(tmp, "r2"),
      logger: () => {},
    });
    ds.appendRun({ inp: 1 });
    ds.connection.push = async () => {
      throw new Error("transfer refused");
    };
    await expect(ds.run({ remoteDir: join(tmp, "elsewhere"), custom: 1 })).rejects.toThrow(
      "transfer refused",
    );
    expect(ds.temporaryRunArgs).toEqual({});
    expect(ds.runners[0].derivedRunArgs.remoteDir).toBe(join(tmp, "r2"));
    expect("custom" in ds.runners[0].derivedRunArgs).toBe(false);
    await ds.close();
  });
});
