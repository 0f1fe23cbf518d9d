/**
 * What a Dataset's function may be: mistakes refused at `new Dataset` (or at appendRun) with the
 * names in the message, accepted shapes that run, the { module, export } form, and the identity
 * that comments and formatting do not change.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dataset, type DatasetOptions } from "../src/dataset/index.js";
import { InvalidArgumentError } from "../src/shared/errors.js";
import { hashOf } from "../src/shared/hash.js";
import { ensureDist } from "./helpers/dist.js";
import { EXPECTED, writeDriver } from "./helpers/drivers.js";
import { makeProject, type Project } from "./helpers/project.js";
import { thrown as caught } from "./helpers/thrown.js";

const scratch: string[] = [];
const projects: Project[] = [];
const open: Dataset<Record<string, unknown>, unknown>[] = [];
afterAll(async () => {
  for (const ds of open) await ds.close().catch(() => {});
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  for (const p of projects) p.remove();
});

function folders(tag: string) {
  const tmp = mkdtempSync(join(tmpdir(), `rr-fn-${tag}-`));
  scratch.push(tmp);
  return { dbDir: tmp, localDir: join(tmp, "local"), remoteDir: join(tmp, "remote") };
}

function make<A extends Record<string, unknown>, R>(
  fn: ((args: A, ctx: { name: string }) => R) | { module: string; export?: string },
  options: DatasetOptions,
): Dataset<A, R> {
  const ds = new Dataset<A, R>(fn as never, { verbose: 0, ...options });
  open.push(ds as unknown as Dataset<Record<string, unknown>, unknown>);
  return ds;
}

async function runAll<A extends Record<string, unknown>, R>(ds: Dataset<A, R>): Promise<unknown[]> {
  await ds.run();
  await ds.wait({ interval: 0.05, timeout: 60 });
  return ds.fetchResults();
}

/**
 * The mistakes, defined at the top level of a real ES module (so that module constants, outer
 * locals and CommonJS names are what they are in a user's file), tried with `new Dataset` by a
 * child process; each prints its message.
 */
