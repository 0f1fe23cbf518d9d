/** Pure formatting for the CLI: counts per state, progress bars, tables, JSON-safe values. */
import {
  countStates,
  isFinishedState as isFinished,
  isInFlightState as isInFlight,
  RUNNER_STATES,
  RunnerFailedError,
  type RunnerState,
} from "../index.js";
import { put } from "../remote/codec.mjs";

export { countStates };

/** The colour functions the formatters use (picocolors' shape; identity functions when off). */
export interface Paint {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  blue(s: string): string;
  gray(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/** Lifecycle order, for counts and colours. */
export const STATE_ORDER: readonly string[] = RUNNER_STATES;

const isFinishedState = (state: string) => isFinished(state as RunnerState);
const isInFlightState = (state: string) => isInFlight(state as RunnerState);

/** What `status` shows of one runner. */
export interface RunnerRow {
  name: string;
  state: string;
  /** The runner's args, as JSON data. */
  args: unknown;
  jobId: string | null;
  /** Last line of the runner's error output, when it failed and the error is known. */
  error: string | null;
}

/** What `status` shows of a Dataset (also its --json output). */
export interface StatusSummary {
  dataset: string;
  database: string;
  total: number;
  finished: number;
  inFlight: number;
  counts: Record<string, number>;
  runners: RunnerRow[];
}

/** The parts of a Runner that status needs (structural, so tests can pass plain objects). */
export interface RunnerLike {
  name: string;
  state: string;
  args?: unknown;
  jobId?: string | undefined;
  error?: { message: string } | undefined;
}

export function summarize(dataset: string, database: string, runners: readonly RunnerLike[]): StatusSummary {
  const rows: RunnerRow[] = runners.map((r) => ({
    name: r.name,
    state: r.state,
    args: r.args === undefined ? null : toJsonSafe(r.args),
    jobId: r.jobId ?? null,
    error: r.error ? lastLine(r.error.message) : null,
  }));
  return {
    dataset,
    database,
    total: rows.length,
    finished: rows.filter((r) => isFinishedState(r.state)).length,
    inFlight: rows.filter((r) => isInFlightState(r.state)).length,
    counts: countStates(rows.map((r) => r.state)),
    runners: rows,
  };
}

export function stateColor(state: string, paint: Paint): string {
  switch (state) {
    case "completed":
    case "satisfied":
      return paint.green(state);
    case "failed":
      return paint.red(state);
    case "submitted":
    case "started":
      return paint.yellow(state);
    case "staged":
    case "transferred":
      return paint.cyan(state);
    default:
      return paint.dim(state);
  }
}

/** `██████░░░░ 3/5 60%` (the numbers are always shown; the bar is `width` cells). */
export function progressBar(done: number, total: number, width: number, paint?: Paint): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const full = Math.round(frac * width);
  const bar = "█".repeat(full) + "░".repeat(width - full);
  const text = `${done}/${total} ${Math.floor(frac * 100)}%`;
  if (!paint) return `${bar} ${text}`;
  const done_ = full ? paint.green(bar.slice(0, full)) : "";
  const todo = full < width ? paint.dim(bar.slice(full)) : "";
  return `${done_}${todo} ${text}`;
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, "");
}

/** Printed width (ANSI colour codes take no room). */
export function visibleWidth(s: string): number {
  return [...stripAnsi(s)].length;
}

/** Cut to at most `max` printed characters, with an ellipsis. */
export function truncate(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return max <= 1 ? chars.slice(0, max).join("") : `${chars.slice(0, max - 1).join("")}…`;
}

/** The last non-blank line of a text ("" when there is none). */
export function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  return lines.length ? lines[lines.length - 1].trim() : "";
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  paint?: Paint,
): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => visibleWidth(r[c] ?? ""))));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell + " ".repeat(widths[c] - visibleWidth(cell))))
      .join("  ")
      .trimEnd();
  const head = line(header);
  return [paint ? paint.bold(head) : head, ...rows.map(line)];
}

