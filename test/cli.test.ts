/**
 * The `remoterun` command, run as a user would (`node dist/cli/main.js ...`) on Datasets created with
 * the library in temporary folders: outputs and exit codes of every command.
 */
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dataset } from "../src/index.js";
import { type Child, spawnFixture } from "./helpers/child.js";
import { ensureDist, ROOT } from "./helpers/dist.js";
import { masterEnded } from "./helpers/processes.js";
import { tree } from "./helpers/tree.js";
import { type FunctionName, fromSource, SOURCES } from "./lifecycle/functions.js";

const MAIN = join(ROOT, "dist/cli/main.js");
let root: string;
const children: Child[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rr-cli-"));
  await ensureDist();
}, 120_000);
afterAll(async () => {
  for (const c of children) await c.kill9();
  rmSync(root, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const base = { ...process.env };
  delete base.FORCE_COLOR;
  delete base.NO_COLOR;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd, env: { ...base, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let seq = 0;
/** A Dataset of `fn` with one runner per args object, created and closed in its own folder. */
async function scene(fn: FunctionName, args: Record<string, unknown>[]) {
  const dir = join(root, `s${++seq}`);
  mkdirSync(dir);
  const name = `cli${seq}`;
  const dirs = { dbDir: dir, localDir: join(dir, "local"), remoteDir: join(dir, "remote") };
  const ds = new Dataset(fromSource(SOURCES[fn]), { name, skip: false, ...dirs, logger: () => {} });
  ds.appendRuns(args);
  await ds.close();
  const db = `${ds.dbFile}.json`;
  const run = (...a: string[]) => cli(a, dir);
  return { dir, name, db, folder: ds.folder, dirs, run, fnSource: SOURCES[fn], args };
}

describe("remoterun CLI", () => {
  it("--help lists the commands and documents the exit codes", async () => {
    const r = await cli(["--help"], root);
    expect(r.code).toBe(0);
    for (const c of [
      "status",
      "run",
      "wait",
      "fetch",
      "results",
      "retry",
      "cancel",
      "wipe",
      "list",
      "errors",
      "logs",
      "init",
    ])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    expect(r.stdout).toContain("Exit codes:");
    for (const line of ["0   success", "1   some runners failed", "2   usage error", "3   wait timed out"])
      expect(r.stdout).toContain(line);
    expect(r.stdout).toMatch(/4 +connection/);
    expect(r.stdout).toMatch(/5 +database locked/);
    const sub = await cli(["wipe", "--help"], root);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain("--dry-run");
  });

  it("status: counts per state, progress bar and runners, from the path, the path without .json, or the folder", async () => {
    const s = await scene("double", [{ x: 1 }, { x: 2 }, { x: 3 }]);
    const r = await s.run("status", s.db);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("created 3");
    expect(r.stdout).toContain("0/3 0%");
    expect(r.stdout).toMatch(/^runner-2 +created +-$/m);
    expect(r.stdout).not.toContain("\x1b[");
    const bare = await s.run("status", "--json", s.db.replace(/\.json$/, ""));
    expect(bare.code).toBe(0);
    const json = JSON.parse(bare.stdout);
    expect(json).toMatchObject({
      dataset: s.name,
      database: s.db,
      total: 3,
      finished: 0,
      counts: { created: 3 },
    });
    expect(json.runners.map((x: { name: string }) => x.name)).toEqual(["runner-0", "runner-1", "runner-2"]);
    const here = await s.run("status", "--json");
    expect(JSON.parse(here.stdout).total).toBe(3);
    // Inspection leaves the database as it was.
    const before = tree(s.dir);
    await s.run("status");
    expect(tree(s.dir)).toEqual(before);
  });

  it("run, wait, results --json: the values in runner order, exit 0", async () => {
    const s = await scene("double", [{ x: 1 }, { x: 2 }, { x: 3 }]);
    const run = await s.run("run", s.db);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("submitted 3 runner(s): runner-0, runner-1, runner-2");
    const wait = await s.run("wait", "--interval", "0.1", "--timeout", "30");
    expect(wait.code).toBe(0);
    expect(wait.stdout).toContain("all 3 runner(s) succeeded");
    const res = await s.run("results", "--json");
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([
      { runner: "runner-0", state: "satisfied", args: { x: 1 }, result: 2 },
      { runner: "runner-1", state: "satisfied", args: { x: 2 }, result: 4 },
      { runner: "runner-2", state: "satisfied", args: { x: 3 }, result: 6 },
    ]);
    expect(res.stderr).toBe("");
    const status = JSON.parse((await s.run("status", "--json")).stdout);
    expect(status).toMatchObject({ total: 3, finished: 3, counts: { satisfied: 3 } });
    expect(status.runners[0].jobId).toMatch(/^pid:\d+$/);
    // Nothing is submitted twice.
    const again = await s.run("run");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("no runners to submit");
    expect(again.stdout).toContain("skipped 3 runner(s)");
    const text = await s.run("results");
    expect(text.stdout).toMatch(/^runner-1 +satisfied +4$/m);
  });

  it("a failing runner: wait and results exit 1 and say why; status shows the error's last line", async () => {
    const s = await scene("failOnTwo", [{ x: 1 }, { x: 2 }, { x: 3 }]);
    expect((await s.run("run")).code).toBe(0);
    const wait = await s.run("wait", "--interval", "0.1", "--timeout", "30");
    expect(wait.code).toBe(1);
    expect(wait.stdout).toContain("2 of 3 runner(s) succeeded, 1 failed");
    expect(wait.stderr).toContain("runner-1");
    // Each failure once.
    expect(`${wait.stdout}${wait.stderr}`.match(/runner-1/g)).toHaveLength(1);
    const res = await s.run("results", "--json");
    expect(res.code).toBe(1);
    const values = JSON.parse(res.stdout);
    expect(values[0]).toEqual({ runner: "runner-0", state: "satisfied", args: { x: 1 }, result: 10 });
    expect(values[2]).toMatchObject({ runner: "runner-2", result: 30 });
    expect(values[1]).toEqual({
      runner: "runner-1",
      state: "failed",
      args: { x: 2 },
      error: expect.stringContaining("boom"),
    });
    // The failure is in the output once; stderr only counts.
    expect(res.stderr).not.toContain("boom");
    expect(res.stderr).toContain("1 of 3 runner(s) failed");
    const status = await s.run("status");
    expect(status.stdout).toMatch(/^runner-1 +failed +pid:\d+ +.*boom$/m);
    expect(JSON.parse((await s.run("status", "--json")).stdout).runners[1].error).toContain("boom");
    const text = await s.run("results");
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^runner-1 +failed +error: .*boom$/m);
    // Printed once: in the table, not again on stderr.
    expect(`${text.stdout}${text.stderr}`.match(/boom/g)).toHaveLength(1);
  });

  it("retry resubmits the failed runner only; then everything succeeds", async () => {
    const s = await scene("flaky", [{ key: "a" }]);
    await s.run("run");
    expect((await s.run("wait", "-i", "0.1", "-t", "30")).code).toBe(1);
    const dry = await s.run("retry", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("dry run: would resubmit 1 failed runner(s): runner-0");
    const retry = await s.run("retry");
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain("resubmitted 1 failed runner(s): runner-0");
    expect((await s.run("wait", "-i", "0.1", "-t", "30")).code).toBe(0);
    const res = await s.run("results", "--json");
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).map((r: { result: unknown }) => r.result)).toEqual(["second attempt of a"]);
    expect((await s.run("retry")).stdout).toContain("no failed runners to retry");
  });

  it("wait --timeout on a sleeping function exits 3; cancel stops it", async () => {
    const s = await scene("long", [{ x: 1 }]);
    await s.run("run");
    const t0 = Date.now();
    const wait = await s.run("wait", "--timeout", "0.2", "--interval", "0.05");
    expect(wait.code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(wait.stderr).toMatch(/wait timed out after 0\.2 s with 1 runner\(s\) pending: runner-0/);
    expect(wait.stderr).not.toMatch(/^\s+at /m);
    const cancel = await s.run("cancel");
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain("cancelled 1 runner(s): runner-0");
    const status = JSON.parse((await s.run("status", "--json")).stdout);
    expect(status.counts).toEqual({ failed: 1 });
    expect(status.runners[0].error).toBe("cancelled");
    expect((await s.run("cancel")).stdout).toContain("nothing to cancel");
  });

  it("status --watch refreshes until every runner has finished (one line per refresh when not a terminal)", async () => {
    const s = await scene("sleepThenSquare", [
      { x: 2, ms: 600 },
      { x: 3, ms: 50 },
    ]);
    await s.run("run");
    const r = await s.run("status", "--watch", "--interval", "0.1");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => / finished \(/.test(l) && /^\d{4}-/.test(l));
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.at(-1)).toMatch(/2\/2 finished \(completed 2\)/);
    expect(lines[0]).toMatch(/[01]\/2 finished/);
    expect(r.stdout).not.toContain("\x1b[");
    expect(r.stdout).toMatch(/^runner-0 +completed/m);
    const json = await s.run("status", "--watch", "--json");
    expect(json.code).toBe(0);
    const objs = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(objs.at(-1)).toMatchObject({ finished: 2, inFlight: 0 });
  });

  it("status --watch lets go of a Dataset between refreshes: a script opening it meanwhile gets it", async () => {
    const s = await scene("sleepThenSquare", [
      { x: 2, ms: 3000 },
      { x: 3, ms: 3000 },
    ]);
    await s.run("run");
    const watching = s.run("status", "--watch", "--interval", "0.2");
    await new Promise((r) => setTimeout(r, 800)); // the watch has refreshed a few times
    // The user's script starts again: it opens the Dataset (waiting a moment for a refresh at most).
    const ds = new Dataset(fromSource(s.fnSource), { name: s.name, ...s.dirs, logger: () => {} });
    await ds.wait({ interval: 0.2, timeout: 30 });
    expect(await ds.fetchResults()).toEqual([
      { x: 2, square: 4 },
      { x: 3, square: 9 },
    ]);
    await ds.close();
    const r = await watching;
    expect(r.code).toBe(0);
    // It followed the script's records once the script held the Dataset.
    expect(r.stderr).toContain("read-only: held by");
    expect(r.stdout).toContain("2/2 100%");
  });

  it("usage errors exit 2 with a clear message and no stack", async () => {
    const s = await scene("double", [{ x: 1 }]);
    const unknown = await s.run("status", "nope-123.remoterun.json");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no remoterun database at");
    expect(unknown.stderr).not.toMatch(/^\s+at /m);
    expect((await s.run("results", join(s.dir, "local"))).code).toBe(2);
    const empty = join(s.dir, "empty");
    mkdirSync(empty);
    const none = await cli(["status"], empty);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no *.remoterun.json database in the current folder");
    const other = await scene("double", [{ x: 2 }]);
    writeFileSync(join(other.dir, "zzz-1.remoterun.json"), "{}");
    const two = await other.run("status");
    expect(two.code).toBe(2);
    expect(two.stderr).toContain("2 databases in the current folder");
    expect((await s.run("status", "--bogus")).code).toBe(2);
    expect((await s.run("frobnicate")).code).toBe(2);
    expect((await s.run("wait", "--timeout", "soon")).code).toBe(2);
    const wipe = await s.run("wipe");
    expect(wipe.code).toBe(2);
    expect(wipe.stderr).toContain("--local, --remote, --runs and/or --hard");
    expect((await s.run("run", "--force-ignores-success")).code).toBe(2);
    expect(JSON.parse((await s.run("status", "--json")).stdout).counts).toEqual({ created: 1 });
  });

  it("a database held by another process exits 5 (stack only with --debug); an unreadable one too", async () => {
    const s = await scene("double", [{ x: 1 }, { x: 2 }]);
    const holder = spawnFixture("dataset-child.mjs", {
      mode: "hold",
      name: s.name,
      fnSource: s.fnSource,
      ...s.dirs,
      args: [],
    });
    children.push(holder);
    expect(await holder.waitFor("ready")).toBe("ready 2");
    const r = await s.run("run");
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/remoterun: error: database .* is in use by/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // status still works, read-only, from what the holder recorded
    const seen = await s.run("status", "--json");
    expect(seen.code).toBe(0);
    expect(seen.stderr).toMatch(/read-only: held by process \d+/);
    expect(JSON.parse(seen.stdout)).toMatchObject({ total: 2, counts: { created: 2 } });
    const debug = await s.run("--debug", "run");
    expect(debug.code).toBe(5);
    expect(debug.stderr).toMatch(/^\s+at /m);
    holder.proc.stdin!.end();
    await holder.waitFor("closed");
    await holder.exited;
    expect((await s.run("status")).code).toBe(0);

    const bad = await scene("double", [{ x: 1 }]);
    writeFileSync(bad.db, "not json {");
    const unreadable = await bad.run("status");
    expect(unreadable.code).toBe(5);
    expect(unreadable.stderr).toContain("not a readable remoterun database");
  });

  it("wipe --dry-run changes nothing; wipe --local deletes the staging folder; wipe --hard everything", async () => {
    const s = await scene("double", [{ x: 1 }, { x: 2 }]);
    await s.run("run");
    expect((await s.run("wait", "-i", "0.1", "-t", "30")).code).toBe(0);
    expect((await s.run("fetch")).stdout).toContain("fetched 2 new result(s)");
    const staging = join(s.dirs.localDir, s.folder);
    const remote = join(s.dirs.remoteDir, s.folder);
    expect(existsSync(staging) && existsSync(remote)).toBe(true);
    await masterEnded(Dataset.inspect(s.db).runners[0].jobId);

    const before = tree(s.dir);
    const dbBytes = readFileSync(s.db);
    for (const flags of [
      ["--local"],
      ["--remote"],
      ["--runs"],
      ["--local", "--remote", "--runs"],
      ["--hard"],
    ]) {
      const r = await s.run("wipe", ...flags, "--dry-run");
      expect(r.code, flags.join(" ")).toBe(0);
      expect(r.stdout).toContain("dry run: would");
      expect(r.stdout).toContain("nothing was changed");
      expect(tree(s.dir), flags.join(" ")).toEqual(before);
    }
    expect(readFileSync(s.db).equals(dbBytes)).toBe(true);
    const hardDry = await s.run("wipe", "--hard", "-n");
    expect(hardDry.stdout).toContain(`dry run: would delete 1 local folder(s): ${staging}`);
    expect(hardDry.stdout).toContain(`dry run: would delete 1 folder(s) on localhost: ${remote}`);
    expect(hardDry.stdout).toContain("dry run: would remove 2 runner(s): runner-0, runner-1");
    expect(hardDry.stdout).toContain(`dry run: would delete the database ${s.db}`);
    const values = (r: CliResult) => JSON.parse(r.stdout).map((x: { result: unknown }) => x.result);
    expect(values(await s.run("results", "--json", "--no-fetch"))).toEqual([2, 4]);

    const local = await s.run("wipe", "--local");
    expect(local.code).toBe(0);
    expect(local.stdout).toContain(`deleted ${staging}`);
    expect(existsSync(staging)).toBe(false);
    expect(existsSync(remote)).toBe(true);
    // Results live in the database, not in the staging folder.
    expect(values(await s.run("results", "--json"))).toEqual([2, 4]);

    const hard = await s.run("wipe", "--hard");
    expect(hard.code).toBe(0);
    expect(existsSync(remote)).toBe(false);
    expect(readdirSync(s.dir).filter((f) => f.includes(".remoterun"))).toEqual([]);
    expect((await s.run("status", s.db)).code).toBe(2);
  });

  it("relative localDir/remoteDir are taken relative to the database's folder, wherever the command runs", async () => {
    const dir = join(root, `s${++seq}`);
    mkdirSync(dir);
    const ds = new Dataset(fromSource(SOURCES.double), {
      name: `rel${seq}`,
      skip: false,
      dbDir: dir,
      localDir: "rel-local",
      remoteDir: "rel-remote",
      logger: () => {},
    });
    ds.appendRun({ x: 21 });
    await ds.close();
    const db = `${ds.dbFile}.json`;
    expect((await cli(["run", db], root)).code).toBe(0);
    expect((await cli(["wait", db, "-i", "0.1", "-t", "30"], root)).code).toBe(0);
    expect(JSON.parse((await cli(["results", "--json", db], root)).stdout)[0].result).toBe(42);
    expect(existsSync(join(dir, "rel-local", ds.folder))).toBe(true);
    expect(existsSync(join(dir, "rel-remote", ds.folder))).toBe(true);
    expect(existsSync(join(root, "rel-local"))).toBe(false);
  });

  it("a remote side that cannot be reached exits 4", async () => {
    const dir = join(root, `s${++seq}`);
    mkdirSync(dir);
    const ds = new Dataset(fromSource(SOURCES.double), {
      name: `unreachable${seq}`,
      skip: false,
      dbDir: dir,
      localDir: join(dir, "local"),
      remoteDir: "rr-remote",
      connection: { host: "127.0.0.1", port: 1, maxRetries: 0, timeout: 5 },
      logger: () => {},
    });
    ds.appendRun({ x: 1 });
    await ds.close();
    const r = await cli(["run"], dir);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^remoterun: error: /);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it("colours only when asked for: FORCE_COLOR on, NO_COLOR and --no-color off", async () => {
    const s = await scene("double", [{ x: 1 }]);
    expect((await cli(["status"], s.dir, { FORCE_COLOR: "1" })).stdout).toContain("\x1b[");
    expect((await cli(["status"], s.dir, { FORCE_COLOR: "1", NO_COLOR: "1" })).stdout).not.toContain("\x1b[");
    expect((await cli(["--no-color", "status"], s.dir, { FORCE_COLOR: "1" })).stdout).not.toContain("\x1b[");
    expect(statSync(MAIN).isFile()).toBe(true);
    expect(readFileSync(MAIN, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });
});
