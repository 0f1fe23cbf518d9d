/**
 * The lifecycle of a Dataset — append, run, wait, fetch, the skip/force rules, directories,
 * asynchronous execution, kill -9 and resume — written once for any connection. Call
 * defineLifecycleSuite() from a test file with a factory for the connection under test:
 *
 *   defineLifecycleSuite("localhost", async () => ({ remoteDir: (tmp) => join(tmp, "remote") }));
 *   defineLifecycleSuite("ssh", async () => ({ connection, connectionSpec, remoteDir: (tmp) => `rr-${basename(tmp)}`, cleanup }));
 *
 * Everything on the far side is observed through the connection itself (exec) or through what the
 * runs return, never by reading the remote folder from this process.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../src/connection/types.js";
import { Dataset, type DatasetOptions } from "../../src/dataset/index.js";
import { InvalidArgumentError, RunnerFailedError, WaitTimeoutError } from "../../src/shared/errors.js";
import { shellQuote } from "../../src/shared/quote.js";
import { spawnFixture } from "../helpers/child.js";
import { ensureDist } from "../helpers/dist.js";
import { type AnyFn, type FunctionName, overlaps, remoteFn, SOURCES, type Stamp } from "./functions.js";

export interface LifecycleTarget {
  /** The connection under test; undefined = the Dataset's default (localhost). */
  connection?: Connection;
  /**
   * What a child process passes as the Dataset's `connection` option to reach the same place
   * (JSON). Default: `connection.toJSON()`, or nothing for the default connection.
   */
  connectionSpec?: unknown;
  /** The remoteDir to use for a test whose local scratch folder is `tmp` (may be relative for ssh). */
  remoteDir: (tmp: string) => string;
  cleanup?: () => Promise<void>;
}

const POLL = { interval: 0.05, timeout: 60 };

