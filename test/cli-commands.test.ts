/**
 * The `remoterun` commands that find, list and read Datasets — list, errors, logs — Datasets
 * named by their name, results as JSON with args and as CSV, dry runs summarised; run as a user would
 * (`node dist/cli/main.js ...`), outputs parsed, exit codes checked.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Computer, Dataset } from "../src/index.js";
import { type Child, spawnFixture } from "./helpers/child.js";
import { cli } from "./helpers/cli.js";
import { ensureDist } from "./helpers/dist.js";
import { masterEnded } from "./helpers/processes.js";
import { tree } from "./helpers/tree.js";
import { SOURCES } from "./lifecycle/functions.js";

let root: string;
const children: Child[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rr-cli-cmds-"));
  await ensureDist();
}, 120_000);
afterAll(async () => {
  for (const c of children) await c.kill9();
  rmSync(root, { recursive: true, force: true });
});

/** A function made from its source (the identity of a Dataset hashes the source). */
const fromSource = (source: string) => new Function(`return (${source});`)();

const FUNCTIONS = {
  /** Prints on both streams; fails for x === 2 after printing. */
  chatty: `({ x }) => {
    console.log("hello from " + x);
    console.error("warning about " + x);
    if (x === 2) throw new Error("x=2 is not allowed");
    return { double: x * 2, label: "v," + x };
  }`,
  alwaysFails: `({ i }) => { throw new Error("attempt " + i + " failed"); }`,
};

/** A Dataset of `source` in `dir` (made), with its runners appended; optionally run to the end. */
async function dataset(
  dir: string,
  name: string,
  source: string,
  args: Record<string, unknown>[],
  options: { complete?: boolean; computer?: Computer } = {},
) {
  mkdirSync(dir, { recursive: true });
  const dirs = { dbDir: dir, localDir: join(dir, "local"), remoteDir: join(dir, "remote") };
  const ds = new Dataset(fromSource(source), {
    name,
    skip: false,
    ...dirs,
    logger: () => {},
    ...(options.computer ? { computer: options.computer } : {}),
  });
  ds.appendRuns(args);
  if (options.complete) {
    await ds.run();
    await ds.wait({ interval: 0.1, timeout: 60 });
    await ds.fetchResults();
  }
  await ds.close();
  return { db: `${ds.dbFile}.json`, id: ds.folder.slice(-8), dirs, source, name };
}

