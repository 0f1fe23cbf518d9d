/** Flat tables of args and results: dotted keys for nested objects, RFC 4180 CSV text. */
import { jsonSafe } from "./format.js";

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" &&
  v !== null &&
  !Array.isArray(v) &&
  (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/**
 * An object as flat key/value pairs: nested plain objects give dotted keys (`a.b.c`), everything
 * else (arrays too) is a leaf. Values are made JSON-safe first (Maps become objects, Dates strings).
 * An empty nested object is a leaf `{}`; a value that is not an object is one pair keyed `prefix`.
 */
export function flatten(value: unknown, prefix = ""): [string, unknown][] {
  const safe = jsonSafe(value);
  const out: [string, unknown][] = [];
  const walk = (v: unknown, key: string) => {
    if (isPlainObject(v) && (key === "" || Object.keys(v).length > 0)) {
      for (const [k, x] of Object.entries(v)) walk(x, key === "" ? k : `${key}.${k}`);
    } else out.push([key, v]);
  };
  walk(safe, prefix);
  return out;
}

/** A value as the text of one cell: strings as they are, null/undefined empty, the rest JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value) ?? "";
}

/** RFC 4180: a field with a comma, a double quote, CR or LF is enclosed in quotes, quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV text: a header line, then one line per row (lines end with LF; quoted fields may span lines). */
export function toCsv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return `${[header, ...rows].map((r) => r.map(csvField).join(",")).join("\n")}\n`;
}

/** One row of `results --csv`: the runner, its state, its args (flattened), its result or error. */
export interface ResultRow {
  runner: string;
  state: string;
  args: unknown;
  /** Present when the runner succeeded and its result is fetched. */
  result?: unknown;
  /** Present when the runner failed: the error's last line. */
  error?: string;
}

const FIXED = ["runner", "state"];

/**
 * The columns and rows of `results --csv`: `runner`, `state`, one column per (dotted) arg key in the
 * order first seen, then `result` (or `result.<key>` columns for object results) and `error`. An arg
 * key that would clash with one of those columns is prefixed with `args.`.
 */
export function resultsTable(rows: readonly ResultRow[]): { header: string[]; rows: string[][] } {
  const argCols = new Map<string, true>();
  const resultCols = new Map<string, true>();
  const flatArgs = rows.map((r) => flatten(r.args));
  const flatResults = rows.map((r) => ("result" in r ? flatten(r.result, "result") : []));
  for (const f of flatArgs) for (const [k] of f) argCols.set(k, true);
  for (const f of flatResults) for (const [k] of f) resultCols.set(k, true);
  const reserved = new Set([...FIXED, ...resultCols.keys(), "error"]);
  const argName = (k: string) => (reserved.has(k) || k.startsWith("result.") ? `args.${k}` : k);
  const header = [...FIXED, ...[...argCols.keys()].map(argName), ...resultCols.keys(), "error"];
  const out = rows.map((r, i) => {
    const args = new Map(flatArgs[i]);
    const result = new Map(flatResults[i]);
    return [
      r.runner,
      r.state,
      ...[...argCols.keys()].map((k) => cellText(args.get(k))),
      ...[...resultCols.keys()].map((k) => cellText(result.get(k))),
      r.error ?? "",
    ];
  });
  return { header, rows: out };
}
