import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnFixture } from "../../test/helpers/child.js";
import { ensureDist } from "../../test/helpers/dist.js";
import { Dataset } from "../dataset/index.js";
import { DatabaseError, DatasetLockedError } from "../shared/errors.js";
import { DatasetStore, type DbState } from "./index.js";

interface Meta {
  v: number;
}
interface Rec {
  index: number;
  name: string;
  state?: string;
  blob?: string;
}

let tmp: string;
let seq = 0;
const newBase = () => join(tmp, `db-${++seq}`);
const open = (base: string, identity = "id-A", fresh = false) =>
  DatasetStore.open<Meta, Rec>(base, identity, { fresh });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "rr-store-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Files of a database, as bytes, to prove that nothing was written. */
const bytesOf = (base: string) =>
  [".json", ".journal"].map((ext) =>
    existsSync(base + ext) ? readFileSync(base + ext).toString("hex") : null,
  );

function seed(base: string): void {
  const { store, state } = open(base, "id-A", true);
  expect(state).toBeNull();
  store.writeSnapshot({ identity: "id-A", name: "n", meta: { v: 0 }, runners: [{ index: 0, name: "r0" }] });
  store.putRunners([
    { index: 1, name: "r1" },
    { index: 2, name: "r2" },
  ]);
  store.putRunners([{ index: 0, name: "r0", state: "done" }]);
  store.putMeta({ v: 1 });
  store.removeRunner(1);
  store.putRunners([{ index: 3, name: "r3" }]);
  store.close();
}

const EXPECTED = {
  identity: "id-A",
  name: "n",
  meta: { v: 1 },
  runners: [
    { index: 0, name: "r0", state: "done" },
    { index: 2, name: "r2" },
    { index: 3, name: "r3" },
  ],
};

describe("journal", () => {
  it("changes are single journal lines replayed over the snapshot", () => {
    const base = newBase();
    seed(base);
    const journal = readFileSync(`${base}.journal`, "utf8");
    expect(journal.endsWith("\n")).toBe(true);
    // A header naming the snapshot generation, then one line per change.
    expect(journal.trim().split("\n")).toHaveLength(6);
    // The snapshot still holds only what was written as a snapshot.
    expect(DatasetStore.peek<Meta, Rec>(base)).toEqual(EXPECTED);
    const { store, state } = open(base);
    expect(state).toEqual(EXPECTED);
    store.close();
  });

  it("a torn last line (crash in the middle of a write) is ignored", () => {
    const base = newBase();
    seed(base);
    appendFileSync(`${base}.journal`, '{"op":"runners","recs":[{"index":9,"na');
    const { store, state } = open(base);
    expect(state).toEqual(EXPECTED);
    store.close();
  });

  it("writes after a torn last line are not lost", () => {
    const base = newBase();
    seed(base);
    appendFileSync(`${base}.journal`, '{"op":"meta","meta":{"v":');
    const first = open(base);
    expect(first.state).toEqual(EXPECTED);
    first.store.putMeta({ v: 2 });
    first.store.putRunners([{ index: 4, name: "r4" }]);
    first.store.close();
    const { store, state } = open(base);
    expect(state?.meta).toEqual({ v: 2 });
    expect(state?.runners.map((r) => r.index)).toEqual([0, 2, 3, 4]);
    store.close();
  });

  it("a complete last line without its newline is kept, and the next write starts a new line", () => {
    const base = newBase();
    seed(base);
    const text = readFileSync(`${base}.journal`, "utf8");
    writeFileSync(`${base}.journal`, text.slice(0, -1));
    // Reading without the lock changes nothing.
    const before = bytesOf(base);
    expect(DatasetStore.peek<Meta, Rec>(base)).toEqual(EXPECTED);
    expect(bytesOf(base)).toEqual(before);
    const first = open(base);
    expect(first.state).toEqual(EXPECTED);
    first.store.putMeta({ v: 7 });
    first.store.close();
    const { store, state } = open(base);
    expect(state).toEqual({ ...EXPECTED, meta: { v: 7 } });
    store.close();
  });

  it("an emptied journal is a DatabaseError, not a Dataset without its runners", () => {
    const base = newBase();
    seed(base);
    writeFileSync(`${base}.journal`, "");
    const before = bytesOf(base);
    expect(() => open(base)).toThrow(/journal: is empty, expected/);
    expect(() => DatasetStore.peek(base)).toThrow(DatabaseError);
    expect(bytesOf(base)).toEqual(before);
  });

  it("a damaged line in the middle is a DatabaseError naming the line, and nothing is rewritten", () => {
    const base = newBase();
    seed(base);
    const lines = readFileSync(`${base}.journal`, "utf8").split("\n");
    lines[2] = lines[2].slice(0, 10);
    writeFileSync(`${base}.journal`, lines.join("\n"));
    const before = bytesOf(base);
    let err: unknown;
    try {
      open(base);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).message).toContain("line 3");
    expect((err as DatabaseError).file).toBe(`${base}.journal`);
    expect(bytesOf(base)).toEqual(before);
    // The lock was released on the way out: a repaired database opens.
    rmSync(`${base}.journal`);
    const { store } = open(base);
    store.close();
  });

  it("a snapshot that is not a database is a DatabaseError", () => {
    const base = newBase();
    writeFileSync(`${base}.json`, "{ not json");
    expect(() => open(base)).toThrow(DatabaseError);
    writeFileSync(`${base}.json`, JSON.stringify({ format: "something-else" }));
    expect(() => open(base)).toThrow(/not a remoterun database/);
  });

  it("folds the journal into a new snapshot once it outgrows the data", () => {
    const base = newBase();
    const { store } = open(base, "id-A", true);
    const live: DbState<Meta, Rec> = { identity: "id-A", name: "big", meta: { v: 0 }, runners: [] };
    store.attach(() => live);
    store.writeSnapshot(live);
    const blob = "x".repeat(1000);
    let compactions = 0;
    let lastJournal = 0;
    for (let i = 0; i < 600; i++) {
      const rec = { index: i % 50, name: `r${i % 50}`, state: `s${i}`, blob };
      live.runners[i % 50] = rec;
      store.putRunners([rec]);
      const size = statSync(`${base}.journal`).size;
      if (size < lastJournal) compactions++;
      lastJournal = size;
      // Never more than the threshold (256 KiB or the snapshot size) plus one entry.
      expect(size).toBeLessThan(256 * 1024 + 2000);
    }
    expect(compactions).toBeGreaterThan(0);
    store.close();
    const { store: again, state } = open(base);
    expect(state).toEqual(live);
    again.close();
  });
});

