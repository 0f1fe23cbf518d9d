import { describe, expect, it } from "vitest";
import { cellText, csvField, flatten, resultsTable, toCsv } from "./csv.js";

/** An RFC 4180 reader, to check that what toCsv writes reads back as it was. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length) rows.push([...row, field]);
  return rows;
}

describe("CSV", () => {
  it("quotes fields with commas, quotes, CR or LF, doubling quotes; leaves others bare", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("")).toBe("");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("cr\r")).toBe('"cr\r"');
    expect(csvField(" spaced ")).toBe(" spaced ");
  });

  it("reads back as written, whatever the cells hold", () => {
    const rows = [
      ["a,b", 'q"uote', "multi\nline\r\nend", "", "ünï", "=1+1"],
      ["1", "2", "3", "4", "5", "6"],
    ];
    const header = ["h1", "h,2", "h3", "h4", "h5", "h6"];
    const text = toCsv(header, rows);
    expect(text.endsWith("\n")).toBe(true);
    expect(parseCsv(text)).toEqual([header, ...rows]);
  });

  it("flattens nested objects into dotted keys; arrays, Maps and Dates are leaves made JSON-safe", () => {
    expect(flatten({ x: 1, o: { a: 1, b: { c: "d" } }, l: [1, 2], e: {} })).toEqual([
      ["x", 1],
      ["o.a", 1],
      ["o.b.c", "d"],
      ["l", [1, 2]],
      ["e", {}],
    ]);
    expect(flatten({ when: new Date(0), big: 2n, m: new Map([["k", 1]]) })).toEqual([
      ["when", "1970-01-01T00:00:00.000Z"],
      ["big", "2"],
      ["m.k", 1],
    ]);
    expect(flatten({})).toEqual([]);
    expect(flatten(5, "result")).toEqual([["result", 5]]);
    expect(flatten({ v: 1 }, "result")).toEqual([["result.v", 1]]);
  });

  it("cells: strings as they are, null and undefined empty, the rest JSON", () => {
    expect(cellText("a b")).toBe("a b");
    expect(cellText(null)).toBe("");
    expect(cellText(undefined)).toBe("");
    expect(cellText(1.5)).toBe("1.5");
    expect(cellText(false)).toBe("false");
    expect(cellText([1, "x"])).toBe('[1,"x"]');
    expect(cellText({ a: 1 })).toBe('{"a":1}');
  });

  it("results table: runner, state, args in first-seen order, result columns, error", () => {
    const t = resultsTable([
      { runner: "r0", state: "satisfied", args: { x: 1, opt: { mode: "a" } }, result: { e: 1, f: [1] } },
      { runner: "r1", state: "failed", args: { x: 2, y: "b,c" }, error: "boom, badly" },
      { runner: "r2", state: "started", args: { x: 3 } },
    ]);
    expect(t.header).toEqual(["runner", "state", "x", "opt.mode", "y", "result.e", "result.f", "error"]);
    expect(t.rows).toEqual([
      ["r0", "satisfied", "1", "a", "", "1", "[1]", ""],
      ["r1", "failed", "2", "", "b,c", "", "", "boom, badly"],
      ["r2", "started", "3", "", "", "", "", ""],
    ]);
    const scalar = resultsTable([{ runner: "r0", state: "satisfied", args: { a: 1 }, result: 42 }]);
    expect(scalar.header).toEqual(["runner", "state", "a", "result", "error"]);
    expect(scalar.rows[0]).toEqual(["r0", "satisfied", "1", "42", ""]);
  });

  it("an arg named like a fixed column is prefixed with args.", () => {
    const t = resultsTable([
      {
        runner: "r0",
        state: "satisfied",
        args: { state: "NY", error: 0.1, runner: 1, result: 2 },
        result: 3,
      },
    ]);
    expect(t.header).toEqual([
      "runner",
      "state",
      "args.state",
      "args.error",
      "args.runner",
      "args.result",
      "result",
      "error",
    ]);
    expect(t.rows[0]).toEqual(["r0", "satisfied", "NY", "0.1", "1", "2", "3", ""]);
  });
});