const MISTAKES_MODULE = `
import { Dataset, InvalidArgumentError } from "remoterun";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import padLeft from "pad-left";
import { scale as timesThree } from "./scale.mjs";

class Counter {
  constructor(start) {
    this.n = start;
  }
  add(k) {
    this.n += k;
    return this;
  }
}
function outerHelper(x) {
  return innerHelper(x) + 1;
}
function innerHelper(x) {
  return timesThree(x);
}
const factorial = ({ x }) => (x <= 1 ? 1 : x * factorial({ x: x - 1 }));

// A direct eval anywhere in the module makes its scopes dynamic: the top-level functions the
// accepted functions use must still be found.
if (process.env.REMOTERUN_NEVER_SET) eval("1");

function reassigned() {
  return 1;
}
reassigned = () => 2;
class Reclassed {}
Reclassed = class {};

// A TypeScript enum as tsc compiles it, and as esbuild (tsx) does.
var Color;
(function (Color) {
  Color[Color["Red"] = 1] = "Red";
  Color[Color["Green"] = 2] = "Green";
})(Color || (Color = {}));
var Shade = /* @__PURE__ */ ((Shade2) => {
  Shade2[Shade2["Light"] = 10] = "Light";
  Shade2["Dark"] = "dark";
  return Shade2;
})(Shade || {});
function paint(x) {
  return Color[x] + ":" + Color.Green + ":" + Shade.Light + ":" + Shade[10] + ":" + Shade.Dark;
}
var Mood;
(function (Mood) {
  Mood[Mood["Calm"] = 0] = "Calm";
})(Mood || (Mood = {}));
Mood = { Calm: 1 };

const SCALE = 3;
let counter = 0;
function makeWork() {
  const factor = 2;
  return ({ x }) => x * factor;
}
function outer() {
  return ({ x }) => arguments[0] + x;
}
function usesConstant(x) {
  return x * SCALE;
}

const cases = {
  "module const": ({ x }) => x * SCALE,
  "module let": ({ x }) => {
    counter++;
    return x;
  },
  "outer local": makeWork(),
  "undeclared global": ({ x }) => x + notDefinedAnywhere,
  "require": ({ path }) => require("node:fs").existsSync(path),
  "__dirname": ({ file }) => __dirname + "/" + file,
  "several at once": ({ x }) => SCALE * x + missingOne + missingTwo,
  "top-level function using a const": ({ x }) => usesConstant(x),
  "this": function ({ x }) {
    return this.base + x;
  },
  "arguments of an outer function": outer(),
  "three parameters": function work(a, b, c) {
    return a + b + c;
  },
  "class": class Work {},
  "class method using this": new (class {
    base = 1;
    run({ x }) {
      return this.base + x;
    }
  })().run,
  "super in a method": {
    run({ x }) {
      return super.toString() + x;
    },
  }.run,
  "native function": Math.max,
  "bound function": function ({ x }) {
    return x;
  }.bind(null),
  "generator": function* ({ n }) {
    yield n;
  },
  "async generator": async function* ({ n }) {
    yield n;
  },
  "reassigned top-level function": ({ x }) => reassigned() + x,
  "reassigned top-level class": ({ x }) => new Reclassed(x),
  "reassigned enum": ({ x }) => Mood[x],
  "direct eval": ({ x }) => eval("x + 1"),
  "import.meta": ({ file }) => new URL(file, import.meta.url).href,
  "getter": Object.getOwnPropertyDescriptor({ get value() { return 1; } }, "value").get,
};

// Accepted: each is bundled, then the bundle is imported here and called.
const accepted = {
  "top-level class": ({ x }) => new Counter(x).add(2).n,
  "chain of top-level functions to an aliased import": ({ x }) => outerHelper(x),
  "namespace import of a built-in": ({ file }) => path.basename(file),
  "default import of a CommonJS package": ({ x }) => padLeft(String(x), 3),
  "recursion through its own const": factorial,
  "typeof of an undeclared name": ({ x }) => (typeof someUndeclaredThing === "undefined" ? x : -1),
  "quoted method key": { "quoted name"({ x }) { return x + 1; } }["quoted name"],
  "numeric method key": { 42({ x }) { return x * 10; } }[42],
  "enums as tsc and esbuild compile them": ({ x }) => paint(x - 3),
};

const out = {};
for (const [label, fn] of Object.entries(accepted)) {
  const ds = new Dataset(fn, { name: "accepted", dbDir: process.argv[2], verbose: 0 });
  const file = process.argv[2] + "/shipped-" + Object.keys(out).length + ".mjs";
  writeFileSync(file, ds["functionSource"]);
  const shipped = (await import(file)).default;
  out[label] = await shipped({ x: 4, file: "/a/b.txt" }, { name: "r" });
}
for (const [label, fn] of Object.entries(cases)) {
  try {
    new Dataset(fn, { name: "mistake", dbDir: process.argv[2], verbose: 0 });
    out[label] = "ACCEPTED";
  } catch (e) {
    out[label] = (e instanceof InvalidArgumentError ? "" : "NOT AN InvalidArgumentError: ") + e.message;
  }
}
writeFileSync(process.argv[3], JSON.stringify(out));
`;

/** What the accepted functions of the module return for { x: 4, file: "/a/b.txt" }. */
const TAKEN: Record<string, unknown> = {
  "top-level class": 6,
  "chain of top-level functions to an aliased import": 13,
  "namespace import of a built-in": "b.txt",
  "default import of a CommonJS package": "004",
  "recursion through its own const": 24,
  "typeof of an undeclared name": 4,
  "quoted method key": 5,
  "numeric method key": 40,
  "enums as tsc and esbuild compile them": "Red:2:10:Light:dark",
};

