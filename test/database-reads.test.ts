/**
 * What readers of a database see while another process holds it and writes: `remoterun status`
 * (Dataset.inspect) next to a running script never sees a runner go back to an earlier state, nor
 * the number of finished runners drop, however often the journal is folded into a new snapshot.
 * And a full disk is a DatabaseError saying so, which leaves no temp file and loses nothing
 * committed.
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseError, Dataset } from "../src/index.js";
import { type Child, spawnFixture } from "./helpers/child.js";
import { ensureDist } from "./helpers/dist.js";
import { thrown } from "./helpers/thrown.js";
import { fromSource, SOURCES } from "./lifecycle/functions.js";

let root: string;
const children: Child[] = [];

// A real full disk: a 64 KiB tmpfs (needs root). In CI it must work; elsewhere it is skipped, saying why.
const mnt = mkdtempSync(join(tmpdir(), "rr-full-"));
const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], { encoding: "utf8" });
const mounted = mount.status === 0;
if (!mounted) {
  const why = `cannot mount a tmpfs to fill (${(mount.stderr || String(mount.error ?? "")).trim() || `exit ${mount.status}`})`;
  if (process.env.CI === "true") throw new Error(`the full-disk test must run in CI: ${why}`);
  console.warn(`SKIPPED the full-disk test: ${why}`);
}
afterAll(() => {
  // Lazily, should a failed test have left a file open there.
  if (mounted) spawnSync("umount", ["-l", mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rr-reads-"));
  await ensureDist();
}, 120_000);
afterAll(async () => {
  for (const c of children) await c.kill9();
  rmSync(root, { recursive: true, force: true });
});

/** The order of progress: a runner's state may only move to the right between two reads. */
const RANK: Record<string, number> = {
  created: 0,
  staged: 1,
  transferred: 2,
  submitted: 3,
  started: 4,
  completed: 5,
  failed: 5,
  satisfied: 6,
};
const FINISHED = new Set(["completed", "failed", "satisfied"]);

describe("reading a database while its holder works", () => {
  it("2,000 runners through append, run, wait and fetch: no read ever goes backwards", async () => {
    const dir = join(root, "progress");
    const config = {
      name: "progress",
      fnSource: SOURCES.double,
      dbDir: join(dir, "db"),
      localDir: join(dir, "local"),
      remoteDir: join(dir, "remote"),
      runners: 2000,
    };
    const holder = spawnFixture("progress-holder.mjs", config);
    children.push(holder);
    await holder.waitFor("created", 60_000);
    const dbFile = join(config.dbDir, readdirSync(config.dbDir).find((f) => f.endsWith(".remoterun.json"))!);
    let exited = false;
    void holder.exited.then(() => {
      exited = true;
    });

    const rank = new Map<string, number>();
    let finished = 0;
    let total = 0;
    let reads = 0;
    const generations = new Set<number>();
    const problems: string[] = [];
    while (!exited) {
      const view = Dataset.inspect(dbFile);
      reads++;
      const head = /"generation":(\d+)/.exec(readFileSync(dbFile, "utf8").slice(0, 200));
      if (head) generations.add(Number(head[1]));
      let nowFinished = 0;
      for (const r of view.runners) {
        const k = RANK[r.state];
        const before = rank.get(r.name) ?? -1;
        if (k < before) problems.push(`read ${reads}: ${r.name} went back to ${r.state}`);
        rank.set(r.name, Math.max(k, before));
        if (FINISHED.has(r.state)) nowFinished++;
      }
      if (nowFinished < finished) problems.push(`read ${reads}: finished ${finished} -> ${nowFinished}`);
      if (view.runners.length < total)
        problems.push(`read ${reads}: runners ${total} -> ${view.runners.length}`);
      finished = Math.max(finished, nowFinished);
      total = Math.max(total, view.runners.length);
      await new Promise((r) => setImmediate(r));
    }
    const done = holder.lines.find((l) => l.startsWith("done") || l.startsWith("error"));
    expect(done, holder.stderr()).toBe('done {"ok":true,"runners":2000}');
    expect(problems.slice(0, 10)).toEqual([]);
    // The reads did overlap the work: several snapshot generations, many reads, and the last
    // state shows every runner fetched.
    expect(generations.size).toBeGreaterThanOrEqual(3);
    expect(reads).toBeGreaterThan(10);
    const last = Dataset.inspect(dbFile);
    expect(last.runners).toHaveLength(2000);
    expect(last.runners.every((r) => r.state === "satisfied")).toBe(true);
  }, 120_000);
});

describe("a full disk", () => {
  it.skipIf(!mounted)(
    "is a DatabaseError saying no space is left, leaves no temp file and loses nothing committed",
    async () => {
      const dbDir = join(mnt, "db");
      const opts = {
        name: "full",
        dbDir,
        localDir: join(root, "full-local"),
        remoteDir: join(root, "full-remote"),
        logger: () => {},
      };
      const ds = new Dataset(fromSource(SOURCES.double), { ...opts, skip: false });
      ds.appendRun({ x: 1 });
      const base = ds.dbFile;
      const quiet = new Dataset(fromSource(SOURCES.double), { ...opts, name: "quiet", skip: false });
      quiet.appendRun({ x: 1 });
      // Fill the disk to the last byte.
      const filler = join(mnt, "filler");
      const fd = openSync(filler, "w");
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC");
      } finally {
        closeSync(fd);
      }
      const big = "y".repeat(9000);
      const append = thrown(() => ds.appendRun({ x: 2, big }));
      expect(append).toBeInstanceOf(DatabaseError);
      expect((append as DatabaseError).file).toBe(`${base}.journal`);
      expect((append as Error).message).toMatch(/no space left on the device \(ENOSPC\)/);
      // The change not written stays pending: saving tries it again first.
      const retry = thrown(() => ds.save());
      expect(retry).toBeInstanceOf(DatabaseError);
      expect((retry as DatabaseError).file).toBe(`${base}.journal`);
      // A whole new snapshot cannot be written either; the old one stays.
      const save = thrown(() => quiet.save());
      expect(save).toBeInstanceOf(DatabaseError);
      expect((save as DatabaseError).file).toBe(`${quiet.dbFile}.json`);
      expect((save as Error).message).toMatch(/no space left on the device \(ENOSPC\)/);
      // Another Dataset cannot even write its lock file.
      const other = thrown(() => new Dataset(fromSource(SOURCES.double), { ...opts, name: "other" }));
      expect(other).toBeInstanceOf(DatabaseError);
      expect((other as Error).message).toMatch(/\.lock: no space left/);
      // No temp file, no empty file; what was committed reads back whole.
      const files = readdirSync(dbDir);
      expect(files.filter((f) => /\.tmp-|\.stale-/.test(f))).toEqual([]);
      for (const f of files) expect(statSync(join(dbDir, f)).size, f).toBeGreaterThan(0);
      expect(Dataset.inspect(`${base}.json`).runners.map((r) => r.name)).toEqual(["runner-0"]);

      // With space again, writes go on where the journal was left (no fragment in between), the
      // pending change first.
      rmSync(filler);
      ds.appendRun({ x: 3 });
      expect(Dataset.inspect(`${base}.json`).runners.map((r) => r.name)).toEqual([
        "runner-0",
        "runner-1",
        "runner-2",
      ]);
      await ds.close();
      await quiet.close();
      expect(Dataset.inspect(`${quiet.dbFile}.json`).runners).toHaveLength(1);
      const again = new Dataset(fromSource(SOURCES.double), opts);
      expect(again.runners.map((r) => r.args.x)).toEqual([1, 2, 3]);
      await again.close();
    },
  );
});