describe("remoterun list", () => {
  it("every Dataset under a folder with counts, connection, computer and last change; read only; --json parsed", async () => {
    const proj = join(root, "list");
    const done = await dataset(join(proj, "sweeps"), "chatty", FUNCTIONS.chatty, [{ x: 1 }, { x: 2 }], {
      complete: true,
    });
    const fresh = await dataset(proj, "fresh", SOURCES.double, [{ x: 1 }, { x: 2 }, { x: 3 }], {
      computer: Computer.bash(),
    });
    // Not looked into: dependencies.
    await dataset(join(proj, "node_modules", "dep"), "hidden", SOURCES.double, [{ x: 1 }]);
    // Another process holds one of them: list reads it all the same, without the lock.
    const holder = spawnFixture("dataset-child.mjs", {
      mode: "hold",
      name: "chatty",
      fnSource: FUNCTIONS.chatty,
      ...done.dirs,
      args: [],
    });
    children.push(holder);
    expect(await holder.waitFor("ready")).toBe("ready 2");

    await masterEnded(Dataset.inspect(done.db).runners[0].jobId);
    const before = tree(proj);
    const json = await cli(["list", "--json"], proj);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout);
    expect(rows).toHaveLength(2);
    const byName = Object.fromEntries(rows.map((r: { name: string }) => [r.name, r]));
    expect(byName.chatty).toMatchObject({
      id: done.id,
      database: done.db,
      kind: "function",
      connection: "localhost",
      computer: null,
      total: 2,
      counts: { failed: 1, satisfied: 1 },
      error: null,
    });
    expect(byName.fresh).toMatchObject({
      database: fresh.db,
      computer: { name: "bash", submitter: "bash" },
      total: 3,
      counts: { created: 3 },
    });
    for (const r of rows) expect(Math.abs(Date.now() - Date.parse(r.lastChange))).toBeLessThan(3_600_000);

    const text = await cli(["list"], proj);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^DATASET +RUNNERS +CONNECTION +COMPUTER +LAST CHANGE +DATABASE$/m);
    expect(text.stdout).toMatch(
      /^chatty +failed 1 · satisfied 1 +localhost +- +\d{4}-\d\d-\d\d \d\d:\d\d +sweeps\//m,
    );
    expect(text.stdout).toMatch(/^fresh +created 3 +localhost +bash \(bash\) /m);
    expect(text.stdout).not.toContain("hidden");
    // From elsewhere, with the folder as argument; --depth 0 stays in the folder itself.
    const fromRoot = await cli(["list", relative(root, proj), "--json"], root);
    expect(JSON.parse(fromRoot.stdout)).toHaveLength(2);
    const shallow = await cli(["list", "--depth", "0", "--json"], proj);
    expect(JSON.parse(shallow.stdout).map((r: { name: string }) => r.name)).toEqual(["fresh"]);
    // Reading changed nothing, and the holder still has its Dataset.
    expect(tree(proj)).toEqual(before);
    holder.proc.stdin!.end();
    await holder.waitFor("closed");

    // A damaged database is listed as unreadable (exit 5); the others still are.
    writeFileSync(join(proj, "broken-0123abcd.remoterun.json"), "not json {");
    const damaged = await cli(["list", "--json"], proj);
    expect(damaged.code).toBe(5);
    const broken = JSON.parse(damaged.stdout).find((r: { name: string }) => r.name === "broken");
    expect(broken).toMatchObject({ id: "0123abcd", error: expect.stringContaining("not a readable") });
    expect(JSON.parse(damaged.stdout)).toHaveLength(3);
    const damagedText = await cli(["list"], proj);
    expect(damagedText.stdout).toMatch(/^broken +unreadable /m);
    rmSync(join(proj, "broken-0123abcd.remoterun.json"));

    expect((await cli(["list", "no-such-folder"], proj)).code).toBe(2);
    expect((await cli(["list", "--depth", "x"], proj)).code).toBe(2);
    const none = join(root, "list-empty");
    mkdirSync(none);
    const empty = await cli(["list", "--json"], none);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual([]);
    expect((await cli(["list"], none)).stdout).toContain("no Dataset under");
  }, 60_000);
});

describe("naming a Dataset", () => {
  it("by its name or <name>-<id>, from the project folder; ambiguous and unknown names exit 2 naming what was found", async () => {
    const proj = join(root, "names");
    const a = await dataset(join(proj, "a"), "twin", SOURCES.double, [{ x: 1 }]);
    // Another function under the same name: another id.
    const b = await dataset(join(proj, "b"), "twin", SOURCES.failOnTwo, [{ x: 1 }, { x: 2 }]);
    // The very same Dataset (same id) in a third folder.
    const c = await dataset(join(proj, "c"), "twin", SOURCES.double, [{ x: 1 }]);
    const solo = await dataset(join(proj, "deep", "er"), "solo", SOURCES.double, [{ x: 5 }]);

    const byName = await cli(["status", "--json", "solo"], proj);
    expect(byName.code, byName.stderr).toBe(0);
    expect(JSON.parse(byName.stdout)).toMatchObject({ dataset: "solo", database: solo.db, total: 1 });
    const byId = await cli(["status", "--json", `twin-${b.id}`], proj);
    expect(JSON.parse(byId.stdout)).toMatchObject({ database: b.db, total: 2 });

    const ambiguous = await cli(["status", "twin"], proj);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain("3 Datasets match twin");
    for (const x of [a, b, c]) expect(ambiguous.stderr).toContain(relative(proj, x.db));
    expect(ambiguous.stderr).not.toMatch(/^\s+at /m);
    expect(a.id).toBe(c.id);
    const sameId = await cli(["status", `twin-${a.id}`], proj);
    expect(sameId.code).toBe(2);
    expect(sameId.stderr).toMatch(/2 Datasets match twin-\w+: .*; give the file$/m);
    const byFile = await cli(["status", "--json", relative(proj, c.db)], proj);
    expect(JSON.parse(byFile.stdout)).toMatchObject({ database: c.db, total: 1 });

    const unknown = await cli(["results", "nobody"], proj);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no Dataset named nobody .*remoterun list/);

    // Without an argument, in a folder with no database: the ones below are named.
    const none = await cli(["status"], proj);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /no \*\.remoterun\.json database in the current folder; below it: twin \(a\/twin-/,
    );
    expect(none.stderr).toContain(`solo (${relative(proj, solo.db)})`);

    // Every command takes the name: run, wait, results.
    expect((await cli(["run", "solo"], proj)).code).toBe(0);
    expect((await cli(["wait", "solo", "-i", "0.1", "-t", "30"], proj)).code).toBe(0);
    const res = await cli(["results", "solo", "--json"], proj);
    expect(JSON.parse(res.stdout)).toEqual([
      { runner: "runner-0", state: "satisfied", args: { x: 5 }, result: 10 },
    ]);
  }, 60_000);
});