/** Each mistake and what its message must name. */
const MISTAKES: [string, (string | RegExp)[]][] = [
  ["module const", ["SCALE at 1:", "top-level variable", "{ module:"]],
  ["module let", ["counter at 2:", "top-level variable"]],
  ["outer local", ["factor at 1:", "local variable of a function around"]],
  ["undeclared global", ["notDefinedAnywhere at 1:", "not defined"]],
  ["require", ["require at 1:", "CommonJS"]],
  ["__dirname", ["__dirname at 1:", "CommonJS"]],
  ["several at once", ["SCALE at", "missingOne at", "missingTwo at"]],
  ["top-level function using a const", ["SCALE (used by usesConstant, which the function uses)"]],
  ["this", ["`this` at 2:"]],
  ["arguments of an outer function", ["`arguments` at 1:", "function around this arrow"]],
  ["three parameters", ["3 parameters", "function work({ a, b, c })"]],
  ["class", ["a class"]],
  ["class method using this", ["`this` at 2:"]],
  ["super in a method", ["`super` at 2:"]],
  ["native function", ["native function"]],
  ["bound function", ["bound function"]],
  ["generator", [/\(a generator:/]],
  ["async generator", ["an async generator"]],
  ["reassigned top-level function", ["reassigned at 1:", "assigns again (at line", "can change at run time"]],
  ["reassigned top-level class", ["Reclassed at 1:", "top-level class", "assigns again"]],
  ["reassigned enum", ["Mood at 1:", "enum that its module assigns again"]],
  ["direct eval", ["direct `eval` at 1:", 'eval("x + 1")']],
  ["import.meta", ["`import.meta` at 1:", "{ module, export }"]],
  ["getter", ["a getter"]],
];

describe("function mistakes are refused at new Dataset", () => {
  let messages: Record<string, unknown> = {};
  beforeAll(async () => {
    await ensureDist();
    const project = makeProject("mistakes");
    projects.push(project);
    project.write("mistakes.mjs", MISTAKES_MODULE);
    project.write("scale.mjs", "export const scale = (x) => x * 3;\n");
    const outFile = join(project.dir, "out.json");
    const r = await project.run(process.execPath, ["mistakes.mjs", project.dir, outFile]);
    expect(r.code, r.err).toBe(0);
    messages = JSON.parse(readFileSync(outFile, "utf8"));
  });

  it("the table covers every case of the module", () => {
    expect(Object.keys(messages).sort()).toEqual([...MISTAKES.map(([k]) => k), ...Object.keys(TAKEN)].sort());
  });

  it("what may be taken along is bundled and runs", () => {
    for (const [label, result] of Object.entries(TAKEN)) expect(messages[label], label).toEqual(result);
  });

  it.each(MISTAKES)("%s", (label, needles) => {
    const message = String(messages[label]);
    expect(message).toMatch(/^invalid function: got function/);
    for (const n of needles) {
      if (typeof n === "string") expect(message).toContain(n);
      else expect(message).toMatch(n);
    }
  });
});

describe("remotemanager-style parameters are refused at appendRun", () => {
  const cases: [string, (...a: never[]) => unknown, Record<string, unknown>, string][] = [
    [
      "f(a, b) with { a, b }",
      function f(a: number, b: number) {
        return a + b;
      } as never,
      { a: 1, b: 2 },
      "function f({ a, b })",
    ],
    [
      "g(a) with { a }",
      function g(a: number) {
        return a;
      } as never,
      { a: 1 },
      "function g({ a })",
    ],
    [
      "an arrow (x, y) with { y }",
      ((x: number, y: number) => x + y) as never,
      { y: 1 },
      "function f({ x, y })",
    ],
    [
      "a default value does not hide it",
      function h(a = 1) {
        return a;
      } as never,
      { a: 2 },
      "function h({ a })",
    ],
  ];
  it.each(cases)("%s", (_label, fn, args, form) => {
    const ds = make(fn as never, { name: "params", ...folders("params") });
    const err = caught(() => ds.appendRun(args as never));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(form);
    expect(ds.runners).toHaveLength(0);
  });

  it("a parameter that names no arg is the args object, as documented", () => {
    const ds = make((args: { x: number }) => args.x, { name: "params-ok", ...folders("params-ok") });
    expect(ds.appendRun({ x: 1 }).name).toBe("runner-0");
  });
});

describe("accepted shapes run", () => {
  const shapes: [string, (args: never, ctx: never) => unknown, Record<string, unknown>, unknown][] = [
    [
      "async arrow",
      (async ({ x }: { x: number }) => {
        await new Promise((r) => setTimeout(r, 1));
        return x + 1;
      }) as never,
      { x: 1 },
      2,
    ],
    ["arrow expression", (({ x }: { x: number }) => x * 2) as never, { x: 4 }, 8],
    ["function expression", (({ x }: { x: number }) => x - 1) as never, { x: 4 }, 3],
    [
      "default parameter (the context)",
      (({ x }: { x: number }, ctx: { name: string } = { name: "none" }) => `${ctx.name}:${x}`) as never,
      { x: 1 },
      "runner-0:1",
    ],
    [
      "destructuring with defaults",
      (({ x, y = 10, z: { w } = { w: 5 } }: { x: number; y?: number; z?: { w: number } }) =>
        x + y + w) as never,
      { x: 1 },
      16,
    ],
    [
      "rest in destructuring",
      (({ x, ...rest }: Record<string, number>) => [x, Object.keys(rest).sort()]) as never,
      { x: 1, b: 2, a: 3 },
      [1, ["a", "b"]],
    ],
    [
      "inner helpers",
      (({ n }: { n: number }) => {
        function fact(k: number): number {
          return k <= 1 ? 1 : k * fact(k - 1);
        }
        const square = (v: number) => v * v;
        return square(fact(n));
      }) as never,
      { n: 4 },
      576,
    ],
    [
      "Math, JSON and process",
      (({ x }: { x: number }) =>
        JSON.parse(JSON.stringify({ root: Math.sqrt(x), node: typeof process.versions.node }))) as never,
      { x: 9 },
      { root: 3, node: "string" },
    ],
    [
      "method shorthand",
      {
        triple({ x }: { x: number }) {
          return x * 3;
        },
      }.triple as never,
      { x: 2 },
      6,
    ],
    [
      "a class of its own inside",
      (({ x }: { x: number }) => {
        class Sum {
          total = 0;
          add(v: number) {
            this.total += v;
            return this;
          }
        }
        return new Sum().add(x).add(1).total;
      }) as never,
      { x: 2 },
      3,
    ],
    [
      "its own arguments",
      function () {
        // biome-ignore lint/complexity/noArguments: the function's own arguments are what it may use
        return (arguments[0] as { x: number }).x;
      } as never,
      { x: 7 },
      7,
    ],
  ];

  it.each(shapes)("%s", async (label, fn, args, expected) => {
    const ds = make(fn as never, { name: `shape-${label.replace(/[^a-z]/g, "")}`, ...folders("shape") });
    ds.appendRun(args as never);
    expect(await runAll(ds)).toEqual([expected]);
  });

  it("an imported local helper and an npm package, from a driver script (.mjs)", async () => {
    await ensureDist();
    const project = makeProject("local");
    projects.push(project);
    const { command, args, module } = await writeDriver(project, "mjs");
    const options = { ...folders("local-driver"), verbose: 0 };
    const r = await project.run(command, [...args, JSON.stringify({ module, options })]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.trim().split("\n").at(-1)!)).toEqual({ inline: EXPECTED, module: EXPECTED });
  });
});

