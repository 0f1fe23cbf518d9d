/**
 * A catalogue of hand-damaged databases and lock files. Each starts as the real database of a
 * Dataset that ran on localhost; each edit must give a DatabaseError (or the lock's own error) that
 * names the file and the line or runner, through the library (new Dataset, Dataset.open,
 * Dataset.inspect) and through `remoterun status` (exit 5). None shows a state as if it were normal,
 * and none writes anything anywhere (the whole test folder is compared before and after).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseError, Dataset, DatasetLockedError } from "../src/index.js";
import { ensureDist, ROOT } from "./helpers/dist.js";
import { masterEnded } from "./helpers/processes.js";
import { thrown } from "./helpers/thrown.js";
import { tree } from "./helpers/tree.js";
import { fromSource, SOURCES } from "./lifecycle/functions.js";

const MAIN = join(ROOT, "dist/cli/main.js");
const NAME = "damage";
let root: string;
let pristine: string;
let dbName: string;
const sleepers: ChildProcess[] = [];

const dirsOf = (dir: string) => ({
  dbDir: join(dir, "db"),
  localDir: join(dir, "local"),
  remoteDir: join(dir, "remote"),
});
const openIn = (dir: string) =>
  new Dataset(fromSource(SOURCES.double), { name: NAME, ...dirsOf(dir), logger: () => {} });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rr-damage-"));
  await ensureDist();
  pristine = join(root, "pristine");
  const ds = new Dataset(fromSource(SOURCES.double), {
    name: NAME,
    ...dirsOf(pristine),
    logger: () => {},
    skip: false,
  });
  for (let x = 1; x <= 3; x++) ds.appendRun({ x });
  await ds.run();
  await ds.wait({ interval: 0.05, timeout: 60 });
  expect(await ds.fetchResults()).toEqual([2, 4, 6]);
  // The submission's processes end a moment after their runners: nothing may write during a case.
  await masterEnded(ds.runners[0].jobId);
  await ds.close();
  dbName = basename(ds.dbFile);
}, 120_000);

afterAll(() => {
  for (const s of sleepers) s.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd, env: { ...env, NO_COLOR: "1" }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

let seq = 0;
/** A copy of the pristine Dataset's folders (paths inside the database rewritten to the copy). */
function copy(): { dir: string; snap: string; journal: string; lock: string; db: string } {
  const dir = join(root, `case-${++seq}`);
  cpSync(pristine, dir, { recursive: true });
  const db = join(dir, "db", dbName);
  const base = db.replace(/\.json$/, "");
  for (const f of [`${base}.json`, `${base}.journal`]) {
    writeFileSync(f, readFileSync(f, "utf8").split(pristine).join(dir));
  }
  return { dir, db, snap: `${base}.json`, journal: `${base}.journal`, lock: `${base}.lock` };
}

type Doc = Record<string, unknown> & {
  runners: Record<string, unknown>[];
  meta: Record<string, unknown>;
};
const editSnapshot = (f: string, edit: (doc: Doc) => void) => {
  const doc = JSON.parse(readFileSync(f, "utf8")) as Doc;
  edit(doc);
  writeFileSync(f, JSON.stringify(doc));
};
const runnerLine = (f: string, change: Record<string, unknown>) => {
  const doc = JSON.parse(readFileSync(f, "utf8")) as Doc;
  return JSON.stringify({ op: "runners", recs: [{ ...doc.runners[0], ...change }] });
};

interface Case {
  what: string;
  file: "snap" | "journal" | "lock";
  /** What the message must say: where, and what was expected. */
  says: RegExp;
  damage: (c: ReturnType<typeof copy>) => void;
}

