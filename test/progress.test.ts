/**
 * Progress while waiting, as a user sees it: `remoterun wait` and a script's `wait()` run under a real
 * pseudo-terminal (util-linux `script`) while runners finish one after another, and with their
 * output piped; `remoterun status --watch` on a terminal while a script holds the Dataset.
 */
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dataset, InvalidArgumentError } from "../src/index.js";
import { type Child, spawnFixture } from "./helpers/child.js";
import { ensureDist, ROOT } from "./helpers/dist.js";
import { fromSource, SOURCES } from "./lifecycle/functions.js";

const MAIN = join(ROOT, "dist/cli/main.js");
const FIXTURE = join(ROOT, "test/fixtures/progress-wait.mjs");
let root: string;
const children: Child[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rr-progress-"));
  await ensureDist();
}, 120_000);
afterAll(async () => {
  for (const c of children) await c.kill9();
  rmSync(root, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => {
  const e = { ...process.env };
  delete e.FORCE_COLOR;
  delete e.NO_COLOR;
  return e;
};
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run a command on a pseudo-terminal of 160 columns: its exit code and everything the terminal got. */
function underPty(argv: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  const cmd = `stty cols 160 rows 40; exec ${argv.map(shq).join(" ")}`;
  return new Promise((resolve, reject) => {
    const p = spawn("script", ["-qfec", cmd, "/dev/null"], {
      cwd,
      env: env(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    p.stderr.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), 50_000);
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Run a command with its output piped. */
function piped(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { cwd, env: env(), timeout: 50_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let seq = 0;
/** Runners that finish one after another, `step` ms apart. */
const staggered = (n: number, step: number) =>
  Array.from({ length: n }, (_, i) => ({ i, ms: 300 + i * step }));

function place(tag: string) {
  const dir = join(root, `${tag}${++seq}`);
  mkdirSync(dir);
  const name = `${tag}${seq}`;
  return {
    dir,
    name,
    dirs: { dbDir: dir, localDir: join(dir, "local"), remoteDir: join(dir, "remote") },
  };
}

/** A Dataset whose runners are submitted (and left running) by the library, then let go. */
async function submitted(tag: string, runners: { i: number; ms: number }[]) {
  const p = place(tag);
  const ds = new Dataset(fromSource(SOURCES.sleepStamp), {
    name: p.name,
    skip: false,
    ...p.dirs,
    verbose: 0,
  });
  ds.appendRuns(runners);
  await ds.run();
  await ds.close();
  return p;
}

/** What the fixture script needs to run `runners` as Dataset `p`. */
const fixtureConfig = (p: ReturnType<typeof place>, runners: unknown[], extra: object = {}) => ({
  name: p.name,
  fnSource: SOURCES.sleepStamp,
  ...p.dirs,
  runners,
  ...extra,
});

/** The frames of the live line in what a terminal received (between carriage returns and cursor moves). */
function frames(out: string): string[] {
  return out.split(/\r\n|\r|\n|\x1b\[\d*G|\x1b\[\d*K/).filter((s) => /\d+% \d+\/\d+ · /.test(s));
}

/** The live line was redrawn in place several times and its last frame, at 100 %, stayed with a newline. */
function expectLiveLine(out: string, name: string, n: number): void {
  const all = frames(out);
  expect(new Set(all).size, out).toBeGreaterThanOrEqual(3);
  for (const f of all) expect(f).toMatch(new RegExp(`^${name} [█░]+ \\d+% \\d+/${n} · `));
  const last = all.at(-1)!;
  expect(last).toMatch(new RegExp(`100% ${n}/${n} · completed ${n} · [\\d.]+ runs/min · done in \\d+`));
  // Every frame after the first was drawn over the one before: no newline in between, a return to
  // the first column before each.
  const span = out.slice(out.indexOf(all[0]), out.lastIndexOf(last));
  expect(span).not.toContain("\n");
  expect((span.match(/\r|\x1b\[\d*G/g) ?? []).length).toBeGreaterThanOrEqual(all.length - 1);
  // The last frame is left on screen, ended by a newline.
  expect(out.slice(out.lastIndexOf(last) + last.length)).toMatch(/^(\x1b\[\d*[GK])*\r?\n/);
  // Counts only grow here: frame by frame, the finished number never goes down.
  const done = all.map((f) => Number(/(\d+)\/\d+ · /.exec(f)![1]));
  expect(done).toEqual([...done].sort((a, b) => a - b));
}

/** One plain line per change, no escape codes, ending at 100 % with the counts. */
function expectPlainLines(stderr: string, name: string, n: number): void {
  expect(stderr).not.toContain("\x1b");
  expect(stderr).not.toContain("\r");
  const lines = stderr.split("\n").filter((l) => l.includes(` ${name}: `));
  expect(lines.length, stderr).toBeGreaterThanOrEqual(2);
  for (const l of lines)
    expect(l).toMatch(
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${name}: \\d+/${n} finished \\(\\d+%\\) · `),
    );
  // A line per change: two lines in a row never show the same counts.
  const counts = lines.map((l) => l.split(" · ").slice(0, 2).join(" · ").replace(/^\S+ /, ""));
  for (let k = 1; k < counts.length; k++) expect(counts[k]).not.toBe(counts[k - 1]);
  expect(lines.at(-1)).toMatch(new RegExp(`${n}/${n} finished \\(100%\\) · completed ${n} · .* · done in `));
}

describe("progress while waiting", () => {
  it("remoterun wait on a terminal: one line redrawn in place, left at 100 % with the counts", async () => {
    const s = await submitted("cliTty", staggered(6, 400));
    const r = await underPty([process.execPath, MAIN, "wait", "--interval", "0.2"], s.dir);
    expect(r.code, r.out).toBe(0);
    expectLiveLine(r.out, s.name, 6);
    expect(r.out).toContain("all 6 runner(s) succeeded");
  }, 60_000);

  it("remoterun wait interrupted (SIGINT) on a terminal: the live line ends with a newline", async () => {
    const s = await submitted("cliInt", staggered(3, 20_000));
    const r = await underPty(
      ["timeout", "-s", "INT", "3", process.execPath, MAIN, "wait", "--interval", "0.2"],
      s.dir,
    );
    expect(r.out).toContain(s.name);
    expect(r.out).toMatch(/0\/3/);
    // The last thing written is the newline after the live line (a pty turns it into CR LF).
    expect(r.out).toMatch(/\r?\n$/);
    expect(r.code).toBe(124); // timeout's code for a command it signalled
  }, 60_000);

  it("remoterun wait piped: a plain line per change; --no-progress: none", async () => {
    const [a, b] = await Promise.all([
      submitted("cliPipe", staggered(4, 300)),
      submitted("cliQuiet", staggered(3, 300)),
    ]);
    const [r, quiet] = await Promise.all([
      piped([process.execPath, MAIN, "wait", "--interval", "0.1"], a.dir),
      piped([process.execPath, MAIN, "wait", "--interval", "0.1", "--no-progress"], b.dir),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expectPlainLines(r.stderr, a.name, 4);
    expect(r.stdout).toContain("all 4 runner(s) succeeded");
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(quiet.stdout).toContain("all 3 runner(s) succeeded");
  }, 60_000);

  it("a script's wait() on a terminal (verbose 1, the default): the same live line", async () => {
    const p = place("libTty");
    const config = JSON.stringify(fixtureConfig(p, staggered(5, 400)));
    const r = await underPty([process.execPath, FIXTURE, config], p.dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("done completed,completed,completed,completed,completed");
    expectLiveLine(r.out, p.name, 5);
  }, 60_000);

  it("a script's wait() piped: a plain line per change on stderr; nothing at verbose 0 or with progress: false", async () => {
    const places = [place("libPipe"), place("libSilent"), place("libOff")];
    const extras = [{}, { verbose: 0 }, { progress: false }];
    const [shown, silent, off] = await Promise.all(
      places.map((p, k) =>
        piped(
          [process.execPath, FIXTURE, JSON.stringify(fixtureConfig(p, staggered(4, 300), extras[k]))],
          p.dir,
        ),
      ),
    );
    for (const r of [shown, silent, off]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("done completed,completed,completed,completed");
    }
    expectPlainLines(shown.stderr, places[0].name, 4);
    expect(silent.stderr).toBe("");
    expect(off.stderr).toBe("");
  }, 60_000);

  it("wait() refuses a progress that is not a boolean, and a misspelt key, before waiting", async () => {
    const p = place("bad");
    const ds = new Dataset(fromSource(SOURCES.sleepStamp), {
      name: p.name,
      skip: false,
      ...p.dirs,
      verbose: 0,
    });
    try {
      const bad = ds.wait({ progress: "yes" as unknown as boolean });
      await expect(bad).rejects.toThrow(InvalidArgumentError);
      await expect(bad).rejects.toThrow(/wait progress.*"yes".*true or false/);
      await expect(ds.wait({ progres: true } as never)).rejects.toThrow(/progress/);
    } finally {
      await ds.close();
    }
  });

  it("status --watch on a terminal while a script holds the Dataset: redrawn in place, with rate and ETA", async () => {
    const p = place("watch");
    const holder = spawnFixture("progress-wait.mjs", fixtureConfig(p, staggered(5, 700), { verbose: 0 }));
    children.push(holder);
    await holder.waitFor("waiting");
    const r = await underPty([process.execPath, MAIN, "status", "--watch", "--interval", "0.3"], p.dir);
    expect(r.code, r.out).toBe(0);
    expect((await holder.waitFor("done")).startsWith("done completed")).toBe(true);
    const plain = r.out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
    // Read-only (the script holds the Dataset), shown inside the frame rather than as a plain line.
    expect(plain).toContain("read-only: held by process");
    // Several frames, each drawn over the one before (cursor moved up over it, screen cleared below).
    const bars = plain.split(/\r?\n/).filter((l) => /^[█░]+ \d+\/5 \d+% finished$/.test(l));
    expect(bars.length, plain).toBeGreaterThanOrEqual(2);
    const redraws = r.out.match(/\x1b\[\d+A\x1b\[1G\x1b\[0J/g) ?? [];
    expect(redraws.length).toBe(bars.length - 1);
    expect(plain).toMatch(/ runs\/min · (ETA [-\d]|done in )/);
    expect(bars.at(-1)).toMatch(/5\/5 100% finished/);
    expect(plain).toMatch(/completed 5/);
    expect(plain).not.toMatch(/^\d{4}-\d\d-\d\dT.* finished \(/m);
  }, 60_000);
});
