/**
 * Script Datasets: a bash script with placeholders instead of a function, run with no node on the
 * far side. On localhost, then over a real sshd whose connection has no usable node.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect } from "../src/connection/index.js";
import { Dataset } from "../src/dataset/index.js";
import {
  InvalidArgumentError,
  RemoteEnvironmentError,
  RunnerFailedError,
  TemplateError,
  WaitTimeoutError,
} from "../src/shared/errors.js";
import { type SshdServer, startSshd } from "./harness/sshd.js";

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function dirs(tag: string) {
  const tmp = mkdtempSync(join(tmpdir(), `rr-script-${tag}-`));
  scratch.push(tmp);
  return { tmp, dbDir: tmp, localDir: join(tmp, "local"), remoteDir: join(tmp, "remote") };
}

function make(tag: string, script: string, extra: Record<string, unknown> = {}) {
  const d = dirs(tag);
  const { tmp: _tmp, ...opts } = d;
  const ds = new Dataset(undefined, { script, name: tag, skip: false, verbose: 0, ...opts, ...extra });
  return { ds, d };
}

async function runAll(ds: Dataset, temporary: Record<string, unknown> = {}) {
  await ds.run(temporary);
  await ds.wait({ interval: 0.1, timeout: 60 });
  return ds.fetchResults();
}

describe("script Datasets on localhost", () => {
  it("a runner's result is its stdout (one trailing newline trimmed)", async () => {
    const { ds, d } = make("hello", "#!/bin/bash\necho #greeting# #name#\n");
    ds.appendRun({ greeting: "hello", name: "world" });
    ds.appendRun({ greeting: "bonjour", name: "le monde ✓" });
    ds.appendRun({ greeting: "two\n", name: "lines" });
    expect(await runAll(ds)).toEqual(["hello world", "bonjour le monde ✓", "two\n lines"]);
    // local copies of the raw outputs, beside the staged files
    const local = join(d.localDir, ds.folder);
    expect(readFileSync(join(local, "runner-0.out"), "utf8")).toBe("hello world\n");
    expect(readFileSync(join(local, "runner-1.err"), "utf8")).toBe("");
    await ds.close();
  });

  it("multi-byte and binary-looking output round-trips byte for byte", async () => {
    const { ds } = make("bytes", "printf '%s' #v#\n");
    const v = "naïve ☃ 𝄞 日本語\ttab\r\nend";
    ds.appendRun({ v });
    expect(await runAll(ds)).toEqual([v]);
    await ds.close();
  });

  it("a failing script gives a RunnerFailedError carrying its stderr and its exit code", async () => {
    const { ds } = make("fail", "echo partial\necho 'first problem' >&2\necho #msg# >&2\nexit #code#\n");
    ds.appendRun({ msg: "the last line", code: 3 });
    ds.appendRun({ msg: "fine", code: 0 });
    const { ds: silent } = make("silent", "exit #code#\n");
    silent.appendRun({ code: 7 });
    const [bad, good] = await runAll(ds);
    expect(bad).toBeInstanceOf(RunnerFailedError);
    expect((bad as RunnerFailedError).message).toBe("exited with code 3: the last line");
    expect((bad as RunnerFailedError).fullError).toBe(
      "first problem\nthe last line\nexited with code 3: the last line",
    );
    expect(good).toBe("partial");
    expect(ds.errors[0]).toBe(bad);
    expect(ds.runners.map((r) => r.state)).toEqual(["failed", "satisfied"]);
    const [quiet] = await runAll(silent);
    expect((quiet as RunnerFailedError).message).toBe("exited with code 7");
    await ds.close();
    await silent.close();
  });

  it("the timeout run arg stops a script past its limit; the others run on", async () => {
    const script = [
      "case #mode# in",
      "  loop) while :; do :; done ;;",
      "  stubborn) trap '' TERM; while :; do :; done ;;",
      "  own) echo 'gave up' >&2; exit 124 ;;",
      "esac",
      "echo done #i#",
      "",
    ].join("\n");
    const { ds } = make("limit", script);
    ds.appendRun({ i: 0, mode: "loop" }, { timeout: 2 });
    ds.appendRun({ i: 1, mode: "stubborn" }, { timeout: 1 });
    ds.appendRun({ i: 2, mode: "own" }, { timeout: 100 });
    for (let i = 3; i < 6; i++) ds.appendRun({ i, mode: "plain" });
    const results = await runAll(ds, { asynchronous: false });
    expect((results[0] as RunnerFailedError).message).toBe(
      "exited with code 124: Error: timed out after 2 s",
    );
    // One that ignores TERM is killed 5 s later, and still reported as timed out.
    expect((results[1] as RunnerFailedError).message).toBe(
      "exited with code 137: Error: timed out after 1 s",
    );
    // Its own exit code 124, well within its limit, is not a time-out.
    expect((results[2] as RunnerFailedError).message).toBe("exited with code 124: gave up");
    expect(results.slice(3)).toEqual(["done 3", "done 4", "done 5"]);
    await ds.close();
  }, 60_000);

  it("runs in remoteDir, or in remoteDir/runDir (created when missing)", async () => {
    const { ds, d } = make("cwd", "pwd\n");
    ds.appendRun({});
    ds.appendRun({ x: 1 }, { runDir: "deep/inner" });
    const [plain, inner] = await runAll(ds);
    expect(plain).toBe(d.remoteDir);
    expect(inner).toBe(join(d.remoteDir, "deep/inner"));
    await ds.close();
  });

  it("asynchronous runners overlap in time; asynchronous: false runs them one after another", async () => {
    const script = "date +%s%3N\nsleep 0.6\ndate +%s%3N\n#i#\n";
    const spans = (results: unknown[]) =>
      results.map((r) => (r as string).split("\n").map(Number) as [number, number]);
    const overlaps = (s: [number, number][]) =>
      s.some((a, i) => s.some((b, j) => i !== j && a[0] < b[1] && b[0] < a[1]));

    const { ds: par } = make("par", script.replace("#i#", ": #i#"), { maxProcesses: 3 });
    par.appendRuns([{ i: 1 }, { i: 2 }, { i: 3 }]);
    const p = spans(await runAll(par));
    expect(overlaps(p)).toBe(true);

    const { ds: seq } = make("seq", script.replace("#i#", ": #i#"), { asynchronous: false });
    seq.appendRuns([{ i: 1 }, { i: 2 }, { i: 3 }]);
    const s = spans(await runAll(seq));
    expect(overlaps(s)).toBe(false);
    await par.close();
    await seq.close();
  }, 60_000);

  it("a script that never ends holds only itself: the other lane runs every other runner", async () => {
    const { ds } = make("looper", 'if [ "#k#" = 1 ]; then while :; do :; done; fi\necho $((#k# * 2))\n', {
      maxProcesses: 2,
    });
    ds.appendRuns(Array.from({ length: 12 }, (_, k) => ({ k })));
    await ds.run();
    try {
      const deadline = Date.now() + 45_000;
      const others = () => ds.runners.filter((r, k) => k !== 1 && r.state !== "completed").length;
      while (others() > 0 && Date.now() < deadline)
        await expect(ds.wait({ interval: 0.2, timeout: 1 })).rejects.toBeInstanceOf(WaitTimeoutError);
      expect(ds.runners.filter((r) => r.state !== "completed").map((r) => `${r.name} ${r.state}`)).toEqual([
        "runner-1 started",
      ]);
      await ds.fetchResults();
      expect(ds.results.filter((_, k) => k !== 1)).toEqual(
        Array.from({ length: 12 }, (_, k) => String(k * 2)).filter((_, k) => k !== 1),
      );
    } finally {
      await ds.cancel();
    }
    await ds.close();
  }, 60_000);

  it("skip and force work as for function Datasets", async () => {
    const counter = "n=$(cat count-#k# 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count-#k#; echo $n\n";
    const { ds } = make("resubmit", counter);
    ds.appendRun({ k: "a" });
    expect(ds.appendRun({ k: "a" })).toBe(ds.runners[0]); // the same args: skipped
    expect(await runAll(ds)).toEqual(["1"]);
    expect((await ds.run()).submitted).toEqual([]); // succeeded: not run twice
    expect((await ds.run({ force: true })).submitted).toEqual([]); // success needs forceIgnoresSuccess
    expect(await runAll(ds, { force: true, forceIgnoresSuccess: true })).toEqual(["2"]);
    await ds.close();
  });

  it("hostile args arrive as exact single words and nothing is executed", async () => {
    const d = dirs("hostile");
    const canary = join(d.tmp, "canary");
    const hostile = [
      "it's",
      `"double" and 'single'`,
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `'; touch ${canary}; '`,
      `"; touch ${canary}; "`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that must not expand
      "$HOME ${PATH} $1 $@ *",
      "line one\nline two\n",
      "  spaced  \t tabbed  ",
      "{notALink} {a+b}",
      "#other#",
      "-n",
      "ünïcödé ☃ 🙂",
      "back\\slash\\",
    ];
    const { tmp: _t, ...opts } = d;
    const ds = new Dataset(undefined, {
      script: "printf '[%s]' #v#\n",
      name: "hostile",
      skip: false,
      verbose: 0,
      ...opts,
    });
    for (const v of hostile) ds.appendRun({ v });
    ds.appendRun({ v: ["a b", "c", "", 4, true] }); // an array: one word per item
    const results = await runAll(ds);
    expect(results).toEqual([...hostile.map((v) => `[${v}]`), "[a b][c][][4][true]"]);
    expect(existsSync(canary)).toBe(false);
    await ds.close();
  });

  it("a missing placeholder value is a TemplateError before anything is staged", async () => {
    const { ds, d } = make("missing", "echo #greeting# #name#\n");
    ds.appendRun({ greeting: "hi", name: "ok" });
    ds.appendRun({ greeting: "hi" }, { name: "nameless" });
    const error = await ds.run().then(
      () => undefined,
      (e) => e,
    );
    expect(error).toBeInstanceOf(TemplateError);
    expect((error as TemplateError).placeholder).toBe("name");
    expect((error as TemplateError).runner).toBe("nameless");
    // script placeholders read the runner's args: the message says so
    expect((error as TemplateError).message).toContain('appendRun args need key "name"');
    expect((error as TemplateError).message).not.toContain("run arg");
    expect(ds.runners.map((r) => r.state)).toEqual(["created", "created"]);
    expect(existsSync(d.localDir)).toBe(false);
    expect(existsSync(d.remoteDir)).toBe(false);
    await ds.close();
  });

  it("defaults and optional placeholders follow the template grammar", async () => {
    const { ds } = make(
      "defaults",
      "echo #greeting:default=hello# #name#\necho #extra:optional=true#\necho end\n",
    );
    ds.appendRun({ name: "you" });
    ds.appendRun({ name: "me", greeting: "hey", extra: "more" });
    expect(await runAll(ds)).toEqual(["hello you\nend", "hey me\nmore\nend"]);
    await ds.close();
  });

  it("refuses bad scripts, bad args and a function given with a script", () => {
    const d = dirs("bad");
    const opts = { dbDir: d.dbDir, verbose: 0, skip: false };
    expect(() => new Dataset(undefined, opts)).toThrow(InvalidArgumentError);
    expect(() => new Dataset(null, { ...opts, script: "" })).toThrow(InvalidArgumentError);
    expect(() => new Dataset(undefined, { ...opts, script: 42 as unknown as string })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new Dataset((a: Record<string, unknown>) => a, { ...opts, script: "echo" })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new Dataset(undefined, { ...opts, script: "echo #x:bogus=1#" })).toThrow(TemplateError);
    const ds = new Dataset(null, { ...opts, name: "badargs", script: "echo #x#" });
    expect(() => ds.appendRun({ x: { nested: 1 } })).toThrow(/script arg x/);
    expect(() => ds.appendRun({ x: [[1]] })).toThrow(InvalidArgumentError);
    expect(() => ds.appendRun({ x: "nul\0byte" })).toThrow(InvalidArgumentError);
    expect(ds.runners).toHaveLength(0);
  });

  it("the identity hashes the script; Dataset.open() restores a script Dataset", async () => {
    const { ds, d } = make("reopen", "echo #x#\n");
    const other = new Dataset(undefined, {
      script: "echo #x# again\n",
      name: "reopen",
      dbDir: d.dbDir,
      verbose: 0,
    });
    expect(other.identity).not.toBe(ds.identity);
    await other.close();
    ds.appendRun({ x: "kept" });
    expect(await runAll(ds)).toEqual(["kept"]);
    await ds.close();
    const again = Dataset.open(ds.dbFile, { verbose: 0 });
    expect(again.script).toBe("echo #x#\n");
    expect(again.identity).toBe(ds.identity);
    expect(again.results).toEqual(["kept"]);
    again.appendRun({ x: "new" });
    expect(await runAll(again)).toEqual(["kept", "new"]);
    await again.close();
  });
});

describe("script Datasets over SSH without node", () => {
  let server: SshdServer;
  const connections: Connection[] = [];
  beforeAll(async () => {
    server = await startSshd();
  });
  afterAll(async () => {
    for (const c of connections) await c.close();
    const c = connect(server.connectionOptions());
    await c.exec(`rm -rf -- rr-script-${process.pid}-*`, { allowFailure: true });
    await c.close();
    await server?.stop();
  });

  it("a script Dataset runs where a function Dataset cannot find node", async () => {
    const connection = connect({ ...server.connectionOptions(), node: "/nonexistent/node" });
    connections.push(connection);
    const d = dirs("ssh");
    const remoteDir = `rr-script-${process.pid}-${basename(d.tmp)}`;
    const ds = new Dataset(undefined, {
      // the last line is dropped when `fail` has no value (an optional placeholder)
      script: "printf '%s|' #a# #b#\n: #fail:optional=true# && { echo boom >&2; exit 2; }\n",
      name: "sshscript",
      skip: false,
      verbose: 0,
      connection,
      dbDir: d.dbDir,
      localDir: d.localDir,
      remoteDir,
    });
    ds.appendRuns([
      { a: "x y", b: "$(whoami)" },
      { a: "ü", b: ["1", "2"] },
      { a: "f", b: "g", fail: "yes" },
    ]);
    await ds.run();
    await ds.wait({ interval: 0.1, timeout: 60 });
    const before = connection.stats.launches;
    const results = await ds.fetchResults();
    expect(connection.stats.launches - before).toBeLessThanOrEqual(2); // status + one fetch
    expect(results.slice(0, 2)).toEqual(["x y|$(whoami)|", "ü|1|2|"]);
    expect((results[2] as RunnerFailedError).message).toBe("exited with code 2: boom");
    await ds.close();

    const fn = new Dataset((args: Record<string, unknown>) => args, {
      name: "sshfn",
      skip: false,
      verbose: 0,
      connection,
      dbDir: d.dbDir,
      localDir: d.localDir,
      remoteDir,
    });
    fn.appendRun({ a: 1 });
    await expect(fn.run()).rejects.toBeInstanceOf(RemoteEnvironmentError);
    await fn.close();
  }, 120_000);
});
