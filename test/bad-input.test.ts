/**
 * Bad input at every public entry point: a typed error that names the bad value, and nothing
 * written — the scratch folder (database, staging, remote) is byte for byte what it was before.
 */
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
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Dataset,
  type DatasetOptions,
  InvalidArgumentError,
  RemoterunError,
  SerializationError,
} from "../src/index.js";

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "rr-bad-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Every file under dir with its bytes (folders too), to prove that nothing changed. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[`${relative(dir, p)}/`] = "";
        walk(p);
      } else out[relative(dir, p)] = readFileSync(p).toString("hex");
    }
  };
  walk(dir);
  return out;
}

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error, none was thrown");
}

async function caughtAsync(f: () => Promise<unknown>): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error, none was thrown");
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
const circular = (): Record<string, unknown> => {
  const o: Record<string, unknown> = { a: 1 };
  o.inner = { back: o };
  return o;
};

const fn = (a: Record<string, unknown>) => a;

let seq = 0;
/** A scratch folder with a Dataset that already has a runner and a saved database. */
function scene() {
  const tmp = join(root, `s${++seq}`);
  const messages: string[] = [];
  const opts: DatasetOptions = {
    name: "bad",
    dbDir: tmp,
    localDir: join(tmp, "local"),
    remoteDir: join(tmp, "remote"),
    logger: (m) => messages.push(m),
  };
  const ds = new Dataset(fn, { ...opts, skip: false });
  ds.appendRun({ x: 1 });
  ds.save();
  return { tmp, opts, ds, messages, before: tree(tmp) };
}

