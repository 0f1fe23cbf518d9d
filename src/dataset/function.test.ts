import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../shared/errors.js";
import { analyseFunction } from "./analyse.js";
import { normalisedSource } from "./bundle.js";
import { checkArgsAgainst, fromSource, shippedFunction } from "./function.js";

const dir = mkdtempSync(join(tmpdir(), "rr-fnunit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** Import a shipped module as the far side does and return its default export. */
async function load(source: string): Promise<(args: unknown, ctx: unknown) => unknown> {
  const file = join(dir, `f${seq++}.mjs`);
  writeFileSync(file, source);
  return (await import(pathToFileURL(file).href)).default;
}

describe("helpers that TypeScript tooling injects", () => {
  it("__name is defined even when the function's module cannot be read", async () => {
    // What tsx makes of a function with an inner helper, made where no module file defines it.
    const fn = new Function(
      'return async ({ x }) => { const inner = __name((v) => v + 1, "inner"); return [inner(x), inner.name]; };',
    )();
    const shipped = shippedFunction(fn);
    expect(await (await load(shipped.source))({ x: 1 }, { name: "r" })).toEqual([2, "inner"]);
  });

  it("other free variables of such a function are refused by name", () => {
    const fn = new Function('return ({ x }) => __name(() => x * SCALE, "f")();')();
    expect(() => shippedFunction(fn)).toThrow(/SCALE at 1:\d+ .*could not be read/);
  });
});

describe("analysis", () => {
  it("method shorthand, async method shorthand and named functions parse", () => {
    for (const src of [
      "m({ x }) { return x; }",
      "async m({ x }) { return x; }",
      "function f({ x }) { return x; }",
    ])
      expect(analyseFunction(src)?.free.size, src).toBe(0);
  });

  it("places a use by line and column within the function", () => {
    const facts = analyseFunction("({ x }) => {\n  return x + missing;\n}");
    expect(facts?.free.get("missing")).toEqual([{ line: 2, column: 14, snippet: "return x + missing;" }]);
  });

  it("a variable of a nested function, a catch or a class field is not free", () => {
    const src = `({ xs }) => {
      try { JSON.parse("x"); } catch (err) { return String(err); }
      class A { f = xs.length; g() { return this.f; } }
      return xs.map(function inner(v) { return v + arguments.length; });
    }`;
    const facts = analyseFunction(src);
    expect([...(facts?.free.keys() ?? [])]).toEqual([]);
    expect(facts?.problems).toEqual([]);
  });
});

describe("one args object", () => {
  const params = (src: string) => analyseFunction(src)!.params;
  it.each([
    ["function f(a, b) {}", { a: 1 }, "function f({ a, b })"],
    ["(x) => x", { x: 1 }, "function f({ x })"],
    ["function g(args, ctx) {}", { ctx: 1 }, "function g({ args, ctx })"],
    ["(a, b) => a.x + b", { b: 1 }, "function f({ a, b })"],
    ["(a) => a * 2", { a: 1 }, "function f({ a })"],
  ])("%s with %j is refused", (src, args, form) => {
    const err = (() => {
      try {
        checkArgsAgainst(params(src), args);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(form);
  });

  it.each([
    ["({ a, b }) => a + b", { a: 1, b: 2 }],
    ["(args) => args.a", { a: 1 }],
    ["(args, { name }) => name", { name: 1 }],
    // A first parameter whose properties the function reads is the args object, whatever its name.
    ["(a) => a.a * 2", { a: 1 }],
    ["function f(a) { return a['a'] + 1; }", { a: 1 }],
  ])("%s with %j is accepted", (src, args) => {
    expect(() => checkArgsAgainst(params(src), args)).not.toThrow();
  });
});

describe("identity normalisation", () => {
  it("ignores comments and layout, not code", () => {
    const a = normalisedSource("var f = (x) => x + 1;\nexport { f as default };\n");
    const b = normalisedSource("// c\nvar f = (x) =>\n  /* d */ x + 1;\nexport {\n  f as default\n};\n");
    const c = normalisedSource("var f = (x) => x + 2;\nexport { f as default };\n");
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it("a stored bundle is shipped as it is", () => {
    expect(shippedFunction(fromSource("export default () => 1;\n")).source).toBe("export default () => 1;\n");
  });
});
