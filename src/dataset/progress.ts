/**
 * What `wait()` shows while it polls: on a terminal one line redrawn in place (cli-progress), when
 * not a terminal one plain line per change; and the counting behind it (rate, ETA), which
 * `remoterun status --watch` shares.
 */
import { clearLine, cursorTo } from "node:readline";
import cliProgress, { type GenericBar, type MultiBar } from "cli-progress";
import { isFinishedState, isInFlightState, RUNNER_STATES, type RunnerState } from "../runner/index.js";

/** What the progress needs of a runner. */
export interface RunnerView {
  readonly name: string;
  readonly state: string;
}

/** Where progress is written: a stream that may be a terminal. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

const finished = (s: string) => isFinishedState(s as RunnerState);
const inFlight = (s: string) => isInFlightState(s as RunnerState);

/**
 * Follows successive views of a Dataset's runners: counts per state, how many runs finished since
 * it started following (runners already finished then do not count towards the rate), the rate
 * and the time left at that rate. A runner sent back in flight (a retry) lowers the finished count;
 * when it finishes again, it counts again.
 */
export class ProgressTracker {
  readonly startedAt: number;
  /** When the counts last changed (the start, until they do). */
  lastChangeAt: number;
  counts: Record<string, number> = {};
  finished = 0;
  inFlight = 0;
  /** Runners seen finishing since the start. */
  finishedSince = 0;
  private states = new Map<string, string>();
  private key: string | undefined;

  constructor(private readonly now: () => number = Date.now) {
    this.startedAt = now();
    this.lastChangeAt = this.startedAt;
  }

  /** What the wait is about: runners finished or in flight (never-submitted ones are not waited for). */
  get scope(): number {
    return this.finished + this.inFlight;
  }

  /** Take a new view of the runners; true when the counts changed (and on the first view). */
  update(runners: readonly RunnerView[]): boolean {
    const states = new Map<string, string>();
    for (const r of runners) {
      const before = this.states.get(r.name);
      if (before !== undefined && !finished(before) && finished(r.state)) this.finishedSince++;
      states.set(r.name, r.state);
    }
    this.states = states;
    this.counts = countStates(runners.map((r) => r.state));
    this.finished = runners.filter((r) => finished(r.state)).length;
    this.inFlight = runners.filter((r) => inFlight(r.state)).length;
    const key = JSON.stringify(this.counts);
    const first = this.key === undefined;
    const changed = key !== this.key;
    this.key = key;
    if (changed && !first) this.lastChangeAt = this.now();
    return changed;
  }

  /** Runs finished per minute since the start (at least a second); undefined until one has. */
  rate(at = this.now()): number | undefined {
    if (this.finishedSince === 0) return undefined;
    return this.finishedSince / (Math.max(1000, at - this.startedAt) / 60_000);
  }

  /** Milliseconds until nothing is in flight at the current rate: 0 when done, undefined if unknown. */
  eta(at = this.now()): number | undefined {
    if (this.inFlight === 0) return 0;
    const rate = this.rate(at);
    return rate === undefined ? undefined : (this.inFlight / rate) * 60_000;
  }

  get done(): boolean {
    return this.inFlight === 0;
  }
}

/** Counts per state in lifecycle order, states with no runner left out. */
export function countStates(states: readonly string[]): Record<string, number> {
  const n = new Map<string, number>();
  for (const s of states) n.set(s, (n.get(s) ?? 0) + 1);
  const known = new Set<string>(RUNNER_STATES);
  const order = [...RUNNER_STATES, ...[...n.keys()].filter((s) => !known.has(s)).sort()];
  const out: Record<string, number> = {};
  for (const s of order) if (n.has(s)) out[s] = n.get(s)!;
  return out;
}

/** `completed 2, failed 1, started 3`. */
export function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([state, n]) => `${state} ${n}`)
    .join(", ");
}