describe("generations", () => {
  const headerOf = (base: string) => JSON.parse(readFileSync(`${base}.journal`, "utf8").split("\n")[0]);
  const snapshotOf = (base: string) => JSON.parse(readFileSync(`${base}.json`, "utf8"));

  it("a journal older than the snapshot (kill -9 between the two renames) is ignored, then replaced", () => {
    const base = newBase();
    seed(base);
    const oldJournal = readFileSync(`${base}.journal`);
    const gen = headerOf(base).generation;
    expect(snapshotOf(base).generation).toBe(gen);
    const { store } = open(base);
    // Replaying the old journal over this snapshot would bring v: 1 and runner 3 back.
    store.writeSnapshot({
      identity: "id-A",
      name: "n",
      meta: { v: 42 },
      runners: [{ index: 0, name: "r0" }],
    });
    store.close();
    expect(snapshotOf(base).generation).toBe(gen + 1);
    writeFileSync(`${base}.journal`, oldJournal);
    const expected = { identity: "id-A", name: "n", meta: { v: 42 }, runners: [{ index: 0, name: "r0" }] };
    expect(DatasetStore.peek<Meta, Rec>(base)).toEqual(expected);
    const again = open(base);
    expect(again.state).toEqual(expected);
    again.store.putMeta({ v: 43 });
    again.store.close();
    expect(headerOf(base).generation).toBe(gen + 1);
    expect(DatasetStore.peek<Meta, Rec>(base)).toEqual({ ...expected, meta: { v: 43 } });
  });

  it("temp files of a write that was killed are removed by the next holder, and change nothing", () => {
    const base = newBase();
    seed(base);
    writeFileSync(`${base}.json.tmp-0123456789abcdef`, '{"format":"remoterun-db","vers');
    writeFileSync(`${base}.journal.tmp-0123456789abcdef`, "");
    const { store, state } = open(base);
    expect(state).toEqual(EXPECTED);
    store.close();
    expect(existsSync(`${base}.json.tmp-0123456789abcdef`)).toBe(false);
    expect(existsSync(`${base}.journal.tmp-0123456789abcdef`)).toBe(false);
  });

  it("a version-1 database (no generation, no journal header) is read, and rewritten as version 2 at the first change", () => {
    const base = newBase();
    writeFileSync(
      `${base}.json`,
      JSON.stringify({
        format: "remoterun-db",
        version: 1,
        identity: "id-A",
        name: "n",
        meta: { v: 0 },
        runners: [{ index: 0, name: "r0" }],
      }),
    );
    writeFileSync(
      `${base}.journal`,
      '{"op":"runners","recs":[{"index":1,"name":"r1"}]}\n{"op":"meta","meta":{"v":1}}\n',
    );
    const expected = {
      identity: "id-A",
      name: "n",
      meta: { v: 1 },
      runners: [
        { index: 0, name: "r0" },
        { index: 1, name: "r1" },
      ],
    };
    expect(DatasetStore.peek<Meta, Rec>(base)).toEqual(expected);
    const before = bytesOf(base);
    const first = open(base);
    expect(first.state).toEqual(expected);
    // Opening alone writes nothing.
    expect(bytesOf(base)).toEqual(before);
    first.store.putRunners([{ index: 2, name: "r2" }]);
    first.store.close();
    expect(snapshotOf(base)).toMatchObject({ version: 2, generation: 1, fromVersion: 1 });
    expect(headerOf(base)).toEqual({ format: "remoterun-journal", version: 2, generation: 1 });
    const { store, state } = open(base);
    expect(state?.runners.map((r) => r.name)).toEqual(["r0", "r1", "r2"]);
    store.close();
  });

  it("a journal newer than the snapshot is read again by a reader, and then is a DatabaseError", () => {
    const base = newBase();
    seed(base);
    const gen = headerOf(base).generation;
    writeFileSync(
      `${base}.journal`,
      `${JSON.stringify({ format: "remoterun-journal", version: 2, generation: gen + 1 })}\n`,
    );
    expect(() => DatasetStore.peek<Meta, Rec>(base)).toThrow(`continues generation ${gen + 1}`);
    expect(() => open(base)).toThrow(DatabaseError);
  });
});

