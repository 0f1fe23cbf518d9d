import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { MAX_DEPTH } from "./codec.mjs";
import { SERIALIZERS, serializer, YAML_MAX_DEPTH } from "./serial.mjs";

type Codec = ReturnType<typeof serializer>;
const codecs = Object.fromEntries(SERIALIZERS.map((n) => [n, serializer(n, YAML)])) as Record<
  (typeof SERIALIZERS)[number],
  Codec
>;

/** Through the wire form and its JSON text, as args and results travel. */
const roundTrip = (c: Codec, v: unknown) => c.fromWire(JSON.parse(JSON.stringify(c.toWire(v, "value"))));

function refusal(c: Codec, value: unknown, path = "args"): Error & { path: string; reason: string } {
  try {
    c.toWire(value, path);
  } catch (e) {
    return e as Error & { path: string; reason: string };
  }
  throw new Error(`${c.name} did not refuse`);
}

/** `n` containers, one inside the other (arrays, or objects with key `k`). */
function nest(n: number, kind: "array" | "object" = "array"): unknown {
  let v: unknown = 0;
  for (let i = 0; i < n; i++) v = kind === "array" ? [v] : { k: v };
  return v;
}

function withProto(): Record<string, unknown> {
  const o: Record<string, unknown> = { before: 1 };
  Object.defineProperty(o, "__proto__", {
    value: { polluted: true },
    enumerable: true,
    writable: true,
    configurable: true,
  });
  o.after = 2;
  return o;
}

/** Values every serialiser carries. */
const COMMON: [string, unknown][] = [
  ["empty object", {}],
  ["empty array", []],
  ["empty string", ""],
  ["nested empties", { a: [], b: {}, c: [[], [{}]] }],
  ["unicode", { s: "héllo – 日本語 😀 \u0000 \n\t \"quoted\" 'single'" }],
  [
    "strings that look like other types",
    ["true", "null", "~", "1e3", "0x10", "2020-01-01", "yes", ".nan", "-0"],
  ],
  ["keys that look like other types", { "1": 1, true: 2, null: 3, "": 4, "a b": 5, $date: 6 }],
  ["large integers", [2 ** 53, -(2 ** 53) + 1, 2 ** 60, Number.MAX_VALUE, Number.MIN_VALUE, 1e-300]],
  ["floats", [0.1 + 0.2, -1.5e-7, 123456.789]],
  ["booleans and null", [true, false, null]],
  ["NaN, ±Infinity, -0", [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0]],
  ["Dates", [new Date(0), new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999)), new Date(-1e12)]],
  ["bytes", { b: new Uint8Array([0, 1, 127, 128, 255]), empty: new Uint8Array(0) }],
  ["tag-like objects", [{ $date: "x" }, { $obj: { $num: "NaN" } }, { $bytes: 1, other: 2 }]],
  ["deep at the limit (objects)", nest(YAML_MAX_DEPTH, "object")],
];