describe("new Dataset(...)", () => {
  it.each<[string, unknown, string, unknown]>([
    ["asynchronous: 'yes'", { asynchronous: "yes" }, "Dataset run args.asynchronous", "yes"],
    ["localDir: 3", { localDir: 3 }, "Dataset run args.localDir", 3],
    ["remoteDir: ''", { remoteDir: "" }, "Dataset run args.remoteDir", ""],
    ["remoteDir with a newline", { remoteDir: "a\nb" }, "Dataset run args.remoteDir", "a\nb"],
    ["runDir absolute", { runDir: "/abs" }, "Dataset run args.runDir", "/abs"],
    ["runDir escaping", { runDir: "../up" }, "Dataset run args.runDir", "../up"],
    ["force: 1", { force: 1 }, "force", 1],
    [
      "forceIgnoresSuccess: 'true'",
      { forceIgnoresSuccess: "true" },
      "Dataset run args.forceIgnoresSuccess",
      "true",
    ],
    ["maxProcesses: 0", { maxProcesses: 0 }, "Dataset run args.maxProcesses", 0],
    ["timeout: 0", { timeout: 0 }, "Dataset run args.timeout", 0],
    ["timeout: 'soon'", { timeout: "soon" }, "Dataset run args.timeout", "soon"],
    ["skip: 'no'", { skip: "no" }, "skip", "no"],
    ["name: ''", { name: "" }, "Dataset name", ""],
    ["name: '../x'", { name: "../x" }, "Dataset name", "../x"],
    ["name: 7", { name: 7 }, "Dataset name", 7],
    ["verbose: -1", { verbose: -1 }, "verbose", -1],
    ["logger: 'console'", { logger: "console" }, "logger", "console"],
    ["dbDir: ''", { dbDir: "" }, "dbDir", ""],
  ])("%s → InvalidArgumentError, old database untouched", (_label, bad, argument, value) => {
    const { tmp, opts, before } = scene();
    // skip: false would delete the old database: it must not get that far.
    const err = caught(() => new Dataset(fn, { ...opts, skip: false, ...(bad as object) }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    const e = err as InvalidArgumentError;
    expect(e.argument).toBe(argument);
    expect(e.value).toBe(value);
    expect(e.message).toContain(argument);
    expect(tree(tmp)).toEqual(before);
  });

  it.each<[string, () => unknown, string, string]>([
    ["a function", () => () => 1, "function", ""],
    ["a symbol", () => Symbol("s"), "Symbol(s)", ""],
    ["a class instance", () => new Point(1, 2), "Point", ""],
    ["a circular object", circular, "circular", ".inner.back"],
  ])("a custom run arg that is %s → InvalidArgumentError naming its path", (_l, make, shown, where) => {
    const { tmp, opts, before } = scene();
    const err = caught(() => new Dataset(fn, { ...opts, skip: false, custom: { deep: [make()] } }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).argument).toBe(`Dataset run args.custom.deep[0]${where}`);
    expect((err as Error).message).toContain(shown);
    expect(tree(tmp)).toEqual(before);
  });

  it.each<[string, unknown]>([
    ["a number", 42],
    ["a string of code", "(x) => x"],
    ["null", null],
    ["an object", { run: () => 1 }],
    ["a native function", Math.max],
    ["a bound function", ((x: unknown) => x).bind(null)],
    ["a class", class Model {}],
  ])("%s instead of a function → InvalidArgumentError, nothing written", (_l, notFn) => {
    const tmp = join(root, `nf${++seq}`);
    const err = caught(() => new Dataset(notFn as never, { dbDir: tmp, logger: () => {} }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).argument).toBe("function");
    expect(existsSync(tmp)).toBe(false);
  });

  it("a dbDir that cannot be a folder (below a file) → InvalidArgumentError naming it", () => {
    const file = join(root, `file${++seq}`);
    writeFileSync(file, "not a folder");
    const err = caught(() => new Dataset(fn, { dbDir: join(file, "db"), logger: () => {} }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).argument).toBe("dbDir");
    expect((err as Error).message).toContain(join(file, "db"));
  });

  it("options that are not an object, and missing extra files", () => {
    const tmp = join(root, `opt${++seq}`);
    expect(caught(() => new Dataset(fn, "skip" as never))).toBeInstanceOf(InvalidArgumentError);
    expect(caught(() => new Dataset(fn, [] as never))).toBeInstanceOf(InvalidArgumentError);
    const err = caught(() => new Dataset(fn, { dbDir: tmp, extraFilesSend: [join(tmp, "missing.txt")] }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).argument).toBe("extraFilesSend");
    expect(existsSync(tmp)).toBe(false);
    // Two files of one name would overwrite each other in remoteDir.
    const a = join(root, `same${seq}a`);
    const b = join(root, `same${seq}b`);
    mkdirSync(a, { recursive: true });
    mkdirSync(b, { recursive: true });
    writeFileSync(join(a, "data.txt"), "A");
    writeFileSync(join(b, "data.txt"), "B");
    const twice = caught(
      () => new Dataset(fn, { dbDir: tmp, extraFilesSend: [join(a, "data.txt"), join(b, "data.txt")] }),
    );
    expect(twice).toBeInstanceOf(InvalidArgumentError);
    expect((twice as Error).message).toMatch(/both named data\.txt/);
    expect(existsSync(tmp)).toBe(false);
  });
});

describe("appendRun(...)", () => {
  it.each<[string, object, string, unknown]>([
    ["asynchronous: 'yes'", { asynchronous: "yes" }, "Runner run args.asynchronous", "yes"],
    ["localDir: 3", { localDir: 3 }, "Runner run args.localDir", 3],
    ["runDir: '../x'", { runDir: "../x" }, "Runner run args.runDir", "../x"],
    ["skip: 'yes'", { skip: "yes" }, "appendRun skip", "yes"],
    ["force: 1", { force: 1 }, "appendRun force", 1],
    ["lazy: 'no'", { lazy: "no" }, "appendRun lazy", "no"],
    ["name: ''", { name: "" }, "runner name", ""],
    ["name: '../x'", { name: "../x" }, "runner name", "../x"],
    ["name: 'a/b'", { name: "a/b" }, "runner name", "a/b"],
    ["name: '.hidden'", { name: ".hidden" }, "runner name", ".hidden"],
    ["name: 5", { name: 5 }, "runner name", 5],
    ["a custom run arg that is a function", { custom: () => 1 }, "Runner run args.custom", undefined],
  ])("%s → InvalidArgumentError, nothing appended or written", (_l, bad, argument, value) => {
    const { tmp, ds, before, messages } = scene();
    messages.length = 0;
    const err = caught(() => ds.appendRun({ x: 2 }, bad as never));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    const e = err as InvalidArgumentError;
    expect(e.argument).toBe(argument);
    if (value !== undefined) expect(e.value).toBe(value);
    expect(ds.runners).toHaveLength(1);
    expect(messages).toEqual([]);
    expect(tree(tmp)).toEqual(before);
    // The Dataset still works and the next default name is not used up.
    expect(ds.appendRun({ x: 2 }).name).toBe("runner-1");
  });

  it.each<[string, () => unknown, string, string]>([
    ["a function", () => ({ cb: () => 1 }), "args.cb", "function"],
    ["a symbol", () => ({ list: [1, Symbol("s")] }), "args.list[1]", "symbol"],
    ["a class instance", () => ({ p: { q: new Point(1, 2) } }), "args.p.q", "Point"],
    ["a circular object", () => ({ c: circular() }), "args.c.inner.back", "circular"],
    ["a Map holding a function", () => ({ m: new Map([["k", () => 0]]) }), "args.m<value 0>", "function"],
  ])("args holding %s → SerializationError naming the path", (_l, make, path, reason) => {
    const { tmp, ds, before } = scene();
    const err = caught(() => ds.appendRun(make() as never));
    expect(err).toBeInstanceOf(SerializationError);
    const e = err as SerializationError;
    expect(e.path).toBe(path);
    expect(e.message).toContain(path);
    expect(e.message).toContain(reason);
    expect(ds.runners).toHaveLength(1);
    expect(tree(tmp)).toEqual(before);
  });

  it.each<[string, unknown]>([
    ["a number", 5],
    ["an array", [1, 2]],
    ["null", null],
    ["a string", "x=1"],
  ])("args that are %s → InvalidArgumentError", (_l, args) => {
    const { tmp, ds, before } = scene();
    const err = caught(() => ds.appendRun(args as never));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).value).toEqual(args);
    expect(tree(tmp)).toEqual(before);
  });

  it("appendRuns with one bad entry appends none of the list", () => {
    const { tmp, ds, before, messages } = scene();
    messages.length = 0;
    const err = caught(() => ds.appendRuns([{ x: 10 }, { x: 11 }, { bad: () => 1 }, { x: 12 }]));
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).path).toBe("args.bad");
    expect(ds.runners).toHaveLength(1);
    expect(messages).toEqual([]);
    expect(tree(tmp)).toEqual(before);
    // A later append does not drag the good half of the failed list in with it.
    ds.appendRun({ x: 13 });
    expect(ds.runners.map((r) => r.args)).toEqual([{ x: 1 }, { x: 13 }]);
    expect(ds.runners.map((r) => r.name)).toEqual(["runner-0", "runner-1"]);
    const back = new Dataset(fn, { ...scene().opts, dbDir: tmp, logger: () => {} });
    expect(back.runners.map((r) => r.args)).toEqual([{ x: 1 }, { x: 13 }]);
    expect(caught(() => back.appendRuns("nope" as never))).toBeInstanceOf(InvalidArgumentError);
  });
});

