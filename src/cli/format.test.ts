import { describe, expect, it } from "vitest";
import { RunnerFailedError } from "../index.js";
import { paintFor } from "./context.js";
import {
  argsSummary,
  countStates,
  inlineValue,
  jsonResult,
  lastLine,
  nameList,
  progressBar,
  renderList,
  renderResults,
  renderStatus,
  renderStatusLine,
  stripAnsi,
  summarize,
  table,
  truncate,
  visibleWidth,
} from "./format.js";

const plain = paintFor(false);
const color = paintFor(true);

describe("counts and summary", () => {
  it("counts states in lifecycle order, leaving out empty ones", () => {
    const counts = countStates(["failed", "created", "satisfied", "created", "started"]);
    expect(counts).toEqual({ created: 2, started: 1, failed: 1, satisfied: 1 });
    expect(Object.keys(counts)).toEqual(["created", "started", "failed", "satisfied"]);
    expect(countStates([])).toEqual({});
  });

  it("summarizes runners: finished, in flight, job ids, args and the last line of errors", () => {
    const s = summarize("ds", "/x/ds-1.remoterun.json", [
      { name: "a", state: "satisfied", jobId: "pid:1" },
      {
        name: "b",
        state: "failed",
        jobId: "pid:1",
        args: { x: 1n, when: new Date(0) },
        error: { message: "trace\nValueError: bad\n" },
      },
      { name: "c", state: "started", jobId: "42_1" },
      { name: "d", state: "created" },
    ]);
    expect(s).toMatchObject({ dataset: "ds", total: 4, finished: 2, inFlight: 1 });
    expect(s.counts).toEqual({ created: 1, started: 1, failed: 1, satisfied: 1 });
    expect(s.runners[1]).toEqual({
      name: "b",
      state: "failed",
      args: { x: "1", when: "1970-01-01T00:00:00.000Z" },
      jobId: "pid:1",
      error: "ValueError: bad",
    });
    expect(s.runners[3]).toEqual({ name: "d", state: "created", args: null, jobId: null, error: null });
  });
});

describe("progress bar", () => {
  it("fills in proportion and always shows the numbers", () => {
    expect(progressBar(0, 4, 8)).toBe("░░░░░░░░ 0/4 0%");
    expect(progressBar(1, 4, 8)).toBe("██░░░░░░ 1/4 25%");
    expect(progressBar(4, 4, 8)).toBe("████████ 4/4 100%");
    expect(progressBar(1, 3, 10)).toBe("███░░░░░░░ 1/3 33%");
  });

  it("an empty Dataset is complete, and colours do not change the printed width", () => {
    expect(progressBar(0, 0, 4)).toBe("████ 0/0 100%");
    const coloured = progressBar(2, 5, 10, color);
    expect(stripAnsi(coloured)).toBe(progressBar(2, 5, 10));
    expect(visibleWidth(coloured)).toBe(progressBar(2, 5, 10).length);
  });
});

describe("text helpers", () => {
  it("lastLine skips blank lines and trims", () => {
    expect(lastLine("a\nb  \n\n  \n")).toBe("b");
    expect(lastLine("")).toBe("");
    expect(lastLine("x\r\ny\r\n")).toBe("y");
  });

  it("truncate counts characters, not bytes", () => {
    expect(truncate("abcdef", 4)).toBe("abc…");
    expect(truncate("abc", 3)).toBe("abc");
    expect(truncate("ééééé", 3)).toBe("éé…");
  });

  it("table aligns columns on the printed width, ignoring colour codes", () => {
    const rows = table(
      ["A", "BB", "C"],
      [
        [color.red("long-name"), "x", "last"],
        ["s", color.green("yyyy"), ""],
      ],
    );
    expect(rows.map(stripAnsi)).toEqual(["A          BB    C", "long-name  x     last", "s          yyyy"]);
  });
});

describe("status rendering", () => {
  const s = summarize("demo", "/tmp/demo-abc.remoterun.json", [
    { name: "runner-0", state: "satisfied", jobId: "pid:7" },
    { name: "runner-1", state: "failed", jobId: "pid:7", error: { message: "Error: boom" } },
    { name: "runner-2", state: "submitted", jobId: "pid:7" },
  ]);

  it("shows the counts, the bar and a table of runners", () => {
    expect(renderStatus(s, plain, { barWidth: 10 })).toEqual([
      "demo /tmp/demo-abc.remoterun.json",
      "submitted 1 · failed 1 · satisfied 1",
      "███████░░░ 2/3 66% finished",
      "",
      "RUNNER    STATE      JOB    ERROR",
      "runner-0  satisfied  pid:7",
      "runner-1  failed     pid:7  Error: boom",
      "runner-2  submitted  pid:7",
    ]);
  });

  it("coloured output prints the same text", () => {
    expect(renderStatus(s, color, { barWidth: 10 }).map(stripAnsi)).toEqual(
      renderStatus(s, plain, { barWidth: 10 }),
    );
    expect(renderStatus(s, color).join("\n")).toContain("\x1b[");
    expect(renderStatus(s, plain).join("\n")).not.toContain("\x1b[");
  });

  it("limits the rows and cuts long errors", () => {
    const many = summarize(
      "m",
      "f",
      Array.from({ length: 10 }, (_, i) => ({
        name: `r${i}`,
        state: "failed",
        error: { message: "x".repeat(50) },
      })),
    );
    const lines = renderStatus(many, plain, { maxRows: 4, errorWidth: 10 });
    expect(lines.at(-1)).toBe("… 7 more");
    expect(lines.filter((l) => l.startsWith("r"))).toHaveLength(3);
    expect(lines.find((l) => l.startsWith("r0"))).toContain("xxxxxxxxx…");
  });

  it("no runners", () => {
    expect(renderStatus(summarize("e", "f", []), plain)).toEqual([
      "e f",
      "no runners",
      `${"█".repeat(30)} 0/0 100% finished`,
    ]);
  });

  it("one line per refresh when not on a terminal", () => {
    expect(renderStatusLine(s, new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))).toBe(
      "2024-01-02T03:04:05.000Z 2/3 finished (submitted 1, failed 1, satisfied 1)",
    );
  });
});