describe.each(SERIALIZERS)("the %s serializer", (name) => {
  const c = codecs[name];

  it.each(COMMON)("round-trips %s", (_label, v) => {
    const back = roundTrip(c, v);
    expect(back).toStrictEqual(v);
  });

  it("keeps -0 and NaN exactly", () => {
    const back = roundTrip(c, [-0, Number.NaN]) as number[];
    expect(Object.is(back[0], -0)).toBe(true);
    expect(Number.isNaN(back[1])).toBe(true);
  });

  it("keeps an own __proto__ key as an own key, not as the prototype", () => {
    const back = roundTrip(c, { nested: withProto() }) as { nested: Record<string, unknown> };
    expect(Object.getPrototypeOf(back.nested)).toBe(Object.prototype);
    expect(Object.hasOwn(back.nested, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(back.nested, "__proto__")?.value).toStrictEqual({
      polluted: true,
    });
    expect(Object.keys(back.nested)).toEqual(["before", "__proto__", "after"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses functions, symbols and class instances, naming the path", () => {
    class Point {
      x = 1;
    }
    expect(refusal(c, { a: [1, () => 1] }).path).toBe("args.a[1]");
    expect(refusal(c, { s: Symbol("x") }).path).toBe("args.s");
    const e = refusal(c, { p: new Point() });
    expect(e.path).toBe("args.p");
    expect(e.message).toContain("Point");
  });

  it(`refuses nesting beyond its limit (${c.maxDepth}), naming the depth, never with a RangeError`, () => {
    expect(roundTrip(c, { x: nest(c.maxDepth - 1) })).toStrictEqual({ x: nest(c.maxDepth - 1) });
    const e = refusal(c, { x: nest(c.maxDepth) });
    expect(e).not.toBeInstanceOf(RangeError);
    expect(e.message).toContain(`deeper than ${c.maxDepth} levels`);
    expect(e.path).toMatch(/^args\.x\[0\]\[0\]/);
    // Far too deep: still the same refusal (no stack overflow on the way).
    expect(refusal(c, nest(100_000)).message).toContain(`deeper than ${c.maxDepth} levels`);
  });
});

describe("what only some serialisers carry", () => {
  it("json and v8 carry undefined, BigInt, Map and Set; YAML refuses them, naming the path", () => {
    const v = {
      u: undefined,
      list: [1, undefined],
      big: 2n ** 100n,
      neg: -(2n ** 64n),
      m: new Map<unknown, unknown>([
        [1, "one"],
        [{ k: 1 }, new Set([1n])],
      ]),
      s: new Set(["a", 1]),
    };
    for (const c of [codecs.json, codecs.v8]) expect(roundTrip(c, v)).toStrictEqual(v);
    expect(refusal(codecs.yaml, { u: undefined }).message).toMatch(/args\.u has no YAML form/);
    expect(refusal(codecs.yaml, { l: [1, undefined] }).path).toBe("args.l[1]");
    expect(refusal(codecs.yaml, { b: 1n }).message).toContain("BigInt");
    expect(refusal(codecs.yaml, { m: new Map() }).message).toContain("Map");
    expect(refusal(codecs.yaml, { s: new Set() }).message).toContain("Set");
  });

  it("json and yaml carry lone surrogates; v8 too", () => {
    const v = { s: "a\uD800b\uDC00c\uDFFF" };
    for (const c of Object.values(codecs)) expect(roundTrip(c, v)).toStrictEqual(v);
  });

  it("YAML is readable YAML text", () => {
    const wire = codecs.yaml.toWire({ n: 1, s: "x", when: new Date(0), nan: Number.NaN }, "args");
    expect(wire).toBe("n: 1\ns: x\nwhen: 1970-01-01\nnan: .nan\n");
    // ...that any YAML reader with the same tags reads the same.
    expect(YAML.parse(wire as string, { customTags: ["timestamp"] })).toStrictEqual({
      n: 1,
      s: "x",
      when: new Date(0),
      nan: Number.NaN,
    });
  });

  it("v8 carries binary, typed arrays, RegExp, errors, cycles and shared references", () => {
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const v = {
      buf: Buffer.from([0, 255, 1]),
      bytes: new Uint8Array([9, 8]),
      f64: new Float64Array([Number.NaN, -0, 1.5]),
      i32: new Int32Array([-1, 2 ** 31 - 1]),
      u16: new Uint16Array([65535]),
      big64: new BigInt64Array([-(2n ** 63n)]),
      ab: new Uint8Array([1, 2, 3]).buffer,
      re: /a+b/gimsuy,
      err: new RangeError("out of range"),
      a: shared,
      b: shared,
      cyclic,
    };
    const back = roundTrip(codecs.v8, v) as typeof v;
    expect(Buffer.isBuffer(back.buf)).toBe(true);
    expect([...back.buf]).toEqual([0, 255, 1]);
    expect(back.bytes).toStrictEqual(new Uint8Array([9, 8]));
    expect(back.f64).toBeInstanceOf(Float64Array);
    expect(Object.is(back.f64[1], -0)).toBe(true);
    expect(Number.isNaN(back.f64[0])).toBe(true);
    expect([...back.i32]).toEqual([-1, 2 ** 31 - 1]);
    expect([...back.u16]).toEqual([65535]);
    expect([...back.big64]).toEqual([-(2n ** 63n)]);
    expect(new Uint8Array(back.ab)).toStrictEqual(new Uint8Array([1, 2, 3]));
    expect(back.re).toStrictEqual(/a+b/gimsuy);
    expect(back.err).toBeInstanceOf(RangeError);
    expect(back.err.message).toBe("out of range");
    expect(back.a).toBe(back.b);
    expect(back.cyclic.self).toBe(back.cyclic);
  });

  it("json refuses what only v8 carries, naming the class", () => {
    expect(refusal(codecs.json, { re: /x/ }).message).toContain("RegExp");
    expect(refusal(codecs.json, { f: new Float32Array(1) }).message).toContain("Float32Array");
    expect(refusal(codecs.yaml, { re: /x/ }).message).toContain("RegExp");
  });

  it("the depth of shared and cyclic references counts once, as v8 walks them", () => {
    const deep = nest(MAX_DEPTH - 2) as unknown[];
    const v = { a: deep, b: deep };
    const back = roundTrip(codecs.v8, v) as typeof v;
    expect(back.a).toBe(back.b);
  });

  it("v8 data that is not v8 data is an error that says what it is", () => {
    expect(() => codecs.v8.fromWire(Buffer.from([0xff, 0x7f, 1, 2]).toString("base64"))).toThrow(
      /cannot read v8-serialised data \(format version 127\) with Node v\d+/,
    );
    expect(() => codecs.v8.fromWire(12)).toThrow(/expects a string/);
  });
});
