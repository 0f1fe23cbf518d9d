/**
 * The serialisers of a Dataset (json, yaml, v8) end to end on localhost: args travel to a real
 * runtime, come back as the function's result, are kept in the database and restored by
 * Dataset.open; runner identity tells NaN, ±Infinity, -0, undefined and null apart; own `__proto__`
 * keys survive; too deep a value is refused by name, at appendRun or as the runner's error.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Dataset,
  type DatasetOptions,
  InvalidArgumentError,
  RunnerFailedError,
  SerializationError,
} from "../src/index.js";

const POLL = { interval: 0.05, timeout: 60 };
const scratch: string[] = [];
const open: Dataset<Record<string, unknown>, unknown>[] = [];
afterAll(async () => {
  for (const ds of open) await ds.close().catch(() => {});
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

type Ser = "json" | "yaml" | "v8";

function make(
  name: string,
  serializer: Ser,
  fn: (args: Record<string, unknown>) => unknown = (args) => args,
  extra: DatasetOptions = {},
) {
  const tmp = mkdtempSync(join(tmpdir(), "rr-ser-"));
  scratch.push(tmp);
  const ds = new Dataset(fn, {
    name,
    serializer,
    dbDir: tmp,
    localDir: join(tmp, "local"),
    remoteDir: join(tmp, "remote"),
    verbose: 0,
    ...extra,
  });
  open.push(ds);
  return ds;
}

async function runAll(ds: Dataset<Record<string, unknown>, unknown>) {
  await ds.run();
  await ds.wait(POLL);
  return ds.fetchResults();
}

function withProto(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  Object.defineProperty(o, "__proto__", {
    value: { b: 2 },
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return o;
}

function nest(n: number): unknown {
  let v: unknown = "bottom";
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

const COMMON: Record<string, unknown> = {
  emptyObject: {},
  emptyArray: [],
  nestedEmpties: { a: [], b: {}, c: [[], [{}]] },
  unicode: 'héllo 日本語 😀 \u0000 \n "q" lone \uD800 surrogate',
  lookalikes: ["true", "null", "~", "1e3", "2020-01-01", "yes", "-0", "$date"],
  tagLike: { $date: "not a date" },
  largeIntegers: [2 ** 53, 2 ** 60, -(2 ** 53) + 1, Number.MAX_VALUE],
  specials: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
  dates: [new Date(0), new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999))],
  bytes: new Uint8Array([0, 1, 128, 255]),
  protoKey: withProto(),
  deep: nest(150),
};

const ONLY: Record<Ser, Record<string, unknown>> = {
  json: {
    undef: [undefined, { u: undefined }],
    bigints: [2n ** 100n, -(2n ** 64n)],
    collections: { m: new Map<unknown, unknown>([[{ k: 1 }, new Set([1n])]]), s: new Set(["a", 2]) },
    deepest: nest(998),
  },
  yaml: {},
  v8: {
    undef: [undefined, { u: undefined }],
    bigints: [2n ** 100n, -(2n ** 64n)],
    collections: { m: new Map<unknown, unknown>([[{ k: 1 }, new Set([1n])]]), s: new Set(["a", 2]) },
    buffer: Buffer.from("binary\u0000data\u00ff"),
    typed: { f64: new Float64Array([Number.NaN, -0, 1.5]), i16: new Int16Array([-32768, 32767]) },
    regexp: /a+b/giu,
    error: new TypeError("carried"),
    deepest: nest(998),
  },
};

describe.each(["json", "yaml", "v8"] as const)("the %s serializer through a real run", (ser) => {
  it("brings every tricky value back as it went, and Dataset.open restores them", async () => {
    const table = { ...COMMON, ...ONLY[ser] };
    const ds = make(`rt-${ser}`, ser);
    ds.appendRuns(Object.entries(table).map(([label, v]) => ({ label, v })));
    const results = await runAll(ds);
    const labels = Object.keys(table);
    results.forEach((r, i) => {
      expect(r, labels[i]).not.toBeInstanceOf(RunnerFailedError);
      expect(r, labels[i]).toStrictEqual({ label: labels[i], v: table[labels[i]] });
    });
    const proto = (results[labels.indexOf("protoKey")] as { v: Record<string, unknown> }).v;
    expect(Object.hasOwn(proto, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    const file = ds.dbFile;
    await ds.close();
    open.splice(open.indexOf(ds), 1);

    const again = Dataset.open(file, { verbose: 0 });
    open.push(again);
    expect(again.serializer).toBe(ser);
    expect(again.runners.map((r) => r.args)).toStrictEqual(
      labels.map((label) => ({ label, v: table[label] })),
    );
    expect(again.results).toStrictEqual(results);
    // The same args again are the same runners.
    expect(again.appendRuns(labels.map((label) => ({ label, v: table[label] }))).map((r) => r.name)).toEqual(
      again.runners.map((r) => r.name),
    );
    expect(again.runners).toHaveLength(labels.length);
  }, 90_000);
});

describe("runner identity", () => {
  it.each(["json", "v8"] as const)(
    "NaN, ±Infinity, -0, 0, undefined, null and absent are separate runners (%s)",
    async (ser) => {
      const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, undefined, null];
      const ds = make(`id-${ser}`, ser, (args) => ({ has: "x" in args, x: args.x }));
      const first = [...values.map((x) => ds.appendRun({ x })), ds.appendRun({})];
      expect(new Set(first.map((r) => r.name)).size).toBe(8);
      // Appending the same again is skipped: the existing runners come back.
      const second = [...values.map((x) => ds.appendRun({ x })), ds.appendRun({})];
      expect(second.map((r) => r.name)).toEqual(first.map((r) => r.name));
      expect(ds.runners).toHaveLength(8);
      const results = (await runAll(ds)) as { has: boolean; x: unknown }[];
      values.forEach((x, i) => {
        expect(results[i].has).toBe(true);
        expect(Object.is(results[i].x, x), `value ${String(x)}`).toBe(true);
      });
      expect(results[7]).toStrictEqual({ has: false, x: undefined });
    },
    60_000,
  );

  it("YAML: NaN, ±Infinity, -0 and null are separate runners; undefined is refused by name", () => {
    const ds = make("id-yaml", "yaml");
    const xs = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, null];
    expect(new Set(xs.map((x) => ds.appendRun({ x }).name)).size).toBe(xs.length);
    expect(() => ds.appendRun({ x: undefined })).toThrow(SerializationError);
    expect(() => ds.appendRun({ x: undefined })).toThrow(
      /cannot serialise args\.x: undefined has no YAML form/,
    );
    expect(() => ds.appendRun({ x: new Map() })).toThrow(/args\.x.*Map, which YAML cannot carry/);
    expect(ds.runners).toHaveLength(xs.length);
  });

  it("a restored runner keeps the identity its record holds (nothing is recomputed)", async () => {
    const fn = (a: Record<string, unknown>) => a;
    const ds = make("restore-id", "json", fn);
    const x = ds.appendRun({ x: 1, list: [1, 2] });
    const y = ds.appendRun({ y: Number.NaN });
    await ds.close();
    open.splice(open.indexOf(ds), 1);
    // A database of an earlier version: the NaN runner's identity was the hash of {y: null}.
    const file = `${ds.dbFile}.json`;
    const doc = JSON.parse(readFileSync(file, "utf8"));
    doc.runners[1].identity = "0123456789abcdef-as-stored";
    writeFileSync(file, JSON.stringify(doc));
    const again = Dataset.open(file, { verbose: 0 });
    open.push(again);
    expect(again.runners.map((r) => r.identity)).toEqual([x.identity, "0123456789abcdef-as-stored"]);
    expect(y.identity).not.toBe("0123456789abcdef-as-stored");
    // Ordinary args still find their runner; the edited one is not found under the new identity.
    expect(again.appendRun({ list: [1, 2], x: 1 }).name).toBe(x.name);
    expect(again.appendRun({ y: Number.NaN }).name).toBe("runner-2");
  });

  it("another serializer is another Dataset, with a database of its own", () => {
    const fn = (a: Record<string, unknown>) => a;
    const [j, y, v] = (["json", "yaml", "v8"] as const).map((s) => make("same-name", s, fn));
    expect(new Set([j.identity, y.identity, v.identity]).size).toBe(3);
    expect(new Set([j.dbFile, y.dbFile, v.dbFile]).size).toBe(3);
  });
});

describe("limits and refusals", () => {
  it.each(["json", "yaml", "v8"] as const)(
    "args too deep are a SerializationError naming the depth (%s)",
    (ser) => {
      const ds = make(`deep-${ser}`, ser);
      const limit = ser === "yaml" ? 200 : 1000;
      let err: unknown;
      try {
        ds.appendRun({ x: nest(limit) });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SerializationError);
      expect(err).not.toBeInstanceOf(RangeError);
      expect((err as Error).message).toContain(`deeper than ${limit} levels`);
      expect((err as SerializationError).path).toMatch(/^args\.x\[0\]\[0\]\[0\]/);
      // Far deeper than any stack: the same error, not a RangeError.
      expect(() => ds.appendRun({ x: nest(200_000) })).toThrow(SerializationError);
      expect(ds.runners).toHaveLength(0);
      // At the limit: accepted.
      expect(ds.appendRun({ x: nest(limit - 1) }).name).toBe("runner-0");
    },
  );

  it.each(["json", "v8"] as const)(
    "a result too deep fails its runner, saying so (%s)",
    async (ser) => {
      const ds = make(`deepres-${ser}`, ser, ({ n }) => {
        let v: unknown = 0;
        for (let i = 0; i < (n as number); i++) v = [v];
        return v;
      });
      ds.appendRuns([{ n: 5000 }, { n: 10 }]);
      const [bad, good] = await runAll(ds);
      expect(bad).toBeInstanceOf(RunnerFailedError);
      expect((bad as RunnerFailedError).message).toMatch(/result\[0\]\[0\].*deeper than 1000 levels/);
      let ten: unknown = 0;
      for (let i = 0; i < 10; i++) ten = [ten];
      expect(good).toStrictEqual(ten);
    },
    60_000,
  );

  it("a yaml result YAML cannot carry fails its runner by name", async () => {
    const ds = make("yamlres", "yaml", () => ({ fine: 1, bad: new Set([1]) }));
    ds.appendRun({});
    const [r] = await runAll(ds);
    expect((r as RunnerFailedError).message).toMatch(/result\.bad .*Set, which YAML cannot carry/);
  }, 60_000);

  it("the serializer option is checked", () => {
    expect(() => make("badser", "xml" as Ser)).toThrow(InvalidArgumentError);
    expect(() => make("badser", "xml" as Ser)).toThrow(/serializer.*"xml".*json, yaml, v8/);
    expect(
      () =>
        new Dataset(undefined, {
          script: "echo #x#",
          serializer: "yaml",
          dbDir: mkdtempSync(join(tmpdir(), "rr-ser-")),
        }),
    ).toThrow(/serializer.*script Dataset/);
  });

  it("v8 keeps args in the database as v8 data, json Datasets as they always were", async () => {
    const v = make("dbform-v8", "v8");
    v.appendRun({ re: /x/g, buf: Buffer.from([1, 2]) });
    const j = make("dbform-json", "json");
    j.appendRun({ n: 1 });
    await v.close();
    await j.close();
    open.splice(open.indexOf(v), 1);
    open.splice(open.indexOf(j), 1);
    const vdoc = JSON.parse(readFileSync(`${v.dbFile}.json`, "utf8"));
    expect(vdoc.meta.serializer).toBe("v8");
    expect(typeof vdoc.runners[0].argsV8).toBe("string");
    expect(vdoc.runners[0].args).toBeUndefined();
    const jdoc = JSON.parse(readFileSync(`${j.dbFile}.json`, "utf8"));
    expect(jdoc.meta.serializer).toBeUndefined();
    expect(jdoc.runners[0].args).toEqual({ n: 1 });
  });
});