describe("the { module, export } form", () => {
  let project: Project;
  beforeAll(() => {
    project = makeProject("module");
    projects.push(project);
    project.write("lib/scale.ts", "export const scale = (x: number): number => x * 3;\n");
    project.write(
      "lib/work.ts",
      [
        'import padLeft from "pad-left";',
        'import { scale } from "./scale";',
        "export default ({ x }: { x: number }) => padLeft(String(scale(x)), 3);",
        "export function named({ x }: { x: number }): number {",
        "  return -x;",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("bundles the module with its imports (default export and a named one)", async () => {
    const a = make({ module: join(project.dir, "lib/work.ts") }, { name: "mod-default", ...folders("mod") });
    const b = make(
      { module: new URL(`file://${join(project.dir, "lib/work.ts")}`).href, export: "named" },
      { name: "mod-named", ...folders("mod") },
    );
    a.appendRuns([{ x: 1 }, { x: 12 }]);
    b.appendRun({ x: 5 });
    expect(await runAll(a)).toEqual(["003", "036"]);
    expect(await runAll(b)).toEqual([-5]);
  });

  it("a missing module is refused with its path", () => {
    const err = caught(
      () => new Dataset({ module: join(project.dir, "lib/nope.ts") }, { ...folders("mod") }),
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain("nope.ts does not exist");
  });

  it("a missing export is refused with its name and the exports there are", () => {
    const err = caught(
      () => new Dataset({ module: join(project.dir, "lib/work.ts"), export: "wrok" }, { ...folders("mod") }),
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('"wrok"');
    expect((err as Error).message).toContain("it exports default, named");
  });

  it("an export that is not a function: refused when the module says so, named by the runner otherwise", async () => {
    project.write(
      "lib/values.mjs",
      "export const notfn = 3;\nconst hidden = [1];\nexport { hidden as list };\nexport const late = Number('4');\n",
    );
    const file = join(project.dir, "lib/values.mjs");
    for (const [name, kind] of [
      ["notfn", "a number"],
      ["list", "an array"],
    ]) {
      const err = caught(() => new Dataset({ module: file, export: name }, { ...folders("mod") }));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toContain(`exports ${name} as ${kind}, not a function`);
    }
    const ds = make({ module: file, export: "late" }, { name: "mod-late", ...folders("mod") });
    ds.appendRun({ x: 1 });
    const [result] = await runAll(ds);
    expect(result).toBeInstanceOf(Error);
    const message = (result as Error).message;
    expect(message).toContain(
      `the export "late" of the function module ${JSON.stringify(file)} is not a function (it is a number)`,
    );
    expect(message).not.toContain("function.mjs");
  });

  it("a module that does not parse is refused with its path, the export and esbuild's first error", () => {
    project.write("lib/unparsable.mjs", "export function w( {\n");
    const file = join(project.dir, "lib/unparsable.mjs");
    const err = caught(() => new Dataset({ module: file, export: "w" }, { ...folders("mod") }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    const message = (err as Error).message;
    expect(message).toContain(`got ${JSON.stringify({ module: file, export: "w" }).slice(0, 20)}`);
    expect(message).toMatch(/unparsable\.mjs:\d+:\d+: /);
    expect(message).not.toContain("as default } from");
  });

  it("CommonJS packages find __dirname and __filename in the bundle", async () => {
    project.write(
      "node_modules/where-pkg/package.json",
      JSON.stringify({ name: "where-pkg", version: "1.0.0", main: "index.js" }),
    );
    project.write(
      "node_modules/where-pkg/index.js",
      'module.exports = () => [typeof __dirname, require("node:path").basename(__filename).length > 0];\n',
    );
    project.write("lib/where.mjs", 'import where from "where-pkg";\nexport default () => where();\n');
    const ds = make({ module: join(project.dir, "lib/where.mjs") }, { name: "mod-where", ...folders("mod") });
    ds.appendRun({ x: 1 });
    expect(await runAll(ds)).toEqual([["string", true]]);
  });

  it("its keys are checked, and its path may start with ~/", () => {
    const err = caught(
      () =>
        new Dataset({ module: join(project.dir, "lib/work.ts"), exprot: "named" } as never, folders("mod")),
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain("did you mean `export`?");
    const home = process.env.HOME;
    process.env.HOME = project.dir;
    try {
      const ds = new Dataset({ module: "~/lib/work.ts", export: "named" }, { ...folders("mod"), verbose: 0 });
      expect(ds.runners).toEqual([]);
    } finally {
      process.env.HOME = home;
    }
  });

  it("a module that imports the running driver script is refused (its top level would run on the far side)", () => {
    const driver = project.write("lib/driver.mjs", "export const K = 2;\nconsole.log('driver top level');\n");
    project.write(
      "lib/uses-driver.mjs",
      'import { K } from "./driver.mjs";\nexport default ({ x }) => x * K;\n',
    );
    const main = process.argv[1];
    process.argv[1] = driver;
    try {
      const err = caught(
        () => new Dataset({ module: join(project.dir, "lib/uses-driver.mjs") }, folders("mod")),
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toContain(`would take in ${driver}, the script that is running`);
    } finally {
      process.argv[1] = main;
    }
  });

  it("an import that does not resolve is refused with what esbuild says", () => {
    project.write("lib/broken.ts", 'import { x } from "./missing-module";\nexport default () => x;\n');
    const err = caught(
      () => new Dataset({ module: join(project.dir, "lib/broken.ts") }, { ...folders("mod") }),
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain("missing-module");
  });
});

describe("identity", () => {
  // The same function three ways: as written, with a comment and another layout, and changed.
  const original = ({ x }: { x: number }) => x + 1;
  // biome-ignore format: the layout is what the test changes
  const reformatted = ({   x   }: { x: number }) => /* a comment */ x
    + 1;
  const changed = ({ x }: { x: number }) => x + 2;

  it("a comment or formatting change keeps the Dataset; a code change makes a new one and says so", async () => {
    const dirs = folders("identity");
    const first = make(original, { name: "ident", ...dirs });
    first.appendRuns([{ x: 1 }, { x: 2 }]);
    expect(await runAll(first)).toEqual([2, 3]);
    await first.close();

    const messages: string[] = [];
    const same = make(reformatted, { name: "ident", ...dirs, verbose: 1, logger: (m) => messages.push(m) });
    expect(same.identity).toBe(first.identity);
    expect(same.restored).toBe(true);
    expect(same.runners.map((r) => r.state)).toEqual(["satisfied", "satisfied"]);
    expect(same.results).toEqual([2, 3]);
    expect(await same.run()).toEqual({ submitted: [], skipped: ["runner-0", "runner-1"] });
    expect(messages.some((m) => m.includes("another database"))).toBe(false);
    await same.close();

    const fresh = make(changed, { name: "ident", ...dirs, verbose: 1, logger: (m) => messages.push(m) });
    expect(fresh.identity).not.toBe(first.identity);
    expect(fresh.restored).toBe(false);
    const notes = messages.filter((m) => m.includes("another database"));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain(`${first.dbFile}.json`);
    expect(notes[0]).toContain("Dataset.open(");
    expect(readdirSync(dirs.dbDir).filter((f) => f.endsWith(".remoterun.json"))).toHaveLength(2);
    await fresh.close();

    // Dataset.open recomputes the identity from the stored bundle.
    const reopened = Dataset.open(`${first.dbFile}.json`, { verbose: 0 });
    open.push(reopened);
    expect(reopened.identity).toBe(first.identity);
    expect(reopened.results).toEqual([2, 3]);
    expect(basename(reopened.dbFile)).toBe(basename(first.dbFile));
  });

  it("a database whose identity hashed the function as it was shipped before still opens", async () => {
    const dirs = folders("identity-legacy");
    const first = make(original, { name: "legacy", ...dirs });
    first.appendRun({ x: 4 });
    expect(await runAll(first)).toEqual([5]);
    await first.close();
    // The same database as an earlier version wrote it: identity = hash of the shipped source.
    const doc = JSON.parse(readFileSync(`${first.dbFile}.json`, "utf8"));
    const legacy = hashOf({ function: doc.meta.functionSource, name: "legacy" });
    expect(legacy).not.toBe(first.identity);
    const file = join(dirs.dbDir, `legacy-${legacy.slice(0, 8)}.remoterun.json`);
    writeFileSync(file, JSON.stringify({ ...doc, identity: legacy }));
    const reopened = Dataset.open(file, { verbose: 0 });
    open.push(reopened);
    expect(reopened.identity).toBe(legacy);
    expect(reopened.dbFile).toBe(file.replace(/\.json$/, ""));
    expect(reopened.results).toEqual([5]);
  });

  it("says nothing at verbose 0", () => {
    const dirs = folders("identity-quiet");
    make(original, { name: "quiet", ...dirs }).appendRun({ x: 1 });
    const messages: string[] = [];
    make(changed, { name: "quiet", ...dirs, verbose: 0, logger: (m) => messages.push(m) });
    expect(messages).toEqual([]);
  });
});
