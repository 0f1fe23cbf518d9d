import { describe, expect, it } from "vitest";
import { runnerIdentity } from "../runner/index.js";
import { canonicalJson, hashOf } from "./hash.js";

/** The canonical JSON of earlier versions (plain JSON with sorted keys), for comparison. */
function oldSortKeys(value: unknown): unknown {
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof Set) return { $set: [...value].map(oldSortKeys) };
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [oldSortKeys(k), oldSortKeys(v)]) };
  if (Array.isArray(value)) return value.map(oldSortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = oldSortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

describe("runner identity", () => {
  it("is unchanged for ordinary args: databases made by earlier versions still dedupe new appends", () => {
    // Hashes computed by the previous implementation (plain JSON with sorted keys).
    const args = {
      n: 3,
      name: "x",
      list: [1, 2.5, { z: true, a: null }],
      when: new Date(0),
      big: 12n,
      s: new Set([1]),
      m: new Map([["k", 1]]),
    };
    expect(
      runnerIdentity(args, { remoteDir: "/tmp/r", maxProcesses: 2, skip: true, force: false }, "abc"),
    ).toBe("8c055b6a223deed2672c041d77a3a2c748acfc59670ba8c9f7792aa8ad54fdec");
    expect(runnerIdentity({ $x: 1 }, {}, "abc", 4)).toBe(
      "d63570d47ab278452e1e98cd1cc92d1571fcf8d50595e92b12be361e2e25f06f",
    );
    const ordinary: unknown[] = [
      { a: 1, b: [1, 2, { c: "x", d: null }], e: true, f: "ünïcode 😀", g: -12.5e-3, h: {} },
      [[], {}, "", 0, 2 ** 60],
      { $foo: 1, nested: { $bar: [1] } },
      { z: 1, a: 2, m: new Map([[{ y: 1, x: 2 }, new Set([1])]]), d: new Date(1e12), b: 2n ** 70n },
    ];
    for (const v of ordinary) expect(canonicalJson(v)).toBe(JSON.stringify(oldSortKeys(v)));
  });

  it("tells NaN, ±Infinity, -0, 0, undefined and null apart", () => {
    const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, undefined, null];
    const ids = values.map((x) => runnerIdentity({ x }, {}, "ds"));
    expect(new Set(ids).size).toBe(values.length);
    // ...and an absent key from an undefined one.
    expect(runnerIdentity({}, {}, "ds")).not.toBe(runnerIdentity({ x: undefined }, {}, "ds"));
    // NaN is NaN: the same runner twice.
    expect(runnerIdentity({ x: Number.NaN }, {}, "ds")).toBe(runnerIdentity({ x: 0 / 0 }, {}, "ds"));
  });

  it("does not depend on key order, at any depth", () => {
    expect(runnerIdentity({ a: 1, b: { c: 2, d: [{ e: 1, f: 2 }] } }, { x: 1, y: 2 }, "ds")).toBe(
      runnerIdentity({ b: { d: [{ f: 2, e: 1 }], c: 2 }, a: 1 }, { y: 2, x: 1 }, "ds"),
    );
  });

  it("counts own __proto__ keys, and a tag-like object differs from the value it looks like", () => {
    const withProto = JSON.parse('{"__proto__": {"x": 1}, "a": 1}');
    expect(Object.hasOwn(withProto, "__proto__")).toBe(true);
    expect(hashOf(withProto)).not.toBe(hashOf({ a: 1 }));
    expect(canonicalJson(withProto)).toBe('{"__proto__":{"x":1},"a":1}');
    expect(hashOf({ $date: "1970-01-01T00:00:00.000Z" })).not.toBe(hashOf(new Date(0)));
    expect(hashOf({ $num: "NaN" })).not.toBe(hashOf(Number.NaN));
  });

  it("a run arg set to undefined counts as not given", () => {
    expect(runnerIdentity({ a: 1 }, { timeout: undefined }, "ds")).toBe(runnerIdentity({ a: 1 }, {}, "ds"));
  });

  it("hashes what only v8 carries, cycles included, stably and distinctly", () => {
    const cyclic = (): Record<string, unknown> => {
      const o: Record<string, unknown> = { n: 1 };
      o.self = o;
      return o;
    };
    expect(hashOf(cyclic())).toBe(hashOf(cyclic()));
    const distinct = [
      /a/g,
      /a/i,
      new Float64Array([1]),
      new Float32Array([1]),
      new Uint8Array([1]),
      new RangeError("x"),
      new TypeError("x"),
      cyclic(),
      "a",
    ];
    expect(new Set(distinct.map(hashOf)).size).toBe(distinct.length);
    // Buffer and Uint8Array of the same bytes are the same args (both arrive as bytes).
    expect(hashOf(Buffer.from([1, 2]))).toBe(hashOf(new Uint8Array([1, 2])));
  });
});
