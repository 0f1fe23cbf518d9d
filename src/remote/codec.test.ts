import { describe, expect, it } from "vitest";
import { decode, encode } from "./codec.mjs";

const roundTrip = (v: unknown) => decode(encode(v));

function refusal(value: unknown, path?: string): Error & { path: string; value: unknown; reason: string } {
  try {
    encode(value, path);
  } catch (e) {
    return e as Error & { path: string; value: unknown; reason: string };
  }
  throw new Error("encode did not refuse");
}

describe("codec round trips", () => {
  it.each([
    ["string", 'héllo \n "quoted" \u0000'],
    ["integer", 42],
    ["float", 0.1 + 0.2],
    ["boolean", false],
    ["null", null],
    ["undefined", undefined],
    ["empty object", {}],
    ["empty array", []],
  ])("%s", (_label, v) => {
    expect(roundTrip(v)).toStrictEqual(v);
  });

  it("Date keeps its millisecond", () => {
    const d = new Date(Date.UTC(2001, 1, 3, 4, 5, 6, 789));
    const back = roundTrip(d);
    expect(back).toBeInstanceOf(Date);
    expect((back as Date).getTime()).toBe(d.getTime());
  });

  it("BigInt, including beyond 2^53 and negative", () => {
    for (const b of [0n, 2n ** 80n + 1n, -(2n ** 64n)]) {
      const back = roundTrip(b);
      expect(typeof back).toBe("bigint");
      expect(back).toBe(b);
    }
  });

  it("NaN, ±Infinity and -0 survive (JSON would turn them into null / 0)", () => {
    const back = roundTrip([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      0,
    ]) as number[];
    expect(Number.isNaN(back[0])).toBe(true);
    expect(back[1]).toBe(Number.POSITIVE_INFINITY);
    expect(back[2]).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(back[3], -0)).toBe(true);
    expect(Object.is(back[4], 0)).toBe(true);
  });

  it("Set and Map, with non-string keys and insertion order", () => {
    const s = new Set([3, "a", 1n, null]);
    const m = new Map<unknown, unknown>([
      [{ k: 1 }, "object key"],
      [2, new Set([1])],
      ["s", new Map([[new Date(0), -0]])],
    ]);
    const bs = roundTrip(s) as Set<unknown>;
    expect(bs).toBeInstanceOf(Set);
    expect([...bs]).toStrictEqual([3, "a", 1n, null]);
    const bm = roundTrip(m) as Map<unknown, unknown>;
    expect(bm).toBeInstanceOf(Map);
    expect([...bm.keys()]).toStrictEqual([{ k: 1 }, 2, "s"]);
    expect(bm.get(2)).toStrictEqual(new Set([1]));
    const inner = bm.get("s") as Map<Date, number>;
    const [[dk, dv]] = [...inner];
    expect(dk).toBeInstanceOf(Date);
    expect(dk.getTime()).toBe(0);
    expect(Object.is(dv, -0)).toBe(true);
  });

  it("empty arrays, sets and maps are not lost, nested or not", () => {
    const v = { a: [], s: new Set(), m: new Map(), nested: { deeper: [[], new Set([]), new Map()] } };
    const back = roundTrip(v) as typeof v;
    expect(back).toStrictEqual(v);
    expect(back.s).toBeInstanceOf(Set);
    expect(back.m).toBeInstanceOf(Map);
    expect(back.nested.deeper[1]).toBeInstanceOf(Set);
    expect(back.nested.deeper[2]).toBeInstanceOf(Map);
  });

  it("Uint8Array and Buffer come back as the same bytes, including views with an offset", () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    expect(roundTrip(bytes)).toStrictEqual(bytes);
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const view = backing.subarray(2, 5);
    expect(Array.from(roundTrip(view) as Uint8Array)).toEqual([1, 2, 3]);
    const buf = Buffer.from("binary\u0000data");
    const back = roundTrip(buf) as Uint8Array;
    expect(back).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(back).equals(buf)).toBe(true);
    expect(roundTrip(new Uint8Array(0))).toStrictEqual(new Uint8Array(0));
  });

  it("objects whose keys start with $ are never mistaken for tags", () => {
    const cases: unknown[] = [
      { $date: "2020-01-01T00:00:00.000Z" },
      { $bigint: "12" },
      { $set: [1, 2] },
      { $map: [[1, 2]] },
      { $undefined: 1 },
      { $num: "NaN" },
      { $bytes: "AAE=" },
      { $obj: { $obj: { x: 1 } } },
      { $anything: new Set([{ $num: "-0" }]) },
      { $date: "x", other: 1 },
      [{ $set: [] }],
    ];
    for (const c of cases) expect(roundTrip(c), JSON.stringify(c)).toStrictEqual(c);
  });

  it("deeply nested mixtures and shared (non-circular) references", () => {
    const shared = { n: 1 };
    const v = {
      list: [1, "two", [3, [4, { five: 5n }]], undefined, null],
      when: new Date(1234567890123),
      same1: shared,
      same2: shared,
      map: new Map([["k", { arr: [new Set(["x"])] }]]),
    };
    expect(roundTrip(v)).toStrictEqual(v);
  });

  it("holes in arrays come back as undefined, not null", () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    const back = roundTrip([1, , 3]) as unknown[];
    expect(back).toHaveLength(3);
    expect(back[1]).toBeUndefined();
    expect(back[2]).toBe(3);
  });

  it("the encoding is plain JSON text", () => {
    const text = encode({ d: new Date(0), b: 1n, s: new Set([1]) });
    expect(() => JSON.parse(text)).not.toThrow();
    expect(JSON.parse(text)).toEqual({
      d: { $date: "1970-01-01T00:00:00.000Z" },
      b: { $bigint: "1" },
      s: { $set: [1] },
    });
  });
});

describe("codec refusals name the path of the bad value", () => {
  it("a function", () => {
    const e = refusal({ a: { b: [1, () => 1] } }, "args");
    expect(e.path).toBe("args.a.b[1]");
    expect(e.message).toContain("args.a.b[1]");
    expect(e.message).toMatch(/function/);
  });

  it("a symbol", () => {
    const e = refusal({ tag: Symbol("s") }, "args");
    expect(e.path).toBe("args.tag");
    expect(e.reason).toMatch(/symbol/);
  });

  it("a class instance, by class name", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const e = refusal({ p: new Point(1, 2) }, "args");
    expect(e.path).toBe("args.p");
    expect(e.reason).toContain("Point");
    expect(refusal({ re: /x/ }).reason).toContain("RegExp");
    expect(refusal({ f: new Float64Array(2) }).reason).toContain("Float64Array");
  });

  it("a circular reference", () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = { back: o };
    const e = refusal(o, "args");
    expect(e.path).toBe("args.self.back");
    expect(e.reason).toMatch(/circular/);
    const arr: unknown[] = [];
    arr.push(arr);
    expect(refusal(arr, "list").path).toBe("list[0]");
  });

  it("inside Sets and Maps", () => {
    expect(refusal(new Set([1, () => 0]), "s").path).toBe("s<set 1>");
    expect(refusal(new Map([["k", Symbol()]]), "m").path).toBe("m<value 0>");
    expect(refusal(new Map([[() => 0, 1]]), "m").path).toBe("m<key 0>");
  });

  it("an invalid Date", () => {
    expect(refusal({ d: new Date("nope") }, "args").path).toBe("args.d");
  });
});