export function defineLifecycleSuite(label: string, makeConnection: () => Promise<LifecycleTarget>): void {
  describe(`Dataset lifecycle over ${label}`, () => {
    let target: LifecycleTarget;
    const scratch: string[] = [];
    const open: Dataset<Record<string, unknown>, unknown>[] = [];

    beforeAll(async () => {
      target = await makeConnection();
    });
    afterAll(async () => {
      for (const ds of open) {
        await ds.cancel().catch(() => {});
        await ds.close().catch(() => {});
      }
      await target?.cleanup?.();
      for (const d of scratch) rmSync(d, { recursive: true, force: true });
    });

    /** A fresh scratch folder and a Dataset factory that logs into `messages`. */
    function env(tag: string) {
      const tmp = mkdtempSync(join(tmpdir(), `rr-lc-${tag}-`));
      scratch.push(tmp);
      const dirs = {
        dbDir: tmp,
        localDir: join(tmp, "local"),
        remoteDir: target.remoteDir(tmp),
      };
      const messages: string[] = [];
      const make = (fn: FunctionName | AnyFn, options: DatasetOptions = {}) => {
        const ds = new Dataset(typeof fn === "string" ? remoteFn(fn) : fn, {
          name: tag,
          ...dirs,
          ...(target.connection ? { connection: target.connection } : {}),
          logger: (m: string) => messages.push(m),
          ...options,
        });
        open.push(ds as Dataset<Record<string, unknown>, unknown>);
        return ds;
      };
      /** Run a shell command in the remote folder of this test, through the connection. */
      const remoteShell = async (ds: Dataset, command: string) => {
        const r = await ds.connection.exec(`cd -- ${shellQuote(dirs.remoteDir)} && ${command}`, {
          allowFailure: true,
        });
        return r.stdout;
      };
      const childConfig = (mode: string, fn: FunctionName, args: unknown[], extra: object = {}) => ({
        mode,
        name: tag,
        fnSource: SOURCES[fn],
        ...dirs,
        connection: target.connectionSpec ?? target.connection?.toJSON(),
        args,
        ...extra,
      });
      return { tmp, dirs, messages, make, remoteShell, childConfig };
    }

    const finish = async (ds: Dataset) => {
      await ds.wait(POLL);
      return ds.fetchResults();
    };

    // ------------------------------------------------------------ results and errors

    describe("results and errors", () => {
      it("append, run, wait, fetch: results and errors in runner order", async () => {
        const { make, messages } = env("basic");
        const ds = make("failOnTwo", { skip: false });
        for (const x of [3, 2, 1, 4]) ds.appendRun({ x });
        expect(ds.results).toEqual([undefined, undefined, undefined, undefined]);
        const { submitted, skipped } = await ds.run();
        expect(submitted).toEqual(["runner-0", "runner-1", "runner-2", "runner-3"]);
        expect(skipped).toEqual([]);
        expect(messages.filter((m) => m.startsWith("submitted"))).toHaveLength(1);
        await ds.wait(POLL);
        expect(await ds.isFinished()).toEqual([true, true, true, true]);
        const results = await ds.fetchResults();
        expect(results).toEqual(ds.results);
        expect(ds.results[0]).toBe(30);
        expect(ds.results[2]).toBe(10);
        expect(ds.results[3]).toBe(40);
        const failure = ds.results[1];
        expect(failure).toBeInstanceOf(RunnerFailedError);
        const err = failure as RunnerFailedError;
        expect(err.message).toBe("Error: boom");
        expect(err.runner).toBe("runner-1");
        const lines = err.fullError.trim().split("\n");
        expect(lines.length).toBeGreaterThan(1);
        expect(lines[lines.length - 1]).toBe("Error: boom");
        expect(err.fullError).toMatch(/\bat\b/);
        expect(ds.errors).toEqual([undefined, err, undefined, undefined]);
        expect(ds.runners.map((r) => r.state)).toEqual(["satisfied", "failed", "satisfied", "satisfied"]);
      });

      it("results survive a restore, failures included", async () => {
        const { make } = env("restore-results");
        const ds = make("failOnTwo", { skip: false });
        ds.appendRuns([{ x: 1 }, { x: 2 }]);
        await ds.run();
        await finish(ds);
        await ds.close();
        const back = make("failOnTwo");
        expect(back.restored).toBe(true);
        expect(back.results[0]).toBe(10);
        expect(back.results[1]).toBeInstanceOf(RunnerFailedError);
        expect((back.results[1] as RunnerFailedError).message).toBe("Error: boom");
        expect(back.errors[1]?.fullError).toBe((ds.results[1] as RunnerFailedError).fullError);
      });
    });

    // ------------------------------------------------------------ skip / force: Dataset creation

    describe("skip and force at Dataset creation", () => {
      it("skip: true (default) restores runners, states and results", async () => {
        const { make, messages } = env("create-skip");
        const ds = make("double", { skip: false });
        ds.appendRuns([{ x: 1 }, { x: 2 }]);
        ds.appendRun({ x: 3 }); // never run
        await ds.run();
        ds.appendRun({ x: 4 });
        await ds.wait(POLL);
        await ds.fetchResults();
        await ds.close();
        messages.length = 0;
        const back = make("double");
        expect(back.restored).toBe(true);
        expect(messages[0]).toMatch(/^restored dataset create-skip .*\(4 runner\(s\)\)$/);
        expect(back.runners.map((r) => r.name)).toEqual(["runner-0", "runner-1", "runner-2", "runner-3"]);
        expect(back.runners.map((r) => r.state)).toEqual(["satisfied", "satisfied", "satisfied", "created"]);
        expect(back.results).toEqual([2, 4, 6, undefined]);
        // Appending the same args again is a duplicate of the restored runner.
        messages.length = 0;
        back.appendRun({ x: 1 });
        expect(messages).toEqual(["runner-0 already exists, skipping"]);
        // The restored Dataset runs only what never ran.
        const r = await back.run();
        expect(r.submitted).toEqual(["runner-3"]);
        await finish(back);
        expect(back.results).toEqual([2, 4, 6, 8]);
      });

      it("skip: false deletes the old database and starts afresh; force is ignored there", async () => {
        const { make } = env("create-fresh");
        const ds = make("double", { skip: false });
        ds.appendRuns([{ x: 1 }, { x: 2 }]);
        await ds.run();
        await finish(ds);
        await ds.close();

        // force: true at creation does not mean "start afresh": the Dataset is still restored.
        const forced = make("double", { force: true });
        expect(forced.restored).toBe(true);
        expect(forced.results).toEqual([2, 4]);
        expect("force" in forced.runArgs && forced.runArgs.force).toBe(false);
        await forced.close();

        const fresh = make("double", { skip: false });
        expect(fresh.restored).toBe(false);
        expect(fresh.runners).toEqual([]);
        expect(fresh.results).toEqual([]);
        await fresh.close();
        // And it stays fresh when restored later.
        const again = make("double");
        expect(again.runners).toHaveLength(0);
        // Names start over.
        again.appendRun({ x: 5 });
        expect(again.runners[0].name).toBe("runner-0");
      });
    });

    // ------------------------------------------------------------ skip / force: appendRun

    describe("skip and force at appendRun", () => {
      it("a duplicate is skipped with a message; skip:false / force:true append a distinct runner", () => {
        const { make, messages } = env("append");
        const ds = make("double", { skip: false });
        const a = ds.appendRun({ x: 1 });
        const dup = ds.appendRun({ x: 1 });
        expect(dup).toBe(a);
        expect(messages).toEqual(["appended run runner-0", "runner-0 already exists, skipping"]);
        const b = ds.appendRun({ x: 1 }, { skip: false });
        const c = ds.appendRun({ x: 1 }, { force: true });
        expect(messages.slice(2)).toEqual(["appended run runner-1", "appended run runner-2"]);
        expect(new Set([a.identity, b.identity, c.identity]).size).toBe(3);
        expect(ds.runners.map((r) => r.args)).toEqual([{ x: 1 }, { x: 1 }, { x: 1 }]);
        // skip/force of appendRun are not run args of the runner.
        expect(b.runArgs).toEqual({});
        // Same args but different run args: not a duplicate.
        const d = ds.appendRun({ x: 1 }, { runDir: "elsewhere" });
        expect(d.name).toBe("runner-3");
        expect(d.runArgs).toEqual({ runDir: "elsewhere" });
        // Key order of args does not matter for duplicates.
        ds.appendRun({ y: 1, z: 2 } as never);
        messages.length = 0;
        ds.appendRun({ z: 2, y: 1 } as never);
        expect(messages).toEqual(["runner-4 already exists, skipping"]);
        // skip: true / force: false explicitly: still skipped.
        ds.appendRun({ x: 1 }, { skip: true, force: false });
        expect(messages[1]).toBe("runner-0 already exists, skipping");
        expect(ds.runners).toHaveLength(5);
      });

      it("custom names: used as given, must be unique; a clash is refused and nothing is appended", () => {
        const { make, messages } = env("names");
        const ds = make("double", { skip: false });
        ds.appendRun({ x: 1 }, { name: "alpha" });
        expect(messages).toEqual(["appended run alpha"]);
        ds.appendRun({ x: 2 });
        expect(ds.runners.map((r) => r.name)).toEqual(["alpha", "runner-1"]);
        const journal = `${ds.dbFile}.journal`;
        const before = readFileSync(journal);
        let err: unknown;
        try {
          ds.appendRun({ x: 3 }, { name: "alpha" });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect((err as Error).message).toContain('"alpha"');
        expect(() => ds.appendRun({ x: 3 }, { name: "runner-1" })).toThrow(InvalidArgumentError);
        expect(ds.runners).toHaveLength(2);
        expect(readFileSync(journal)).toEqual(before);
        // A duplicate of args under a custom name is still a duplicate (skipped, not a clash).
        messages.length = 0;
        ds.appendRun({ x: 1 }, { name: "beta" });
        expect(messages).toEqual(["alpha already exists, skipping"]);
      });

      it("a custom name that looks like a default name does not block later appends", () => {
        const { make } = env("names-default");
        const ds = make("double", { skip: false });
        ds.appendRun({ x: 1 }, { name: "runner-1" });
        const next = ds.appendRun({ x: 2 });
        const after = ds.appendRun({ x: 3 });
        const names = ds.runners.map((r) => r.name);
        expect(new Set(names).size).toBe(3);
        expect(names[0]).toBe("runner-1");
        expect(next.name).toMatch(/^runner-\d+$/);
        expect(after.name).toMatch(/^runner-\d+$/);
      });

      it("appendRuns prints one summary and writes once", () => {
        const { make, messages } = env("lazy");
        const ds = make("double", { skip: false });
        ds.appendRun({ x: 0 });
        ds.appendRun({ x: 1 });
        messages.length = 0;
        const journal = `${ds.dbFile}.journal`;
        const linesBefore = readFileSync(journal, "utf8").split("\n").filter(Boolean).length;
        const list = Array.from({ length: 50 }, (_, x) => ({ x }));
        const runners = ds.appendRuns(list);
        expect(messages).toEqual(["Of 50 appends: 48 appended, 2 skipped, 0 forced"]);
        expect(runners).toHaveLength(50);
        expect(runners[0]).toBe(ds.runners[0]);
        expect(ds.runners).toHaveLength(50);
        const added = readFileSync(journal, "utf8").split("\n").filter(Boolean).slice(linesBefore);
        const runnerWrites = added.filter((l) => l.includes('"op":"runners"'));
        expect(runnerWrites).toHaveLength(1);
        expect(JSON.parse(runnerWrites[0]).recs).toHaveLength(48);

        messages.length = 0;
        ds.appendRuns([{ x: 0 }, { x: 99 }], { force: true });
        expect(messages).toEqual(["Of 2 appends: 1 appended, 0 skipped, 1 forced"]);

        // The lazy flag with finishAppend() does the same.
        messages.length = 0;
        ds.appendRun({ x: 100 }, { lazy: true });
        ds.appendRun({ x: 100 }, { lazy: true });
        expect(messages).toEqual([]);
        ds.finishAppend();
        expect(messages).toEqual(["Of 2 appends: 1 appended, 1 skipped, 0 forced"]);
      });

      it("lazy appends are saved by finishAppend and restored", async () => {
        const { make } = env("lazy-restore");
        const ds = make("double", { skip: false });
        ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
        const back = make("double");
        expect(back.runners.map((r) => r.args)).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
      });
    });

    // ------------------------------------------------------------ skip / force: run()

    describe("skip and force at run()", () => {
      it("in-flight runners are not resubmitted; force resubmits them and the fresh result wins", async () => {
        const { make, messages, remoteShell } = env("inflight");
        const ds = make("slowFirst", { skip: false });
        ds.appendRun({ key: "a", sleepMs: 1500 });
        await ds.run();
        const firstToken = ds.runners[0].token;
        messages.length = 0;
        const again = await ds.run();
        expect(again).toEqual({ submitted: [], skipped: ["runner-0"] });
        expect(messages.some((m) => /1 runner\(s\) skipped/.test(m))).toBe(true);
        expect(ds.runners[0].token).toBe(firstToken);
        expect(["submitted", "started"]).toContain(ds.runners[0].state);
        // The first submission must have begun its call before the forced one starts, or the forced
        // one would be the first call (a busy machine can start the first process late).
        for (let i = 0; i < 400; i++) {
          if ((await remoteShell(ds, "test -e called-a && echo yes")).includes("yes")) break;
          await new Promise((r) => setTimeout(r, 25));
        }

        const forced = await ds.run({ force: true });
        expect(forced.submitted).toEqual(["runner-0"]);
        expect(ds.runners[0].token).not.toBe(firstToken);
        await ds.wait(POLL);
        // Let the first submission finish too: it must not be able to replace the fresh result.
        const folder = ds.folder;
        for (let i = 0; i < 200; i++) {
          const lines = await remoteShell(
            ds,
            `cat -- ${shellQuote(folder)}/state/${firstToken}.*.log 2>/dev/null`,
          );
          if (/\tcompleted\t|\tfailed\t/.test(lines)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await ds.fetchResults();
        expect(ds.results).toEqual(["second call"]);
      });

      it("failed runners are resubmitted only with force (temporary level)", async () => {
        const { make } = env("failed");
        const ds = make("flaky", { skip: false });
        ds.appendRuns([{ key: "a" }, { key: "b" }]);
        await ds.run();
        await finish(ds);
        expect(ds.errors.map((e) => e?.message)).toEqual([
          "Error: first attempt of a fails",
          "Error: first attempt of b fails",
        ]);
        expect(await ds.run()).toEqual({ submitted: [], skipped: ["runner-0", "runner-1"] });
        expect(await ds.run({ force: false })).toEqual({ submitted: [], skipped: ["runner-0", "runner-1"] });
        expect((await ds.run({ force: true })).submitted).toEqual(["runner-0", "runner-1"]);
        // Immediately after a resubmission the old failure is gone.
        expect(ds.errors).toEqual([undefined, undefined]);
        await finish(ds);
        expect(ds.results).toEqual(["second attempt of a", "second attempt of b"]);
        expect(ds.errors).toEqual([undefined, undefined]);
        // skip: false is the same as force: true — but these succeeded now.
        expect((await ds.run({ skip: false })).submitted).toEqual([]);
      });

      it("a succeeded runner needs forceIgnoresSuccess as well; a stale result can never be returned", async () => {
        const { make, dirs, messages } = env("succeeded");
        const ds = make("counter", { skip: false });
        ds.appendRuns([{ key: "a" }, { key: "b" }]);
        await ds.run();
        await finish(ds);
        expect(ds.results).toEqual([
          { key: "a", n: 1 },
          { key: "b", n: 1 },
        ]);
        const oldTokens = ds.runners.map((r) => r.token);

        expect((await ds.run({ force: true })).submitted).toEqual([]);
        expect((await ds.run({ skip: false })).submitted).toEqual([]);
        expect((await ds.run({ forceIgnoresSuccess: true })).submitted).toEqual([]);
        expect(ds.runners.map((r) => r.token)).toEqual(oldTokens);
        expect(ds.results).toEqual([
          { key: "a", n: 1 },
          { key: "b", n: 1 },
        ]);

        messages.length = 0;
        const r = await ds.run({ force: true, forceIgnoresSuccess: true });
        expect(r.submitted).toEqual(["runner-0", "runner-1"]);
        expect(ds.results).toEqual([undefined, undefined]);
        // The previously fetched result files were moved aside locally.
        const local = join(dirs.localDir, ds.folder);
        for (const [i, name] of ["runner-0", "runner-1"].entries()) {
          const aside = join(local, `${name}.result.json.stale-${oldTokens[i]}`);
          expect(existsSync(aside)).toBe(true);
          expect(JSON.parse(readFileSync(aside, "utf8")).token).toBe(oldTokens[i]);
        }
        // Fetching before the new runs end never returns the old values.
        const early = await ds.fetchResults();
        for (const v of early) expect(v === undefined || (v as { n: number }).n === 2).toBe(true);
        await finish(ds);
        expect(ds.results).toEqual([
          { key: "a", n: 2 },
          { key: "b", n: 2 },
        ]);
        const fresh = JSON.parse(readFileSync(join(local, "runner-0.result.json"), "utf8"));
        expect(fresh.token).toBe(ds.runners[0].token);
        expect(fresh.token).not.toBe(oldTokens[0]);
      });

      it("force and forceIgnoresSuccess at Runner level affect that runner only", async () => {
        const { make } = env("runner-force");
        const ds = make("counter", { skip: false });
        ds.appendRuns([{ key: "a" }, { key: "b" }, { key: "c" }]);
        await ds.run();
        await finish(ds);
        ds.runners[1].runArgs.force = true;
        expect((await ds.run()).submitted).toEqual([]);
        ds.runners[1].setRunArgs("forceIgnoresSuccess", true);
        const r = await ds.run();
        expect(r).toEqual({ submitted: ["runner-1"], skipped: ["runner-0", "runner-2"] });
        await finish(ds);
        expect(ds.results.map((v) => (v as { n: number }).n)).toEqual([1, 2, 1]);
        // A temporary force: false beats the runner's own force.
        expect((await ds.run({ force: false })).submitted).toEqual([]);
      });

      it("force and forceIgnoresSuccess at Dataset level affect every runner", async () => {
        const { make } = env("dataset-force");
        const ds = make("counter", { skip: false });
        ds.appendRuns([{ key: "a" }, { key: "b" }]);
        await ds.run();
        await finish(ds);
        ds.setRunArgs(["force", "forceIgnoresSuccess"], [true, true]);
        expect((await ds.run()).submitted).toEqual(["runner-0", "runner-1"]);
        await finish(ds);
        expect(ds.results.map((v) => (v as { n: number }).n)).toEqual([2, 2]);
        // A runner-level override opts one runner out.
        ds.runners[0].runArgs.forceIgnoresSuccess = false;
        expect((await ds.run()).submitted).toEqual(["runner-1"]);
        await finish(ds);
        expect(ds.results.map((v) => (v as { n: number }).n)).toEqual([2, 3]);
        // And they are saved with the Dataset.
        ds.save();
        const back = make("counter");
        expect(back.runArgs).toMatchObject({ force: true, forceIgnoresSuccess: true });
        expect(back.runners[0].runArgs).toEqual({ forceIgnoresSuccess: false });
      });
    });

    // ------------------------------------------------------------ wait

    describe("wait", () => {
      it("throws WaitTimeoutError listing the runners still pending", async () => {
        const { make } = env("timeout");
        const ds = make("long", { skip: false });
        ds.appendRuns([{ x: 1 }, { x: 2 }]);
        const quick = make("double", { name: "timeout-quick", skip: false });
        quick.appendRun({ x: 1 });
        await ds.run();
        await quick.run();
        let err: unknown;
        try {
          await ds.wait({ interval: 0.05, timeout: 0.3 });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(WaitTimeoutError);
        const w = err as WaitTimeoutError;
        expect(w.pending).toEqual(["runner-0", "runner-1"]);
        expect(w.timeout).toBe(0.3);
        expect(w.message).toContain("runner-0, runner-1");
        // timeout 0: one look, then the error.
        await expect(ds.wait({ timeout: 0 })).rejects.toBeInstanceOf(WaitTimeoutError);
        expect(await ds.isFinished()).toEqual([false, false]);
        expect(ds.results).toEqual([undefined, undefined]);
        // Another Dataset is not held up by this one.
        await quick.wait(POLL);
        await quick.fetchResults();
        expect(quick.results).toEqual([2]);
        await ds.cancel();
      });
    });

    // ------------------------------------------------------------ directories

    describe("directories", () => {
      it("localDir holds the staged files, remoteDir receives them, the function runs in remoteDir", async () => {
        const { make, dirs, remoteShell } = env("dirs");
        const ds = make("files", { skip: false });
        ds.appendRun({ tag: "t0" });
        await ds.run();
        const local = join(dirs.localDir, ds.folder);
        const staged = readdirSync(local);
        // Every file of this submission (its name carries the token) was staged here, the function
        // and the runtime in the submission's own folder...
        const token = ds.runners[0].token!;
        expect(readdirSync(join(local, `runtime-${token}`))).toContain("function.mjs");
        const ofSubmission = staged.filter((f) => f.includes(token));
        expect(ofSubmission.length).toBeGreaterThan(0);
        await finish(ds);
        const res = ds.results[0] as { cwd: string; readBack: string; extra: string | null };
        expect(res.readBack).toBe("hello t0");
        expect(res.cwd.endsWith(dirs.remoteDir.replace(/^\.\//, ""))).toBe(true);
        expect(existsSync(join(local, "runner-0.result.json"))).toBe(true);
        // ...and sent to remoteDir, where the function wrote its own file.
        const listing = (
          await remoteShell(
            ds,
            `ls -- ${shellQuote(ds.folder)}; ls -- ${shellQuote(ds.folder)}/runtime-*; ls`,
          )
        ).split("\n");
        for (const f of ["function.mjs", "runtime.mjs", ...ofSubmission]) expect(listing).toContain(f);
        expect(listing).toContain("written-t0.txt");
      });

      it("runDir: the function runs in a sub-folder and reaches extra files at ../file", async () => {
        const { make, dirs, tmp, remoteShell } = env("rundir");
        const extraFile = join(tmp, "extra-input.txt");
        writeFileSync(extraFile, "extra content");
        const ds = make("files", { skip: false, extraFilesSend: [extraFile], runDir: "work" });
        ds.appendRun({ tag: "a" });
        ds.appendRun({ tag: "b" }, { runDir: "other" });
        await ds.run();
        await finish(ds);
        const [a, b] = ds.results as { cwd: string; readBack: string; extra: string }[];
        expect(basename(a.cwd)).toBe("work");
        expect(basename(b.cwd)).toBe("other");
        expect(a.extra).toBe("extra content");
        expect(b.extra).toBe("extra content");
        expect(a.readBack).toBe("hello a");
        const listing = await remoteShell(ds, "ls work other");
        expect(listing).toContain("written-a.txt");
        expect(listing).toContain("written-b.txt");
        expect(await remoteShell(ds, "cat extra-input.txt")).toBe("extra content");
        expect(existsSync(join(dirs.localDir, "extra-input.txt"))).toBe(true);
      });

      it("folders with spaces and quotes work", async () => {
        const { make, tmp } = env("odd-dirs");
        const odd = "it's a $dir";
        const ds = make("files", {
          skip: false,
          localDir: join(tmp, `local ${odd}`),
          remoteDir: `${target.remoteDir(tmp)}-${odd}`,
          runDir: "run dir",
        });
        ds.appendRun({ tag: "q" });
        await ds.run();
        await finish(ds);
        const res = ds.results[0] as { cwd: string; readBack: string };
        expect(res.readBack).toBe("hello q");
        expect(res.cwd.endsWith(`-${odd}/run dir`)).toBe(true);
      });
    });

    // ------------------------------------------------------------ asynchronous

    describe("asynchronous", () => {
      const stamps = (ds: Dataset) => ds.results as Stamp[];

      it("async functions overlap with asynchronous: true and never with false", async () => {
        const { make } = env("async-sleep");
        const runs = [0, 1, 2, 3].map((i) => ({ i, ms: 400 }));
        const par = make("sleepStamp", { skip: false });
        par.appendRuns(runs);
        await par.run();
        await finish(par);
        expect(overlaps(stamps(par)).length).toBeGreaterThan(0);

        const seq = make("sleepStamp", { name: "async-sleep-seq", skip: false, asynchronous: false });
        seq.appendRuns(runs);
        await seq.run();
        await finish(seq);
        expect(overlaps(stamps(seq))).toEqual([]);
        expect(new Set(stamps(seq).map((s) => s.pid)).size).toBe(1);
      });

      it("synchronous functions run in parallel processes with asynchronous: true, one by one with false", async () => {
        const { make, remoteShell } = env("async-busy");
        const runs = [0, 1, 2, 3].map((i) => ({ i, ms: 300 }));
        const par = make("busyStamp", { skip: false });
        par.appendRuns(runs);
        await par.run();
        await finish(par);
        const cores = Number((await remoteShell(par, "nproc 2>/dev/null || echo 1")).trim());
        const pids = new Set(stamps(par).map((s) => s.pid));
        expect(pids.size).toBe(Math.min(cores, runs.length));
        if (cores >= 2) expect(overlaps(stamps(par)).length).toBeGreaterThan(0);

        // maxProcesses caps the processes.
        const capped = make("busyStamp", { name: "async-busy-cap", skip: false, maxProcesses: 1 });
        capped.appendRuns(runs);
        await capped.run();
        await finish(capped);
        expect(new Set(stamps(capped).map((s) => s.pid)).size).toBe(1);
        expect(overlaps(stamps(capped))).toEqual([]);

        // Temporary asynchronous: false for one run().
        const seq = make("busyStamp", { name: "async-busy-seq", skip: false });
        seq.appendRuns(runs);
        await seq.run({ asynchronous: false });
        await finish(seq);
        expect(overlaps(stamps(seq))).toEqual([]);
        expect(new Set(stamps(seq).map((s) => s.pid)).size).toBe(1);
        const order = [...stamps(seq)].sort((a, b) => a.start - b.start).map((s) => s.i);
        expect(order).toEqual([0, 1, 2, 3]);
        expect(seq.runArgs.asynchronous).toBe(true);
      });
    });

    // ------------------------------------------------------------ kill -9 and resume

    describe("kill -9 and resume", () => {
      beforeAll(async () => {
        await ensureDist();
      }, 120_000);

      const args = [1, 2, 3, 4].map((x) => ({ x, ms: 1500 }));
      const expected = args.map(({ x }) => ({ x, square: x * x }));

      it("a process killed right after run() returns: a new Dataset restores, waits and fetches everything", async () => {
        const { make, childConfig } = env("kill-after-run");
        const child = spawnFixture("dataset-child.mjs", childConfig("run", "sleepThenSquare", args));
        try {
          const line = await child.waitFor("ran ");
          await child.kill9();
          expect(JSON.parse(line.slice(4)).submitted).toEqual([
            "runner-0",
            "runner-1",
            "runner-2",
            "runner-3",
          ]);
        } finally {
          await child.kill9();
        }
        const ds = make("sleepThenSquare");
        expect(ds.restored).toBe(true);
        expect(ds.runners).toHaveLength(4);
        // Still running: the runs outlive the process that started them.
        expect(ds.runners.every((r) => r.state === "submitted" || r.state === "started")).toBe(true);
        expect(ds.results).toEqual([undefined, undefined, undefined, undefined]);
        // Nothing is resubmitted.
        expect((await ds.run()).submitted).toEqual([]);
        await finish(ds);
        expect(ds.results).toEqual(expected);
      });

      it("a process killed while appending leaves a readable database with the runners appended so far", async () => {
        const { make, childConfig } = env("kill-appending");
        const many = Array.from({ length: 40 }, (_, x) => ({ x, ms: 10 }));
        const child = spawnFixture(
          "dataset-child.mjs",
          childConfig("append", "sleepThenSquare", many, { skip: false }),
        );
        try {
          await child.waitFor("appended 2");
          await child.kill9();
        } finally {
          await child.kill9();
        }
        const printed = child.lines.filter((l) => l.startsWith("appended ")).length;
        const ds = make("sleepThenSquare");
        expect(ds.restored).toBe(true);
        // Every append that was reported is there (one more may have landed before the kill).
        expect(ds.runners.length).toBeGreaterThanOrEqual(printed);
        expect(ds.runners.length).toBeLessThanOrEqual(printed + 1);
        expect(ds.runners.map((r) => r.args)).toEqual(many.slice(0, ds.runners.length));
        expect(ds.runners.every((r) => r.state === "created")).toBe(true);
        ds.appendRuns(many.slice(0, 5));
        await ds.run();
        await finish(ds);
        expect(ds.results).toEqual(
          ds.runners.map((r) => ({ x: r.args.x, square: (r.args.x as number) ** 2 })),
        );
      });

      it("a process killed anywhere between appending and submitting: the restored Dataset completes the work", async () => {
        const { make, childConfig } = env("kill-before-run");
        const quickArgs = args.map((a) => ({ ...a, ms: 50 }));
        const child = spawnFixture(
          "dataset-child.mjs",
          childConfig("run", "sleepThenSquare", quickArgs, { skip: false }),
        );
        try {
          await child.waitFor("appended");
          await child.kill9();
        } finally {
          await child.kill9();
        }
        const ds = make("sleepThenSquare");
        expect(ds.runners.map((r) => r.args)).toEqual(quickArgs);
        // Whatever state the kill left (created, staged, transferred or submitted), run() finishes the job.
        await ds.run();
        await finish(ds);
        expect(ds.results).toEqual(quickArgs.map(({ x }) => ({ x, square: x * x })));
      });
    });
  });
}