describe("run(...)", () => {
  it.each<[string, unknown, string, unknown]>([
    ["asynchronous: 'yes'", { asynchronous: "yes" }, "run() args.asynchronous", "yes"],
    ["localDir: 3", { localDir: 3 }, "run() args.localDir", 3],
    ["remoteDir: ''", { remoteDir: "" }, "run() args.remoteDir", ""],
    ["runDir: '/etc'", { runDir: "/etc" }, "run() args.runDir", "/etc"],
    ["force: 'yes'", { force: "yes" }, "run() args.force", "yes"],
    ["a symbol run arg", { tag: Symbol.iterator }, "run() args.tag", Symbol.iterator],
    ["a string", "force", "run args", "force"],
    ["an array", [], "run args", undefined],
  ])("%s → InvalidArgumentError, nothing staged, submitted or saved", async (_l, bad, argument, value) => {
    const { tmp, ds, before } = scene();
    const err = await caughtAsync(() => ds.run(bad as never));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    const e = err as InvalidArgumentError;
    expect(e.argument).toBe(argument);
    if (value !== undefined) expect(e.value).toBe(value);
    expect(ds.runners[0].state).toBe("created");
    expect(ds.temporaryRunArgs).toEqual({});
    expect(tree(tmp)).toEqual(before);
    expect(existsSync(join(tmp, "local"))).toBe(false);
  });

  it("run args broken by direct mutation are caught before anything is staged", async () => {
    const { tmp, ds, before } = scene();
    ds.runners[0].runArgs.localDir = 42 as never;
    const err = await caughtAsync(() => ds.run());
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).argument).toBe("runner-0 derived run args.localDir");
    expect(tree(tmp)).toEqual(before);
    // A temporary value repairs it for one run only: nothing is written by the check itself.
    delete ds.runners[0].runArgs.localDir;
    ds.runArgs.asynchronous = "sometimes" as never;
    expect(await caughtAsync(() => ds.run())).toBeInstanceOf(InvalidArgumentError);
    expect(tree(tmp)).toEqual(before);
  });
});