export interface StatusRenderOptions {
  /** Show at most this many runner rows (the rest are summarised in one line). */
  maxRows?: number;
  /** Cut error texts to this many characters. */
  errorWidth?: number;
  barWidth?: number;
}

/** Counts, progress bar and runner table of `remoterun status`. */
export function renderStatus(s: StatusSummary, paint: Paint, options: StatusRenderOptions = {}): string[] {
  const out: string[] = [];
  out.push(`${paint.bold(s.dataset)} ${paint.dim(s.database)}`);
  out.push(countsLine(s.counts, paint));
  out.push(`${progressBar(s.finished, s.total, options.barWidth ?? 30, paint)} finished`);
  if (s.runners.length === 0) return out;
  out.push("");
  const max = options.maxRows ?? Number.POSITIVE_INFINITY;
  const shown = s.runners.length > max ? s.runners.slice(0, Math.max(0, max - 1)) : s.runners;
  const rows = shown.map((r) => [
    r.name,
    stateColor(r.state, paint),
    r.jobId ?? paint.dim("-"),
    r.error ? paint.red(truncate(r.error, options.errorWidth ?? 80)) : "",
  ]);
  out.push(...table(["RUNNER", "STATE", "JOB", "ERROR"], rows, paint));
  if (shown.length < s.runners.length) out.push(paint.dim(`… ${s.runners.length - shown.length} more`));
  return out;
}

/** What `status` shows of a submission's master (see Dataset.liveness). */
export interface MasterLike {
  token: string;
  pid?: number | undefined;
  state: string;
  reason?: string | undefined;
}

/** One line per submission checked: is its master still running (no scheduler)? */
export function renderMasters(masters: readonly MasterLike[], paint: Paint): string[] {
  return masters.map((m) => {
    const who = `submission ${m.token}${m.pid !== undefined ? ` (pid ${m.pid})` : ""}`;
    if (m.state === "alive") return `${paint.dim(who)}: master ${paint.green("alive")}`;
    if (m.state === "gone")
      return `${paint.dim(who)}: master ${paint.red("gone")}${m.reason ? ` — ${m.reason}` : ""}`;
    return `${paint.dim(who)}: master ${paint.yellow("unknown")} (no pid recorded)`;
  });
}

/** One line per refresh for `status --watch` when the output is not a terminal. */
export function renderStatusLine(s: StatusSummary, time: Date): string {
  const counts = Object.entries(s.counts)
    .map(([state, n]) => `${state} ${n}`)
    .join(", ");
  return `${time.toISOString()} ${s.finished}/${s.total} finished${counts ? ` (${counts})` : ""}`;
}

/** A result as plain JSON: failures as `{ error }`, missing results as null. */
export function jsonResult(value: unknown): unknown {
  if (value instanceof RunnerFailedError) return { error: value.message };
  if (value === undefined) return null;
  return toJsonSafe(value);
}

/** A value as plain JSON data (BigInts, Dates, Maps, typed arrays… turned into JSON-able forms). */
export function jsonSafe(value: unknown): unknown {
  return toJsonSafe(value);
}

function toJsonSafe(value: unknown, ancestors: object[] = []): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return null;
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
  if (ArrayBuffer.isView(value))
    return Array.from(value as unknown as ArrayLike<number>, (n) => toJsonSafe(n));
  // A v8 result may refer to itself.
  if (ancestors.includes(value)) return "[Circular]";
  ancestors.push(value);
  try {
    const safe = (v: unknown) => toJsonSafe(v, ancestors);
    if (value instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value) put(out, String(k), safe(v));
      return out;
    }
    if (value instanceof Set) return [...value].map(safe);
    if (Array.isArray(value)) return value.map(safe);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) put(out, k, safe(v));
    return out;
  } finally {
    ancestors.pop();
  }
}

