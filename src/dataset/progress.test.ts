import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  durationText,
  liveLine,
  ProgressTracker,
  plainLine,
  progressWanted,
  WaitProgress,
} from "./progress.js";

const view = (states: string[]) => states.map((state, i) => ({ name: `runner-${i}`, state }));
const bar = (f: number, size: number) => "#".repeat(Math.round(f * size)).padEnd(size, ".");

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("ProgressTracker", () => {
  it("counts towards the rate only what finished while it followed; ETA from that rate", () => {
    const c = clock();
    const t = new ProgressTracker(c.now);
    // 8 already finished at the start, 2 in flight.
    expect(t.update(view([...Array(8).fill("completed"), "started", "submitted"]))).toBe(true);
    expect(t.finished).toBe(8);
    expect(t.scope).toBe(10);
    expect(t.rate()).toBeUndefined();
    expect(t.eta()).toBeUndefined();
    c.advance(60_000);
    expect(t.update(view([...Array(8).fill("completed"), "completed", "started"]))).toBe(true);
    expect(t.finishedSince).toBe(1);
    expect(t.rate()).toBeCloseTo(1);
    expect(t.eta()).toBeCloseTo(60_000);
    expect(t.lastChangeAt).toBe(c.now());
    // No change: the time of the last change stays, the rate falls as time passes.
    c.advance(60_000);
    expect(t.update(view([...Array(8).fill("completed"), "completed", "started"]))).toBe(false);
    expect(t.lastChangeAt).toBe(c.now() - 60_000);
    expect(t.rate()).toBeCloseTo(0.5);
  });

  it("a retry lowers the finished count; the run counts again when it finishes again", () => {
    const c = clock();
    const t = new ProgressTracker(c.now);
    t.update(view(["started", "started"]));
    c.advance(1000);
    t.update(view(["failed", "completed"]));
    expect(t.finishedSince).toBe(2);
    expect(t.done).toBe(true);
    c.advance(1000);
    expect(t.update(view(["submitted", "completed"]))).toBe(true);
    expect(t.finished).toBe(1);
    expect(t.inFlight).toBe(1);
    expect(t.done).toBe(false);
    c.advance(1000);
    t.update(view(["completed", "completed"]));
    expect(t.finishedSince).toBe(3);
    expect(t.counts).toEqual({ completed: 2 });
  });

  it("runners never submitted are outside what is waited for, but counted", () => {
    const t = new ProgressTracker();
    t.update(view(["created", "completed", "started"]));
    expect(t.scope).toBe(2);
    expect(t.counts).toEqual({ created: 1, started: 1, completed: 1 });
  });
});

describe("lines", () => {
  it("the plain line: time, counts in lifecycle order, rate and ETA; done at the end", () => {
    const c = clock(Date.UTC(2030, 0, 2, 3, 4, 5));
    const t = new ProgressTracker(c.now);
    t.update(view(["started", "submitted", "completed"]));
    expect(plainLine("ds", t, c.now())).toBe(
      "2030-01-02T03:04:05.000Z ds: 1/3 finished (33%) · submitted 1, started 1, completed 1 · - runs/min · ETA -",
    );
    c.advance(30_000);
    t.update(view(["completed", "failed", "completed"]));
    expect(plainLine("ds", t, c.now())).toMatch(
      /ds: 3\/3 finished \(100%\) · completed 2, failed 1 · 4\.0 runs\/min · done in 30s$/,
    );
  });

  it("the live line fits the terminal: the least useful parts go first", () => {
    const c = clock();
    const t = new ProgressTracker(c.now);
    t.update(view(["completed", "started", "started", "submitted"]));
    c.advance(5000);
    const wide = liveLine("mydataset", t, c.now(), 200, bar);
    expect(wide).toMatch(
      /^mydataset #{6}\.{18} 25% 1\/4 · submitted 1, started 2, completed 1 · - runs\/min · ETA - · last change \d\d:\d\d:\d\d \(5s ago\)$/,
    );
    for (const width of [120, 100, 80, 60]) {
      const line = liveLine("mydataset", t, c.now(), width, bar);
      expect([...line].length, line).toBeLessThan(width);
      expect(line).toContain("25% 1/4 · submitted 1, started 2, completed 1");
    }
    expect(liveLine("mydataset", t, c.now(), 80, bar)).toMatch(/^#+\.+ 25% /);
    // Narrower than the essentials: those are kept (the terminal cuts the rest).
    expect(liveLine("mydataset", t, c.now(), 30, bar)).toBe(
      "25% 1/4 · submitted 1, started 2, completed 1 · ETA -",
    );
  });

  it("durations", () => {
    expect(durationText(0)).toBe("0s");
    expect(durationText(59_400)).toBe("59s");
    expect(durationText(187_000)).toBe("3m 07s");
    expect(durationText(7_500_000)).toBe("2h 05m");
  });

  it("shown at verbose >= 1 unless the option says otherwise", () => {
    expect(progressWanted(undefined, 1)).toBe(true);
    expect(progressWanted(undefined, 0)).toBe(false);
    expect(progressWanted(true, 0)).toBe(true);
    expect(progressWanted(false, 2)).toBe(false);
  });
});

function sink(tty: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY: tty, columns: 150 });
  let text = "";
  stream.setEncoding("utf8");
  stream.on("data", (d: string) => {
    text += d;
  });
  return { stream, text: () => text };
}

describe("WaitProgress", () => {
  it("not a terminal: a line per change only; nothing when nothing is in flight", () => {
    const s = sink(false);
    const p = new WaitProgress("ds", s.stream);
    p.update(view(["started", "started"]));
    p.update(view(["started", "started"]));
    p.update(view(["completed", "started"]));
    p.interrupt(() => s.stream.write("a message\n"));
    p.update(view(["completed", "completed"]));
    p.stop();
    const lines = s.text().trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/ ds: 0\/2 finished \(0%\) · started 2 · /);
    expect(lines[1]).toMatch(/ ds: 1\/2 finished \(50%\) · started 1, completed 1 · /);
    expect(lines[2]).toBe("a message");
    expect(lines[3]).toMatch(/ ds: 2\/2 finished \(100%\) · completed 2 · .* · done in /);
    expect(s.text()).not.toContain("\x1b");

    const idle = sink(false);
    const q = new WaitProgress("ds", idle.stream);
    q.update(view(["completed", "created"]));
    q.stop();
    expect(idle.text()).toBe("");
  });

  it("a terminal: the line is drawn in place; a message clears it and it is drawn again below", () => {
    const s = sink(true);
    const p = new WaitProgress("ds", s.stream);
    p.update(view(["started", "started"]));
    p.interrupt(() => s.stream.write("a message\n"));
    p.update(view(["completed", "completed"]));
    p.stop();
    const out = s.text();
    const [before, after] = out.split("a message\n");
    expect(before).toMatch(/ds [█░]+ 0% 0\/2 · started 2 · .*\x1b\[1G\x1b\[2K$/);
    expect(after).toMatch(/^\x1b\[1Gds [█░]+ 0% 0\/2 · started 2 /);
    expect(after).toMatch(/ds █+ 100% 2\/2 · completed 2 · .* · done in \d+s\x1b\[0K(\x1b\[1G)?\n$/);
  });
});