const R1 = /runner at position 1 \(index 1, name "runner-1"\)/;
const CASES: Case[] = [
  {
    what: "runners not an array",
    file: "snap",
    says: /runners \{"a":1\}, expected an array of runner records/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d, { runners: { a: 1 } })),
  },
  {
    what: 'a runner state "bogus"',
    file: "snap",
    says: new RegExp(`${R1.source}: state is "bogus", expected one of created, staged`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { state: "bogus" })),
  },
  {
    what: "two runners with one index",
    file: "snap",
    says: /runner at position 2 \(index 1, name "runner-2"\): index 1 is used by another runner/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[2], { index: 1 })),
  },
  {
    what: "a runner named ../../evil",
    file: "snap",
    says: /runner at position 0 \(index 0, name "\.\.\/\.\.\/evil"\): name is "\.\.\/\.\.\/evil", expected letters/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[0], { name: "../../evil" })),
  },
  {
    what: "a runner named a/b",
    file: "snap",
    says: new RegExp(`${R1.source.replace("runner-1", "a/b")}: name is "a/b", expected .*no '/'`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { name: "a/b" })),
  },
  {
    what: "two runners with one name",
    file: "snap",
    says: /runners of index 0 and 2 share the name "runner-0", expected unique names/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[2], { name: "runner-0" })),
  },
  {
    what: "a runner without identity",
    file: "snap",
    says: new RegExp(`${R1.source}: identity is undefined, expected a non-empty string`),
    damage: (c) => editSnapshot(c.snap, (d) => delete d.runners[1].identity),
  },
  {
    what: "args not an object",
    file: "snap",
    says: new RegExp(`${R1.source}: args is \\[1,2\\], expected an object`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { args: [1, 2] })),
  },
  {
    what: "stateTime a string",
    file: "snap",
    says: new RegExp(`${R1.source}: stateTime is "yesterday", expected a number`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { stateTime: "yesterday" })),
  },
  {
    what: "a placement of the wrong shape",
    file: "snap",
    says: new RegExp(`${R1.source}: placement is \\{"localRoot":"\\.\\./up","slot":-1\\}, expected`),
    damage: (c) =>
      editSnapshot(c.snap, (d) =>
        Object.assign(d.runners[1], { placement: { localRoot: "../up", slot: -1 } }),
      ),
  },
  {
    what: "a token that is a path",
    file: "snap",
    says: new RegExp(`${R1.source}: token is "\\.\\./\\.\\./x", expected a submission token`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { token: "../../x" })),
  },
  {
    what: "meta not an object",
    file: "snap",
    says: /meta: got "oops", expected an object of Dataset settings/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d, { meta: "oops" })),
  },
  {
    what: "meta without run args",
    file: "snap",
    says: /meta: runArgs is 7, expected an object/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.meta, { runArgs: 7 })),
  },
  {
    what: "another format",
    file: "snap",
    says: /is not a remoterun database \(expected an object with "format": "remoterun-db"\)/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d, { format: "other-db" })),
  },
  {
    what: "an unknown version",
    file: "snap",
    says: /has unsupported version 99 \(expected 2/,
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d, { version: 99 })),
  },
  {
    what: "a truncated snapshot",
    file: "snap",
    says: /is not a readable remoterun database \(not complete JSON/,
    damage: (c) => {
      const text = readFileSync(c.snap, "utf8");
      writeFileSync(c.snap, text.slice(0, Math.floor(text.length / 2)));
    },
  },
  {
    what: "a journal line null",
    file: "journal",
    says: /line 2: got null, expected a journal entry/,
    damage: (c) => appendFileSync(c.journal, "null\n"),
  },
  {
    what: "recs not iterable",
    file: "journal",
    says: /line 2: "recs" is 5, expected an array of runner records/,
    damage: (c) => appendFileSync(c.journal, '{"op":"runners","recs":5}\n'),
  },
  {
    what: "an unknown journal operation",
    file: "journal",
    says: /line 2: unknown operation "drop", expected one of meta, runners, remove, clear/,
    damage: (c) => appendFileSync(c.journal, '{"op":"drop","index":0}\n'),
  },
  {
    what: 'a journal record with state "bogus"',
    file: "journal",
    says: /line 2: record 0 \(index 0, name "runner-0"\): state is "bogus", expected one of/,
    damage: (c) => appendFileSync(c.journal, `${runnerLine(c.snap, { state: "bogus" })}\n`),
  },
  {
    what: "a journal record named ../../evil",
    file: "journal",
    says: /line 3: record 0 \(index 0, name "\.\.\/\.\.\/evil"\): name is "\.\.\/\.\.\/evil"/,
    damage: (c) =>
      appendFileSync(c.journal, `{"op":"clear"}\n${runnerLine(c.snap, { name: "../../evil" })}\n`),
  },
  {
    what: "a remove without an index",
    file: "journal",
    says: /line 2: "remove" of index "x", expected a non-negative integer/,
    damage: (c) => appendFileSync(c.journal, '{"op":"remove","index":"x"}\n'),
  },
  {
    what: "a journal damaged in the middle",
    file: "journal",
    says: /line 2 is damaged \(not complete JSON/,
    damage: (c) => appendFileSync(c.journal, '{"op":"meta","me\n{"op":"clear"}\n'),
  },
  {
    what: "a journal without its header",
    file: "journal",
    says: /line 1 is not the journal header/,
    damage: (c) => writeFileSync(c.journal, '{"op":"clear"}\n'),
  },
  {
    what: "a journal of a newer generation than the snapshot",
    file: "journal",
    says: /continues generation 99 of the snapshot, but .* is generation \d+/,
    damage: (c) =>
      writeFileSync(
        c.journal,
        '{"format":"remoterun-journal","version":2,"generation":99}\n{"op":"clear"}\n',
      ),
  },
  {
    what: "a fetched result that is not JSON",
    file: "snap",
    says: new RegExp(`${R1.source}: result is "\\{oops", expected the JSON text of the fetched result`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { result: "{oops" })),
  },
  {
    what: "a satisfied runner without its result",
    file: "snap",
    says: new RegExp(`${R1.source}: result is undefined, expected the fetched result of a satisfied runner`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { result: undefined })),
  },
  {
    what: "a submitted runner without a token",
    file: "snap",
    says: new RegExp(
      `${R1.source}: token is undefined, expected a submission token \\(the runner is submitted\\)`,
    ),
    damage: (c) =>
      editSnapshot(c.snap, (d) =>
        Object.assign(d.runners[1], { state: "submitted", token: undefined, result: undefined }),
      ),
  },
  {
    what: "a runner's stdout that is not text",
    file: "snap",
    says: new RegExp(`${R1.source}: stdout is 5, expected a string when present`),
    damage: (c) => editSnapshot(c.snap, (d) => Object.assign(d.runners[1], { stdout: 5 })),
  },
  {
    what: "a lock that is a folder",
    file: "lock",
    says: /the lock file is damaged .*If no process is using it, remove the lock file/,
    damage: (c) => mkdirSync(c.lock),
  },
  {
    what: "an empty lock file",
    file: "lock",
    says: /the lock file is damaged \(empty;.*If no process is using it, remove the lock file: rm \S+\.lock/,
    damage: (c) => writeFileSync(c.lock, ""),
  },
  {
    what: "a garbage lock file",
    file: "lock",
    says: /the lock file is damaged \(holds "garbage\\n"; .*rm \S+\.lock/,
    damage: (c) => writeFileSync(c.lock, "garbage\n"),
  },
];

describe("damaged databases and lock files", () => {
  it("the catalogue has at least 15 kinds of damage", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
  });

  for (const k of CASES) {
    it(`${k.what}: a DatabaseError naming the file and where, in the library and the CLI; nothing written`, async () => {
      const c = copy();
      k.damage(c);
      const file = c[k.file];
      const before = tree(root);
      const errors = [thrown(() => openIn(c.dir)), thrown(() => Dataset.open(c.db, { logger: () => {} }))];
      // Reading without the lock: a damaged database is never shown as if it were whole.
      if (k.file !== "lock") errors.push(thrown(() => Dataset.inspect(c.db)));
      for (const e of errors) {
        expect(e).toBeInstanceOf(DatabaseError);
        expect((e as DatabaseError).file).toBe(file);
        expect((e as Error).message).toContain(file);
        expect((e as Error).message).toMatch(k.says);
      }
      const status = await cli(["status", c.db], c.dir);
      expect(status.code).toBe(5);
      expect(status.stderr).toContain(file);
      expect(status.stderr).toMatch(k.says);
      expect(status.stdout).not.toMatch(/satisfied|bogus/);
      expect(tree(root)).toEqual(before);
      expect(readdirSync(join(c.dir, "db")).filter((f) => /\.(tmp|stale)-/.test(f))).toEqual([]);
    });
  }

  it("an edited function: Dataset.open and the CLI say the database was edited, and create no other database", async () => {
    const c = copy();
    editSnapshot(c.snap, (d) => {
      d.meta.functionSource = String(d.meta.functionSource).replace("2", "3");
    });
    const before = tree(root);
    const e = thrown(() => Dataset.open(c.db, { logger: () => {} }));
    expect(e).toBeInstanceOf(DatabaseError);
    expect((e as Error).message).toMatch(/hash to \w+: the database was edited/);
    const status = await cli(["status", c.db], c.dir);
    expect(status.code).toBe(5);
    expect(tree(root)).toEqual(before);
  });

  it("a lock whose pid now belongs to a process started after the lock was taken is taken over", async () => {
    const c = copy();
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    sleepers.push(sleeper);
    await new Promise((r) => sleeper.once("spawn", r));
    const pid = sleeper.pid!;
    // A live process named by a lock taken an hour before it started: the pid was reused.
    writeFileSync(
      c.lock,
      JSON.stringify({ pid, host: hostname(), since: new Date(Date.now() - 3600_000).toISOString() }),
    );
    const ds = openIn(c.dir);
    expect(ds.restored).toBe(true);
    expect(ds.results).toEqual([2, 4, 6]);
    expect(JSON.parse(readFileSync(c.lock, "utf8")).pid).toBe(process.pid);
    await ds.close();
    expect(readdirSync(join(c.dir, "db")).some((f) => f.endsWith(".lock"))).toBe(false);

    // The same live process, named by a lock taken after it started, is the holder.
    writeFileSync(c.lock, JSON.stringify({ pid, host: hostname(), since: new Date().toISOString() }));
    const before = tree(root);
    const err = thrown(() => openIn(c.dir));
    expect(err).toBeInstanceOf(DatasetLockedError);
    expect((err as DatasetLockedError).holder).toContain(`process ${pid}`);
    expect((err as DatasetLockedError).file).toBe(c.lock);
    expect(tree(root)).toEqual(before);
    sleeper.kill("SIGKILL");
  });
});