describe("results", () => {
  it("JSON: values as they are, failures as { error }, missing results as null", () => {
    expect(jsonResult(6)).toBe(6);
    expect(jsonResult({ a: [1, { b: "c" }] })).toEqual({ a: [1, { b: "c" }] });
    expect(jsonResult(new RunnerFailedError("r", "trace\nError: boom"))).toEqual({ error: "Error: boom" });
    expect(jsonResult(undefined)).toBeNull();
    expect(jsonResult(null)).toBeNull();
  });

  it("JSON: values JSON cannot hold become something it can", () => {
    expect(jsonResult(12n)).toBe("12");
    expect(jsonResult(new Date(0))).toBe("1970-01-01T00:00:00.000Z");
    expect(jsonResult(new Set([1, 2]))).toEqual([1, 2]);
    expect(jsonResult(new Map([["k", 1n]]))).toEqual({ k: "1" });
    expect(jsonResult([undefined, Number.NaN])).toEqual([null, "NaN"]);
    expect(JSON.parse(JSON.stringify(jsonResult({ x: undefined, y: 1 })))).toEqual({ y: 1 });
  });

  it("JSON: what the v8 and yaml serializers bring back (cycles, own __proto__ keys, RegExp, errors)", () => {
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    expect(jsonResult(cyclic)).toEqual({ n: 1, self: "[Circular]" });
    const proto = JSON.parse('{"__proto__": {"x": 1}}');
    expect(JSON.stringify(jsonResult(proto))).toBe('{"__proto__":{"x":1}}');
    expect(
      jsonResult([/a+/g, new RangeError("r"), new Float32Array([1.5]), new Uint8Array([1, 2]).buffer]),
    ).toEqual(["/a+/g", "RangeError: r", [1.5], [1, 2]]);
  });

  it("table: one row per runner", () => {
    const lines = renderResults(
      [
        { name: "runner-0", state: "satisfied", result: { v: 1 } },
        { name: "runner-1", state: "failed", result: new RunnerFailedError("runner-1", "Error: boom") },
        { name: "runner-2", state: "created", result: undefined },
        { name: "runner-3", state: "satisfied", result: "text" },
      ],
      plain,
    );
    expect(lines).toEqual([
      "RUNNER    STATE      RESULT",
      'runner-0  satisfied  {"v":1}',
      "runner-1  failed     error: Error: boom",
      "runner-2  created    (no result)",
      'runner-3  satisfied  "text"',
    ]);
    expect(inlineValue("x".repeat(200), 10)).toHaveLength(10);
  });
});

describe("summaries", () => {
  it("nameList: the first few and how many more, or all of them", () => {
    const names = Array.from({ length: 8 }, (_, i) => `r${i}`);
    expect(nameList(names, false)).toBe("r0, r1, r2, r3, r4 and 3 more (--verbose lists all)");
    expect(nameList(names, true)).toBe(names.join(", "));
    expect(nameList(names.slice(0, 5), false)).toBe("r0, r1, r2, r3, r4");
    expect(nameList([], false)).toBe("");
  });

  it("argsSummary: dotted keys, JSON values, cut to a width", () => {
    expect(argsSummary({ x: 1, o: { mode: "a", n: null }, l: [1, 2] })).toBe(
      'x=1, o.mode="a", o.n=null, l=[1,2]',
    );
    expect(argsSummary({ big: 3n, when: new Date(0) })).toBe('big="3", when="1970-01-01T00:00:00.000Z"');
    expect(argsSummary({})).toBe("");
    expect(argsSummary({ s: "y".repeat(100) }, 20)).toHaveLength(20);
  });

  it("renderList: one row per Dataset; unreadable ones say why", () => {
    const plain = paintFor(false);
    const ok = {
      name: "sweep",
      id: "0123abcd",
      database: "/p/sweep-0123abcd.remoterun.json",
      kind: "function",
      connection: "me@hpc:22",
      computer: { name: "slurm", submitter: "sbatch" },
      total: 3,
      counts: { failed: 1, satisfied: 2 },
      lastChange: new Date(2026, 0, 2, 3, 4).toISOString(),
      error: null,
    };
    const lines = renderList([ok], plain, (f) => f.replace("/p/", ""));
    expect(lines[0]).toMatch(/^DATASET +RUNNERS +CONNECTION +COMPUTER +LAST CHANGE +DATABASE$/);
    expect(lines[1]).toBe(
      "sweep    failed 1 · satisfied 2  me@hpc:22   slurm (sbatch)  2026-01-02 03:04  sweep-0123abcd.remoterun.json",
    );
    const bad = {
      ...ok,
      name: "bad",
      kind: null,
      connection: null,
      computer: null,
      lastChange: null,
      error: "damaged",
    };
    const both = renderList([ok, bad], plain, (f) => f);
    expect(both[0]).toMatch(/ DATABASE +ERROR$/);
    expect(both[2]).toMatch(/^bad +unreadable +.*damaged$/);
  });
});