/** `45s`, `3m 07s`, `2h 05m`. */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, "0")}m`;
}

/** Local wall-clock time `HH:MM:SS`. */
export function clockText(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** `4.5 runs/min` (`- runs/min` until a run has finished). */
export function rateText(t: ProgressTracker, at: number): string {
  const r = t.rate(at);
  if (r === undefined) return "- runs/min";
  return `${r >= 10 ? Math.round(r) : r.toFixed(1)} runs/min`;
}

/** `ETA 3m 07s` while runs are in flight (`ETA -` until the rate is known), `done in 5m 12s` after. */
export function etaText(t: ProgressTracker, at: number): string {
  if (t.done) return `done in ${durationText(at - t.startedAt)}`;
  const eta = t.eta(at);
  return eta === undefined ? "ETA -" : `ETA ${durationText(eta)}`;
}

/** `4.5 runs/min · ETA 3m 07s · last change 12:03:04 (5s ago)`: what status --watch adds. */
export function paceText(t: ProgressTracker, at: number): string {
  const parts = [rateText(t, at), etaText(t, at)];
  if (!t.done)
    parts.push(`last change ${clockText(t.lastChangeAt)} (${durationText(at - t.lastChangeAt)} ago)`);
  return parts.join(" · ");
}

const percent = (t: ProgressTracker) => (t.scope ? Math.floor((t.finished / t.scope) * 100) : 100);

/** The plain line of one change: `<ISO time> <name>: 3/10 finished (30%) · <counts> · <rate> · <ETA>`. */
export function plainLine(name: string, t: ProgressTracker, at: number): string {
  return [
    `${new Date(at).toISOString()} ${name}: ${t.finished}/${t.scope} finished (${percent(t)}%)`,
    countsText(t.counts),
    rateText(t, at),
    etaText(t, at),
  ].join(" · ");
}

const BAR_MAX = 24;
const BAR_MID = 12;
const BAR_MIN = 6;

/**
 * The live line, fitted to `width` characters: `<name> ████░░░░ 30% 3/10 · <counts> · <rate> ·
 * <ETA> · last change 12:03:04 (5s ago)`. On a narrow terminal the least useful parts go first.
 */
export function liveLine(
  name: string,
  t: ProgressTracker,
  at: number,
  width: number,
  bar: (fraction: number, size: number) => string,
): string {
  const fraction = t.scope ? t.finished / t.scope : 1;
  const ago = t.done ? "" : ` (${durationText(at - t.lastChangeAt)} ago)`;
  const change = t.done ? "" : `last change ${clockText(t.lastChangeAt)}`;
  const compose = (o: { name: boolean; ago: boolean; change: boolean; rate: boolean; bar: number }) =>
    [
      `${o.name ? `${name} ` : ""}${o.bar ? `${bar(fraction, o.bar)} ` : ""}${percent(t)}% ${t.finished}/${t.scope}`,
      countsText(t.counts),
      ...(o.rate ? [rateText(t, at)] : []),
      etaText(t, at),
      ...(o.change && change ? [`${change}${o.ago ? ago : ""}`] : []),
    ].join(" · ");
  const o = { name: true, ago: true, change: true, rate: true, bar: BAR_MAX };
  const fits = () => [...compose(o)].length < width;
  const shrink = (min: number) => {
    while (!fits() && o.bar > min) o.bar--;
  };
  const steps = [
    () => (o.ago = false),
    () => shrink(BAR_MID),
    () => (o.name = false),
    () => (o.change = false),
    () => shrink(BAR_MIN),
    () => (o.rate = false),
    () => (o.bar = 0),
  ];
  for (const step of steps) {
    if (fits()) break;
    step();
  }
  return compose(o);
}

/** Whether wait() shows progress: `progress` if given, else at verbose >= 1. */
export function progressWanted(progress: unknown, verbosity: number): boolean {
  return typeof progress === "boolean" ? progress : verbosity >= 1;
}

/**
 * The progress of one wait: shown from the first view with runners in flight (a wait with nothing
 * to wait for prints nothing), redrawn in place on a terminal, one line per change otherwise; the
 * last frame stays on screen, ended by a newline.
 */
export class WaitProgress {
  readonly tracker: ProgressTracker;
  private readonly tty: boolean;
  private multi: MultiBar | undefined;
  private bar: GenericBar | undefined;
  private shown = false;

  constructor(
    private readonly name: string,
    private readonly stream: ProgressStream,
    private readonly now: () => number = Date.now,
  ) {
    this.tracker = new ProgressTracker(now);
    this.tty = stream.isTTY === true;
  }

  /** A new view of the runners, after a poll. */
  update(runners: readonly RunnerView[]): void {
    const changed = this.tracker.update(runners);
    if (!this.shown) {
      if (this.tracker.done) return;
      this.shown = true;
      if (this.tty) this.startLive();
    }
    if (this.multi) this.multi.update();
    else if (changed) this.stream.write(`${plainLine(this.name, this.tracker, this.now())}\n`);
  }

  /** Write a message (through `write`) without breaking the live line: cleared, then drawn again below. */
  interrupt(write: () => void): void {
    if (!this.bar) {
      write();
      return;
    }
    cursorTo(this.stream, 0);
    clearLine(this.stream, 0);
    try {
      write();
    } finally {
      this.bar.render(true);
    }
  }

  /** Draw the last frame and leave it on screen with a newline. */
  stop(): void {
    if (!this.multi) return;
    const multi = this.multi;
    this.multi = undefined;
    this.bar = undefined;
    multi.stop();
  }

  private startLive(): void {
    const multi = new cliProgress.MultiBar(
      {
        stream: this.stream,
        format: (options, params) =>
          liveLine(this.name, this.tracker, this.now(), params.maxWidth, (fraction, size) =>
            cliProgress.Format.BarFormat(fraction, { ...options, barsize: size }),
          ),
        barsize: BAR_MAX,
        // Kept as they are, so that nothing needs restoring if the process is interrupted.
        hideCursor: false,
        linewrap: true,
        gracefulExit: false,
        fps: 4,
      },
      cliProgress.Presets.shades_classic,
    );
    // The line is drawn after each poll, and by cli-progress's timer whenever it changes (ETA, "ago").
    this.bar = multi.create(this.tracker.scope, this.tracker.finished) as unknown as GenericBar;
    this.multi = multi;
  }
}

/**
 * The progress of a wait with these options, or undefined when none is wanted. Nothing is written
 * before the first update().
 */
export function waitProgress(
  progress: unknown,
  verbosity: number,
  name: string,
  stream: ProgressStream = process.stderr,
): WaitProgress | undefined {
  return progressWanted(progress, verbosity) ? new WaitProgress(name, stream) : undefined;
}
