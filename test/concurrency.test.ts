/**
 * Two processes on one Dataset: the database lock keeps the second out while the first holds it
 * (DatasetLockedError, nothing written), and lets the next one in once the first has exited or was
 * killed with -9.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dataset, DatasetLockedError } from "../src/index.js";
import { type Child, spawnFixture } from "./helpers/child.js";
import { ensureDist } from "./helpers/dist.js";
import { fromSource, SOURCES } from "./lifecycle/functions.js";

let root: string;
const children: Child[] = [];
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rr-conc-"));
  await ensureDist();
}, 120_000);
afterAll(async () => {
  for (const c of children) await c.kill9();
  rmSync(root, { recursive: true, force: true });
});

let seq = 0;
function scene(runners = 2) {
  const tmp = join(root, `c${++seq}`);
  const dirs = { dbDir: tmp, localDir: join(tmp, "local"), remoteDir: join(tmp, "remote") };
  const name = `conc${seq}`;
  const open = (extra: object = {}) =>
    new Dataset(fromSource(SOURCES.double), { name, ...dirs, logger: () => {}, ...extra });
  const ds = open({ skip: false });
  for (let x = 1; x <= runners; x++) ds.appendRun({ x });
  const config = (mode: string, extra: object = {}) => ({
    mode,
    name,
    fnSource: SOURCES.double,
    ...dirs,
    args: Array.from({ length: runners }, (_, i) => ({ x: i + 1 })),
    ...extra,
  });
  const child = (mode: string, extra: object = {}) => {
    const c = spawnFixture("dataset-child.mjs", config(mode, extra));
    children.push(c);
    return c;
  };
  return { tmp, dirs, ds, open, child };
}

/** The database files (snapshot and journal) as bytes. */
function dbBytes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir))
    if (/\.remoterun\.(json|journal)$/.test(f)) out[f] = readFileSync(join(dir, f)).toString("hex");
  return out;
}

function lockedError(f: () => unknown): DatasetLockedError {
  try {
    f();
  } catch (e) {
    if (e instanceof DatasetLockedError) return e;
    throw e;
  }
  throw new Error("the Dataset opened although another process holds it");
}

describe("database lock across processes", () => {
  it("the second process gets DatasetLockedError while the first holds the Dataset; then it opens", async () => {
    const { dirs, ds, open, child } = scene();
    await ds.close();
    const first = child("hold");
    expect(await first.waitFor("ready")).toBe("ready 2");
    const before = dbBytes(dirs.dbDir);

    // This process...
    const err = lockedError(() => open());
    expect(err.holder).toContain(`process ${first.proc.pid}`);
    expect(err.message).toContain(err.file);
    // ...even with skip: false, which would otherwise delete the database.
    lockedError(() => open({ skip: false }));
    // ...and another child process.
    const second = child("hold");
    expect(await second.waitFor("error")).toMatch(/^error DatasetLockedError /);
    expect((await second.exited).code).toBe(3);
    expect(dbBytes(dirs.dbDir)).toEqual(before);

    first.proc.stdin!.end();
    await first.waitFor("closed");
    expect((await first.exited).code).toBe(0);
    const next = open();
    expect(next.runners.map((r) => r.args)).toEqual([{ x: 1 }, { x: 2 }]);
    await next.close();
  });

  it("after the holder is killed with -9, the next process opens the Dataset", async () => {
    const { dirs, ds, child } = scene(3);
    await ds.close();
    const first = child("hold");
    await first.waitFor("ready");
    await first.kill9();
    const lockFile = readdirSync(dirs.dbDir).find((f) => f.endsWith(".lock"));
    expect(lockFile).toBeDefined();
    const second = child("hold");
    expect(await second.waitFor("ready")).toBe("ready 3");
    expect(JSON.parse(readFileSync(join(dirs.dbDir, lockFile!), "utf8")).pid).toBe(second.proc.pid);
    second.proc.stdin!.end();
    await second.waitFor("closed");
    expect(existsSync(join(dirs.dbDir, lockFile!))).toBe(false);
  });

  it("of several processes opening at once, exactly one gets the Dataset", async () => {
    const { ds, child } = scene();
    await ds.close();
    const racers = Array.from({ length: 5 }, () => child("hold"));
    const outcome = (c: Child) =>
      new Promise<string>((resolve) => {
        c.waitFor("ready").then(resolve, () => {});
        c.waitFor("error").then(resolve, () => {});
        c.exited.then(() => setTimeout(() => resolve(`exited: ${c.lines.join(" | ")} ${c.stderr()}`), 100));
      });
    const outcomes = await Promise.all(racers.map(outcome));
    const winners = outcomes.filter((l) => l.startsWith("ready"));
    const losers = outcomes.filter((l) => l.startsWith("error DatasetLockedError"));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(4);
    for (const c of racers) c.proc.stdin!.end();
    await Promise.all(racers.map((c) => c.exited));
  });

  it("a process that works on the Dataset keeps others out until it is done, and leaves it whole", async () => {
    const { dirs, ds, child } = scene(0);
    await ds.close();
    const worker = child("full", {
      fnSource: SOURCES.sleepThenSquare,
      name: undefined,
      args: [1, 2, 3].map((x) => ({ x, ms: 300 })),
    });
    // The worker's Dataset has the default name; wait until it holds it, then knock until it is done.
    await worker.waitFor("log Of 3 appends");
    let refused = 0;
    let done = false;
    worker.exited.then(() => {
      done = true;
    });
    const other = () =>
      new Dataset(fromSource(SOURCES.sleepThenSquare), { ...dirs, logger: () => {} }) as Dataset;
    let opened: Dataset | undefined;
    while (!done && !opened) {
      try {
        opened = other();
      } catch (e) {
        expect(e).toBeInstanceOf(DatasetLockedError);
        refused++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    if (opened) {
      // Opened: only possible once the worker has finished its work and let go, so every result is in.
      // (Its "results" line is in the pipe already but may not have been read yet.)
      expect(opened.results).toEqual([1, 2, 3].map((x) => ({ x, square: x * x })));
      await opened.close();
      await worker.waitFor("results");
    }
    expect((await worker.exited).code).toBe(0);
    const line = await worker.waitFor("results");
    expect(JSON.parse(line.slice("results ".length))).toEqual([1, 2, 3].map((x) => ({ x, square: x * x })));
    expect(refused).toBeGreaterThan(0);
    const back = other();
    expect(back.results).toEqual([1, 2, 3].map((x) => ({ x, square: x * x })));
    expect(back.runners.every((r) => r.state === "satisfied")).toBe(true);
    await back.close();
  });
});