describe("setRunArgs / updateRunArgs", () => {
  it("a bad value is refused before anything changes, on the Dataset and on a Runner", () => {
    const { tmp, ds, before } = scene();
    const keep = { ...ds.runArgs };
    for (const f of [
      () => ds.setRunArgs("asynchronous", "yes"),
      () => ds.setRunArgs(["a", "localDir"], [1, 3]),
      () => ds.setRunArgs(["a", "b"], [1]),
      () => ds.setRunArgs([""], [1]),
      () => ds.setRunArgs([3 as never], [1]),
      () => ds.updateRunArgs({ a: 1, runDir: "../x" }),
      () => ds.updateRunArgs({ a: 1, cb: () => 1 }),
      () => ds.updateRunArgs(null as never),
      () => ds.updateRunArgs([] as never),
    ]) {
      expect(caught(f)).toBeInstanceOf(InvalidArgumentError);
    }
    expect(ds.runArgs).toEqual(keep);
    expect(tree(tmp)).toEqual(before);
    const r = ds.runners[0];
    expect(caught(() => r.setRunArgs("force", "yes"))).toBeInstanceOf(InvalidArgumentError);
    expect(caught(() => r.updateRunArgs({ ok: 1, remoteDir: 5 }))).toBeInstanceOf(InvalidArgumentError);
    expect(r.runArgs).toEqual({});
  });
});

describe("wait(...)", () => {
  it.each<[string, unknown, string, unknown]>([
    ["a string", "soon", "wait options", "soon"],
    ["null", null, "wait options", null],
    ["timeout: -1", { timeout: -1 }, "wait timeout", -1],
    ["timeout: NaN", { timeout: Number.NaN }, "wait timeout", Number.NaN],
    ["timeout: '5'", { timeout: "5" }, "wait timeout", "5"],
    ["interval: 0", { interval: 0 }, "wait interval", 0],
    ["interval: -0.5", { interval: -0.5 }, "wait interval", -0.5],
  ])(
    "%s → InvalidArgumentError before anything is asked of the remote side",
    async (_l, bad, argument, value) => {
      const { tmp, ds, before } = scene();
      let calls = 0;
      const exec = ds.connection.exec.bind(ds.connection);
      ds.connection.exec = (...a) => {
        calls++;
        return exec(...a);
      };
      const err = await caughtAsync(() => ds.wait(bad as never));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).argument).toBe(argument);
      expect((err as InvalidArgumentError).value).toEqual(value);
      expect(calls).toBe(0);
      expect(tree(tmp)).toEqual(before);
    },
  );
});

describe("errors are typed", () => {
  it("every error above is a RemoterunError with a stable code", () => {
    const { ds } = scene();
    const a = caught(() => ds.appendRun({ f: () => 1 } as never)) as RemoterunError;
    const b = caught(() => ds.setRunArgs("asynchronous", 1)) as RemoterunError;
    expect(a).toBeInstanceOf(RemoterunError);
    expect(a.code).toBe("ERR_NOT_SERIALIZABLE");
    expect(b.code).toBe("ERR_INVALID_ARGUMENT");
  });

  it("a database that is not a database is refused, not overwritten", () => {
    const { tmp, opts, ds } = scene();
    const dbFile = `${ds.dbFile}.json`;
    writeFileSync(dbFile, "garbage");
    const size = statSync(dbFile).size;
    const err = caught(() => new Dataset(fn, { ...opts, dbDir: tmp }));
    expect((err as RemoterunError).code).toBe("ERR_DATABASE");
    expect(readFileSync(dbFile, "utf8")).toBe("garbage");
    expect(statSync(dbFile).size).toBe(size);
  });
});