describe("kill -9 at any point", () => {
  beforeAll(async () => {
    await ensureDist();
  }, 120_000);

  it("a writer killed again and again, compactions included, leaves every committed change", async () => {
    const base = newBase();
    let last = -1;
    for (let round = 0; round < 6; round++) {
      const child = spawnFixture("churn-store.mjs", { base });
      // Kill somewhere after a few hundred more changes (several compactions each round).
      await child.waitFor(`committed ${last + 150 + round * 97}`, 60_000);
      const drained = new Promise((r) => child.proc.stdout!.once("close", r));
      await child.kill9();
      // Every line the child printed before it died, including those still in the pipe.
      await drained;
      const printed = child.lines
        .filter((l) => l.startsWith("committed"))
        .map((l) => Number(l.split(" ")[1]));
      const lastPrinted = printed[printed.length - 1];
      // A reader and the next holder see the same: every printed change, at most one more.
      const peeked = DatasetStore.peek<{ v: number }, Rec & { seq: number }>(base)!;
      const { store, state } = DatasetStore.open<{ v: number }, Rec & { seq: number }>(base, "churn", {
        fresh: false,
      });
      store.close();
      expect(peeked).toEqual(state);
      const v = state!.meta.v;
      expect(v === lastPrinted || v === lastPrinted + 1, `meta ${v} after ${lastPrinted}`).toBe(true);
      for (const r of state!.runners) {
        // Each runner holds the last change made to it up to v (the runner line of v+1 may be in).
        const latest = v - ((((v - r.index) % 50) + 50) % 50);
        expect(r.seq === latest || r.seq === latest + 50, `${r.name}: ${r.seq}, v ${v}`).toBe(true);
      }
      last = v;
    }
    expect(last).toBeGreaterThan(1000);
  }, 120_000);
});