describe("results and status with args", () => {
  it("results --json and --csv carry the args (CSV: nested keys dotted, quoted); status --json too", async () => {
    const s = await dataset(
      join(root, "csv"),
      "chatty",
      FUNCTIONS.chatty,
      [{ x: 1, opt: { mode: 'a "quoted", value' } }, { x: 2 }, { x: 3, note: "line\nbreak" }],
      { complete: true },
    );
    const dir = join(root, "csv");
    const json = await cli(["results", "--json"], dir);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        runner: "runner-0",
        state: "satisfied",
        args: { x: 1, opt: { mode: 'a "quoted", value' } },
        result: { double: 2, label: "v,1" },
      },
      { runner: "runner-1", state: "failed", args: { x: 2 }, error: "Error: x=2 is not allowed" },
      {
        runner: "runner-2",
        state: "satisfied",
        args: { x: 3, note: "line\nbreak" },
        result: { double: 6, label: "v,3" },
      },
    ]);

    const csv = await cli(["results", "--csv", s.db], root);
    expect(csv.code).toBe(1);
    expect(csv.stdout).toBe(
      [
        "runner,state,x,opt.mode,note,result.double,result.label,error",
        'runner-0,satisfied,1,"a ""quoted"", value",,2,"v,1",',
        "runner-1,failed,2,,,,,Error: x=2 is not allowed",
        'runner-2,satisfied,3,,"line\nbreak",6,"v,3",',
        "",
      ].join("\n"),
    );
    expect(csv.stderr).toContain("1 of 3 runner(s) failed");
    expect((await cli(["results", "--csv", "--json"], dir)).code).toBe(2);

    const status = JSON.parse((await cli(["status", "--json"], dir)).stdout);
    expect(status.runners.map((r: { args: unknown }) => r.args)).toEqual([
      { x: 1, opt: { mode: 'a "quoted", value' } },
      { x: 2 },
      { x: 3, note: "line\nbreak" },
    ]);
  }, 60_000);

  it("a function that returns nothing succeeded: result null, exit 0; runners not run yet exit 1", async () => {
    const dir = join(root, "void");
    const s = await dataset(dir, "void", `({ x }) => { console.log(x); }`, [{ x: 1 }, { x: 2 }], {
      complete: true,
    });
    const json = await cli(["results", "--json"], dir);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      { runner: "runner-0", state: "satisfied", args: { x: 1 }, result: null },
      { runner: "runner-1", state: "satisfied", args: { x: 2 }, result: null },
    ]);
    expect(json.stderr).toBe("");
    const csv = await cli(["results", "--csv"], dir);
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe("runner,state,x,result,error\nrunner-0,satisfied,1,,\nrunner-1,satisfied,2,,\n");
    const table = await cli(["results", "--no-color"], dir);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/runner-0\s+satisfied\s+\(returned nothing\)/);

    const later = await dataset(join(root, "void-later"), "later", `({ x }) => x`, [{ x: 1 }]);
    const pending = await cli(["results", "--json", "--no-fetch", later.db], root);
    expect(pending.code).toBe(1);
    expect(JSON.parse(pending.stdout)).toEqual([{ runner: "runner-0", state: "created", args: { x: 1 } }]);
    expect(pending.stderr).toContain("1 of 1 runner(s) have no result yet");
    expect(s.name).toBe("void");
  }, 60_000);
});