/** A result on one line for the human-readable `results` table. */
export function inlineValue(value: unknown, max = 100): string {
  if (typeof value === "string") return truncate(JSON.stringify(value), max);
  return truncate(JSON.stringify(toJsonSafe(value)) ?? String(value), max);
}

/** The `results` table: one row per runner. */
export function renderResults(
  runners: readonly { name: string; state: string; result: unknown }[],
  paint: Paint,
): string[] {
  const rows = runners.map((r) => {
    const v = r.result;
    const shown =
      v instanceof RunnerFailedError
        ? paint.red(`error: ${truncate(v.message, 100)}`)
        : v === undefined
          ? paint.dim(r.state === "satisfied" ? "(returned nothing)" : "(no result)")
          : inlineValue(v);
    return [r.name, stateColor(r.state, paint), shown];
  });
  return table(["RUNNER", "STATE", "RESULT"], rows, paint);
}

/**
 * Names for a summary line: all of them with `all`, else the first `max` and how many more
 * (`a, b, c and 12 more (--verbose lists all)`).
 */
export function nameList(names: readonly string[], all: boolean, max = 5): string {
  if (all || names.length <= max) return names.join(", ");
  return `${names.slice(0, max).join(", ")} and ${names.length - max} more (--verbose lists all)`;
}

/** Args on one line, nested keys dotted: `x=1, opts.mode="fast"`, cut to `max` characters. */
export function argsSummary(args: unknown, max = 60): string {
  const safe = toJsonSafe(args);
  const pairs: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && (key === "" || Object.keys(v).length)) {
      for (const [k, x] of Object.entries(v)) walk(x, key === "" ? k : `${key}.${k}`);
    } else pairs.push(key === "" ? JSON.stringify(v) : `${key}=${JSON.stringify(v)}`);
  };
  walk(safe, "");
  return truncate(pairs.join(", "), max);
}

/** A moment as `YYYY-MM-DD HH:MM` in local time. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** Counts per state on one line: `satisfied 3 · failed 1`. */
export function countsLine(counts: Record<string, number>, paint: Paint): string {
  const parts = Object.entries(counts).map(([state, n]) => `${stateColor(state, paint)} ${n}`);
  return parts.length ? parts.join(paint.dim(" · ")) : paint.dim("no runners");
}

/** One Dataset found by `remoterun list` (also its --json output). */
export interface ListedDataset {
  name: string;
  id: string;
  /** The database file, absolute. */
  database: string;
  /** "function" or "script"; null when the database could not be read. */
  kind: string | null;
  connection: string | null;
  computer: { name: string; submitter: string } | null;
  total: number;
  counts: Record<string, number>;
  /** When a runner last changed state (ISO 8601), or the database was written when it has none. */
  lastChange: string | null;
  /** Why the database could not be read, when it could not. */
  error: string | null;
}

/** The table of `remoterun list`; `where` shows a database path (relative to the working folder). */
export function renderList(
  rows: readonly ListedDataset[],
  paint: Paint,
  where: (file: string) => string,
): string[] {
  const body = rows.map((r) =>
    r.error !== null
      ? [r.name, paint.red("unreadable"), "", "", "", where(r.database), paint.red(truncate(r.error, 80))]
      : [
          r.name,
          countsLine(r.counts, paint),
          r.connection ?? "",
          r.computer ? `${r.computer.name} (${r.computer.submitter})` : paint.dim("-"),
          r.lastChange ? localTime(Date.parse(r.lastChange)) : paint.dim("-"),
          where(r.database),
          "",
        ],
  );
  const header = ["DATASET", "RUNNERS", "CONNECTION", "COMPUTER", "LAST CHANGE", "DATABASE", "ERROR"];
  if (rows.every((r) => r.error === null))
    return table(
      header.slice(0, -1),
      body.map((b) => b.slice(0, -1)),
      paint,
    );
  return table(header, body, paint);
}