describe("identity", () => {
  it("another Dataset identity at the same path is a DatabaseError and nothing is touched", () => {
    const base = newBase();
    seed(base);
    const before = bytesOf(base);
    expect(() => open(base, "id-B")).toThrow(DatabaseError);
    expect(() => open(base, "id-B", true)).toThrow(/belongs to another Dataset/);
    expect(bytesOf(base)).toEqual(before);
    // And the lock was not left behind.
    const { store } = open(base, "id-A");
    store.close();
  });

  it("two Datasets with the same name but different functions have different files", () => {
    const dbDir = join(tmp, "same-name");
    const quiet = {
      dbDir,
      name: "twin",
      localDir: join(dbDir, "l"),
      remoteDir: join(dbDir, "r"),
      logger: () => {},
    };
    const a = new Dataset((x: { v: number }) => x.v + 1, { ...quiet, skip: false });
    a.appendRun({ v: 1 });
    const b = new Dataset((x: { v: number }) => x.v * 100, { ...quiet, skip: false });
    b.appendRun({ v: 2 });
    b.appendRun({ v: 3 });
    expect(a.dbFile).not.toBe(b.dbFile);
    expect(a.identity).not.toBe(b.identity);
    a.save();
    b.save();
    const a2 = new Dataset((x: { v: number }) => x.v + 1, quiet);
    const b2 = new Dataset((x: { v: number }) => x.v * 100, quiet);
    expect(a2.restored && b2.restored).toBe(true);
    expect(a2.runners.map((r) => r.args)).toEqual([{ v: 1 }]);
    expect(b2.runners.map((r) => r.args)).toEqual([{ v: 2 }, { v: 3 }]);
  });

  it("a newer store on the same file in this process retires the older object", () => {
    const base = newBase();
    seed(base);
    const old = open(base).store;
    const fresh = open(base).store;
    expect(() => old.putMeta({ v: 99 })).toThrow(DatabaseError);
    fresh.putMeta({ v: 5 });
    fresh.close();
    expect(DatasetStore.peek<Meta, Rec>(base)?.meta).toEqual({ v: 5 });
  });
});

describe("lock", () => {
  beforeAll(async () => {
    await ensureDist();
  }, 120_000);

  it("a second process gets DatasetLockedError while the first holds it; then it can open", async () => {
    const base = newBase();
    seed(base);
    const child = spawnFixture("hold-store.mjs", { base, identity: "id-A" });
    try {
      const line = await child.waitFor("locked");
      const pid = Number(line.split(" ")[1]);
      expect(pid).toBe(child.proc.pid);
      let err: unknown;
      try {
        open(base);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DatasetLockedError);
      expect((err as DatasetLockedError).holder).toContain(`process ${pid}`);
      expect((err as DatasetLockedError).file).toBe(`${base}.lock`);
      child.proc.stdin!.end();
      await child.waitFor("released");
      expect((await child.exited).code).toBe(0);
    } finally {
      await child.kill9();
    }
    expect(existsSync(`${base}.lock`)).toBe(false);
    const { store, state } = open(base);
    // The child's write is there.
    expect(state?.meta).toEqual({ holder: child.proc.pid });
    store.close();
  });

  it("the lock of a process killed with -9 is taken over", async () => {
    const base = newBase();
    seed(base);
    const child = spawnFixture("hold-store.mjs", { base, identity: "id-A" });
    await child.waitFor("locked");
    expect(() => open(base)).toThrow(DatasetLockedError);
    await child.kill9();
    expect(existsSync(`${base}.lock`)).toBe(true);
    const { store, state } = open(base);
    expect(state?.meta).toEqual({ holder: child.proc.pid });
    expect(JSON.parse(readFileSync(`${base}.lock`, "utf8")).pid).toBe(process.pid);
    store.close();
    expect(existsSync(`${base}.lock`)).toBe(false);
  });

  it("a lock file naming a dead pid is taken over; one of another host is respected", async () => {
    const base = newBase();
    seed(base);
    const gone = spawnFixture("hold-store.mjs", { base: newBase(), identity: "x" });
    await gone.kill9();
    writeFileSync(
      `${base}.lock`,
      JSON.stringify({ pid: gone.proc.pid, host: hostname(), since: new Date().toISOString() }),
    );
    const { store } = open(base);
    store.close();

    writeFileSync(
      `${base}.lock`,
      JSON.stringify({ pid: gone.proc.pid, host: `not-${hostname()}`, since: "2020-01-01T00:00:00Z" }),
    );
    expect(() => open(base)).toThrow(DatasetLockedError);
    expect(() => open(base)).toThrow(`not-${hostname()}`);
  });
});