describe("remoterun errors and logs", () => {
  it("errors lists each failure once with its args (--json parsed; exit 1, 0 when none); logs prints a runner's streams", async () => {
    const dir = join(root, "errlogs");
    await dataset(dir, "chatty", FUNCTIONS.chatty, [{ x: 1 }, { x: 2, tag: { k: "v" } }, { x: 3 }]);
    // Nothing has run: nothing known of a runner's output yet.
    const early = await cli(["logs", "runner-0"], dir);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain("nothing known yet of the output of runner-0: it has not run");
    expect(early.stdout).toBe("");
    expect((await cli(["errors"], dir)).code).toBe(0);

    expect((await cli(["run"], dir)).code).toBe(0);
    expect((await cli(["wait", "-i", "0.1", "-t", "30"], dir)).code).toBe(1);
    // The errors are fetched by errors itself.
    const errors = await cli(["errors"], dir);
    expect(errors.code).toBe(1);
    expect(errors.stdout).toMatch(/^RUNNER +ARGS +ERROR$/m);
    expect(errors.stdout).toMatch(/^runner-1 +x=2, tag\.k="v" +Error: x=2 is not allowed$/m);
    expect(errors.stdout.match(/not allowed/g)).toHaveLength(1);
    expect(errors.stdout).toContain("1 of 3 runner(s) failed");
    expect(errors.stdout).not.toContain("runner-0");
    const ej = await cli(["errors", "--json"], dir);
    expect(ej.code).toBe(1);
    const list = JSON.parse(ej.stdout);
    expect(list).toEqual([
      {
        runner: "runner-1",
        args: { x: 2, tag: { k: "v" } },
        error: "Error: x=2 is not allowed",
        fullError: expect.stringContaining("warning about 2"),
      },
    ]);

    const logs = await cli(["logs", "runner-0"], dir);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe(
      "==> runner-0 stdout <==\nhello from 1\n==> runner-0 stderr <==\nwarning about 1\n",
    );
    const failed = await cli(["logs", "runner-1"], dir);
    expect(failed.code).toBe(0);
    expect(failed.stdout).toContain("==> runner-1 stdout <==\nhello from 2\n");
    expect(failed.stdout).toContain("==> runner-1 stderr <==\nwarning about 2\n");
    expect(failed.stdout).toMatch(/==> runner-1 error <==\n[\s\S]*Error: x=2 is not allowed\n$/);
    // The stderr is not repeated in the error part.
    expect(failed.stdout.match(/warning about 2/g)).toHaveLength(1);
    const raw = await cli(["logs", "2", "--stdout"], dir);
    expect(raw).toMatchObject({ code: 0, stdout: "hello from 3\n" });
    expect((await cli(["logs", "runner-2", "--stderr"], dir)).stdout).toBe("warning about 3\n");
    const lj = JSON.parse((await cli(["logs", "runner-1", "--json"], dir)).stdout);
    expect(lj).toMatchObject({
      runner: "runner-1",
      state: "failed",
      args: { x: 2, tag: { k: "v" } },
      stdout: "hello from 2\n",
      stderr: "warning about 2\n",
      error: expect.stringContaining("x=2 is not allowed"),
    });
    const unknown = await cli(["logs", "runner-9"], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no runner runner-9 in Dataset chatty");
    expect((await cli(["logs"], dir)).code).toBe(2);
    expect((await cli(["logs", "runner-0", "--stdout", "--stderr"], dir)).code).toBe(2);
  }, 60_000);

  it("while a script holds the Dataset, errors and logs read what it recorded, without the lock", async () => {
    const dir = join(root, "held");
    const s = await dataset(dir, "chatty", FUNCTIONS.chatty, [{ x: 1 }, { x: 2 }], { complete: true });
    const holder = spawnFixture("dataset-child.mjs", {
      mode: "hold",
      name: s.name,
      fnSource: s.source,
      ...s.dirs,
      args: [],
    });
    children.push(holder);
    expect(await holder.waitFor("ready")).toBe("ready 2");
    await masterEnded(Dataset.inspect(s.db).runners[0].jobId);
    const before = tree(dir);
    const errors = await cli(["errors", "--json"], dir);
    expect(errors.code).toBe(1);
    expect(errors.stderr).toMatch(/read-only: held by process \d+/);
    expect(JSON.parse(errors.stdout)).toMatchObject([
      { runner: "runner-1", error: "Error: x=2 is not allowed" },
    ]);
    const logs = await cli(["logs", "runner-0", "--stdout"], dir);
    expect(logs).toMatchObject({ code: 0, stdout: "hello from 1\n" });
    expect(tree(dir)).toEqual(before);
    holder.proc.stdin!.end();
    await holder.waitFor("closed");
  }, 60_000);

  it("a script Dataset's output: logs prints what its script wrote", async () => {
    const dir = join(root, "script");
    mkdirSync(dir);
    const ds = new Dataset(undefined, {
      script: '#!/bin/bash\necho "out #x#"\necho "err #x#" >&2\n',
      name: "sh",
      skip: false,
      dbDir: dir,
      localDir: join(dir, "local"),
      remoteDir: join(dir, "remote"),
      logger: () => {},
    });
    ds.appendRuns([{ x: "one" }, { x: "two" }]);
    await ds.close();
    expect((await cli(["run", "sh"], dir)).code).toBe(0);
    expect((await cli(["wait", "sh", "-i", "0.1", "-t", "30"], dir)).code).toBe(0);
    const logs = await cli(["logs", "runner-1", "sh", "--json"], dir);
    expect(logs.code, logs.stderr).toBe(0);
    expect(JSON.parse(logs.stdout)).toMatchObject({
      runner: "runner-1",
      stdout: "out two\n",
      stderr: "err two\n",
    });
  }, 60_000);
});

describe("dry runs and failures", () => {
  it("retry and wipe dry runs print counts and the first names (--verbose: all); failures are printed once", async () => {
    const dir = join(root, "dry");
    const s = await dataset(
      dir,
      "fails",
      FUNCTIONS.alwaysFails,
      Array.from({ length: 12 }, (_, i) => ({ i })),
      { complete: true },
    );
    const names = Array.from({ length: 12 }, (_, i) => `runner-${i}`);
    await masterEnded(Dataset.inspect(s.db).runners[0].jobId);
    const dbBytes = readFileSync(s.db);
    const before = tree(dir);

    const retry = await cli(["retry", "--dry-run"], dir);
    expect(retry.code).toBe(0);
    expect(retry.stdout.trim()).toBe(
      `dry run: would resubmit 12 failed runner(s): ${names.slice(0, 5).join(", ")} and 7 more (--verbose lists all)`,
    );
    for (const args of [
      ["--verbose", "retry", "-n"],
      ["retry", "-n", "--verbose"],
    ]) {
      const all = await cli(args, dir);
      expect(all.code).toBe(0);
      expect(all.stdout).toContain(`dry run: would resubmit 12 failed runner(s): ${names.join(", ")}\n`);
      expect(all.stdout).not.toMatch(/would resubmit runner-/);
    }

    const wipe = await cli(["wipe", "--runs", "--local", "-n"], dir);
    expect(wipe.code).toBe(0);
    const lines = wipe.stdout.trim().split("\n");
    expect(lines).toEqual([
      `dry run: would delete 1 local folder(s): ${join(s.dirs.localDir, `fails-${s.id}`)}`,
      `dry run: would remove 12 runner(s): ${names.slice(0, 5).join(", ")} and 7 more (--verbose lists all)`,
      "nothing was changed",
    ]);
    const verbose = await cli(["wipe", "--hard", "-n", "-v"], dir);
    expect(verbose.stdout).toContain(`dry run: would remove 12 runner(s): ${names.join(", ")}\n`);
    expect(verbose.stdout).toContain(`dry run: would delete the database ${s.db}`);
    expect(verbose.stdout.match(/runner-11/g)).toHaveLength(1);
    expect(tree(dir)).toEqual(before);
    expect(readFileSync(s.db).equals(dbBytes)).toBe(true);

    // Every failure once in results (table) and in errors; stderr only counts.
    const res = await cli(["results"], dir);
    expect(res.code).toBe(1);
    for (const n of [0, 11])
      expect(`${res.stdout}${res.stderr}`.match(new RegExp(`attempt ${n} failed`, "g"))).toHaveLength(1);
    expect(res.stderr.trim()).toBe("12 of 12 runner(s) failed (remoterun errors lists them)");
    const errs = await cli(["errors"], dir);
    expect(errs.stdout.match(/attempt \d+ failed/g)).toHaveLength(12);
    expect(errs.stderr).toBe("");
  }, 60_000);
});
