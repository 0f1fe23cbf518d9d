// @ts-check
/**
 * Crash injection: proves that a driver killed with SIGKILL at any moment, then resumed by a new
 * process, loses nothing and runs nothing twice.
 *
 * A trial is one Dataset of `runners` runners (default 100). Its function appends one line per
 * execution (runner name, args, pid, submission token) to a side file beside the remote files, and
 * returns a value computed from its args. The user's script is test/fixtures/crash-child.mjs
 * (appendRuns → run → wait → fetchResults on the built package, `skip` at its default), started as
 * a process of its own and killed with SIGKILL at seeded random points: while it appends, while it
 * stages and transfers, inside the launch window (runners recorded `transferred`, the launch command
 * not yet answered), while it waits, while it fetches, or at a random time. A new process then
 * resumes the same Dataset; after a few kills a last one runs to the end and prints the results.
 *
 * The launch window is found by watching the database: the journal line (or, when the journal was
 * just folded into it, the snapshot) that records runners `transferred` under a token not seen
 * before is written right before the launch command. The window is widened by a node command that
 * sleeps before starting node (`sleep 0.3; node`): the launch script runs `node --version` before it
 * starts anything.
 *
 * Most kills hit the driver alone (its shell or ssh children live on, as after `kill -9 PID`); some
 * hit its whole process group (as when a terminal or a container goes away). After every kill the
 * database must be readable by `Dataset.inspect`. At the end of a trial every process the killed
 * drivers left behind and every launched submission is awaited, then the counts are taken:
 *   lost        runners without a result at the end (none, or an error)
 *   run twice   runners whose side file shows more than one execution
 *   wrong       runners whose result is not the value their args give, or that never ran
 *   unreadable  kills after which the database could not be read
 * Kill timing is real time, so a seed replays the plan (targets, delays, kill modes), not every
 * interleaving.
 *
 * Used by test/crash-injection.test.ts (short) and scripts/soak.mjs (`npm run soak`, long).
 * Needs the built package (dist/).
 */
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CHILD = join(ROOT, "test/fixtures/crash-child.mjs");
const DIST = pathToFileURL(join(ROOT, "dist/index.js")).href;

/** Where a kill can be aimed. */
export const TARGETS = /** @type {const} */ (["append", "submit", "window", "wait", "fetch", "any"]);
/** Where a kill can land (judged after the kill from the child's last marker and the database). */
export const PHASES = /** @type {const} */ ([
  "startup",
  "append",
  "submit",
  "launch window",
  "wait",
  "fetch",
  "close",
]);

/**
 * @typedef {(typeof TARGETS)[number]} Target
 * @typedef {(typeof PHASES)[number]} Phase
 *
 * @typedef {object} CampaignOptions
 * @property {"local" | "ssh"} where
 * @property {Record<string, unknown>} [ssh] connect() options of the SSH server (where = "ssh")
 * @property {number} seed
 * @property {number} kills at least this many kills
 * @property {number} [windowKills] at least this many of them in the launch window (default 0)
 * @property {number} [runners] runners per Dataset (default 100)
 * @property {number} [slowNode] seconds the node command sleeps before node starts (default 0.3)
 * @property {[number, number]} [killsPerTrial] kills per Dataset before the last resume (default [2, 5])
 * @property {number} [groupKills] share of kills that hit the driver's whole process group (default 0.2)
 * @property {number} [maxTrials] stop after this many Datasets even if the targets are not met
 * @property {(line: string) => void} [log] progress lines (default: none)
 * @property {string} [scratch] parent folder of the local files (default the system temp folder)
 * @property {boolean} [keep] keep the files (local and remote) when a trial shows a problem (default false)
 * @property {boolean} [aimWindow] aim kills at the launch window (default true; false leaves it to chance)
 *
 * @typedef {object} KillRecord
 * @property {number} trial
 * @property {Target} target
 * @property {Phase} phase
 * @property {boolean} group
 * @property {number} delayMs
 * @property {number} [runTwice] for a launch-window kill: runners of the interrupted submission run twice
 *
 * @typedef {object} Summary
 * @property {string} where
 * @property {number} seed
 * @property {number} trials
 * @property {number} kills
 * @property {number} windowKills kills that landed in the launch window
 * @property {number} lost
 * @property {number} runTwice
 * @property {number} wrong
 * @property {number} unreadable
 * @property {number} runTwiceWindow runners run twice in a submission a launch-window kill interrupted
 * @property {number} runTwiceOther runners run twice otherwise
 * @property {Record<string, { kills: number, group: number }>} byPhase
 * @property {KillRecord[]} killLog
 * @property {string[]} problems what went wrong besides the counts (child errors, hangs, leftovers)
 * @property {number} durationMs
 */

/** A small seeded PRNG (mulberry32): the same seed gives the same plan. */
/** @param {number} seed @returns {() => number} */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed (printed by every run so that it can be replayed). */
export function randomSeed() {
  return Math.floor(Math.random() * 0x7fffffff);
}

/** The value runner `args` must give. @param {{ i: number }} args */
export function expected(args) {
  return { i: args.i, v: args.i * 7 + 3 };
}

/**
 * The Dataset's function, as source: self-contained (it is shipped as text), so it imports what it
 * needs. One short line per execution, appended with O_APPEND (atomic for short lines).
 * @param {string} side
 */
export function functionSource(side) {
  return `async ({ i, ms }, ctx) => {
  const fs = await import("node:fs");
  const token = String(process.argv[2] ?? "").replace(/^.*submit-/, "").replace(/\\.json$/, "");
  fs.appendFileSync(${JSON.stringify(side)}, ctx.name + "\\t" + i + "\\t" + process.pid + "\\t" + token + "\\n");
  await new Promise((r) => setTimeout(r, ms));
  return { i, v: i * 7 + 3 };
}`;
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Run trials (one Dataset each) until at least `kills` kills, `windowKills` of them in the launch
 * window, have been made; then return the counts.
 * @param {CampaignOptions} options
 * @returns {Promise<Summary>}
 */
export async function runCampaign(options) {
  const t0 = Date.now();
  const dist = await import(DIST);
  const log = options.log ?? (() => {});
  const rnd = prng(options.seed);
  const remote = await openRemote(options, dist);
  const scratch = mkdtempSync(join(options.scratch ?? tmpdir(), "rr-crash-"));
  /** @type {Summary} */
  const s = {
    where: options.where,
    seed: options.seed,
    trials: 0,
    kills: 0,
    windowKills: 0,
    lost: 0,
    runTwice: 0,
    wrong: 0,
    unreadable: 0,
    runTwiceWindow: 0,
    runTwiceOther: 0,
    byPhase: Object.fromEntries(PHASES.map((p) => [p, { kills: 0, group: 0 }])),
    killLog: [],
    problems: [],
    durationMs: 0,
  };
  const wantWindow = options.windowKills ?? 0;
  const maxTrials = options.maxTrials ?? Math.ceil(options.kills / 2) + 20;
  let keepScratch = false;
  try {
    while ((s.kills < options.kills || s.windowKills < wantWindow) && s.trials < maxTrials) {
      const before = { ...s, problems: s.problems.length };
      await runTrial(s.trials, options, s, rnd, remote, dist, scratch, log);
      s.trials++;
      const bad =
        s.lost + s.runTwice + s.wrong + s.unreadable >
          before.lost + before.runTwice + before.wrong + before.unreadable ||
        s.problems.length > before.problems;
      if (bad && options.keep) keepScratch = true;
    }
    if (s.kills < options.kills || s.windowKills < wantWindow) {
      s.problems.push(
        `after ${s.trials} trials only ${s.kills} kill(s), ${s.windowKills} in the launch window (wanted ${options.kills} and ${wantWindow})`,
      );
    }
  } finally {
    if (keepScratch) log(`files of the trials kept in ${scratch}`);
    else rmSync(scratch, { recursive: true, force: true });
    await remote.close(keepScratch);
  }
  s.durationMs = Date.now() - t0;
  return s;
}

/**
 * @typedef {object} Remote
 * @property {string} home absolute folder relative remoteDirs are under ("" locally)
 * @property {(script: string) => Promise<string>} sh run a bash script where the runs are; its stdout
 * @property {Record<string, unknown>} connection connect() options the children use
 * @property {(relative: string) => void} track a remote folder to remove at the end
 * @property {(keep: boolean) => Promise<void>} close
 */

/**
 * @param {CampaignOptions} options
 * @param {any} dist
 * @returns {Promise<Remote>}
 */
async function openRemote(options, dist) {
  const slow = options.slowNode ?? 0.3;
  if (options.where === "local") {
    return {
      home: "",
      sh: (script) => localBash(script),
      connection: { kind: "local", node: `sleep ${slow}; ${shq(process.execPath)}` },
      track: () => {},
      close: async () => {},
    };
  }
  if (!options.ssh) throw new Error("where: ssh needs the ssh connection options");
  const base = { ...options.ssh, controlPersist: 5 };
  const conn = dist.connect(base);
  const sh = async (/** @type {string} */ script) => {
    const r = await conn.exec(script, { allowFailure: true });
    if (r.exitCode !== 0) throw new Error(`remote command failed (${r.exitCode}): ${r.stderr}`);
    return r.stdout;
  };
  const home = (await sh('printf "%s" "$HOME"')).trim();
  /** @type {string[]} */
  const folders = [];
  const remoteNode = String(options.ssh.node ?? "node");
  return {
    home,
    sh,
    connection: { ...base, node: `sleep ${slow}; ${remoteNode}` },
    track: (f) => folders.push(f),
    close: async (keep) => {
      if (!keep && folders.length) await sh(`rm -rf -- ${folders.map(shq).join(" ")}`).catch(() => {});
      await conn.close();
    },
  };
}

/**
 * One Dataset: a few kills, then a resume to the end, then the counts.
 * @param {number} t
 * @param {CampaignOptions} options
 * @param {Summary} s
 * @param {() => number} rnd
 * @param {Remote} remote
 * @param {any} dist
 * @param {string} scratch
 * @param {(line: string) => void} log
 */
async function runTrial(t, options, s, rnd, remote, dist, scratch, log) {
  const n = options.runners ?? 100;
  const dir = join(scratch, `t${t}`);
  const tmp = join(dir, "tmp");
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const remoteDir =
    options.where === "local" ? join(dir, "remote") : `rr-crash-${process.pid}-${s.seed}-${t}`;
  const remoteAbs = options.where === "local" ? remoteDir : `${remote.home}/${remoteDir}`;
  remote.track(remoteDir);
  const side = `${remoteAbs}/side.log`;
  const args = Array.from({ length: n }, (_, i) => ({ i, ms: (i * 37 + t * 11) % 150 }));
  const config = {
    name: "crash",
    fnSource: functionSource(side),
    args,
    dbDir: dir,
    localDir: join(dir, "local"),
    remoteDir,
    connection: remote.connection,
  };
  // Control sockets and transfer lists of the children (a killed child leaves them) stay in here.
  const env = { ...process.env, TMPDIR: tmp };
  const [kmin, kmax] = options.killsPerTrial ?? [2, 5];
  const planned = kmin + Math.floor(rnd() * (kmax - kmin + 1));
  const groupShare = options.groupKills ?? 0.2;
  const windowMax = Math.max(20, (options.slowNode ?? 0.3) * 1000 * 0.6);
  /** @type {Map<string, Seen>} the last record seen of every runner */
  const seen = new Map();
  const order = stateOrder(dist);
  /** Tokens of submissions interrupted by a kill inside the launch window. */
  const windowTokens = new Set();
  /** @type {{ record: KillRecord, tokens: string[] }[]} */
  const windowKills = [];
  /** @type {number[]} process groups of killed children */
  const groups = [];
  let dbFile = "";
  /** @type {string[] | null} */
  let finalLines = null;
  let finalProblem = "";
  const lineOf = (/** @type {string[]} */ lines, /** @type {string} */ p) =>
    lines.find((l) => l.startsWith(p));

  for (let attempt = 0; attempt < planned + 3 && finalLines === null; attempt++) {
    const killing = attempt < planned;
    const target = killing
      ? chooseTarget(rnd, dbFile, dist, n, {
          aim: options.aimWindow !== false,
          need: s.windowKills < (options.windowKills ?? 0),
        })
      : null;
    const group = rnd() < groupShare;
    const delay = Math.floor(
      rnd() *
        (target === "append"
          ? 8
          : target === "submit"
            ? 60
            : target === "window"
              ? windowMax
              : target === "wait"
                ? 400
                : target === "fetch"
                  ? 30
                  : 2500),
    );
    for (const r of seen.values()) r.mine = false;
    const child = startChild(config, env);
    const watch = watchDatabase(() => dbFile || guessDbFile(dir), seen, order);
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      timer = setTimeout(() => child.kill(group), delay);
    };
    if (target === "append") child.on("opened", fire);
    else if (target === "submit") child.on("running", fire);
    else if (target === "wait") child.on("waiting", fire);
    else if (target === "fetch") child.on("fetching", fire);
    else if (target === "any") fire();
    else if (target === "window") watch.onTransferred = fire;
    let hung = false;
    const hang = setTimeout(() => {
      hung = true;
      child.kill(true);
    }, 180_000);
    const exit = await child.exited;
    clearTimeout(hang);
    if (timer) clearTimeout(timer);
    watch.stop();
    const opened = lineOf(child.lines, "opened ");
    if (opened) dbFile = opened.slice("opened ".length);

    if (hung) {
      s.problems.push(`trial ${t}: a driver (aimed at ${target ?? "nothing"}) hung for 180 s and was killed`);
      groups.push(child.pid);
      continue;
    }
    if (exit.signal === "SIGKILL") {
      if (!child.killedByUs) {
        s.problems.push(`trial ${t}: the driver was killed by someone else`);
        continue;
      }
      groups.push(child.pid);
      // Where did it land?
      const last = child.lastMarker();
      let phase = /** @type {Phase} */ (
        {
          "": "startup",
          opened: "append",
          appending: "append",
          appended: "submit",
          running: "submit",
          ran: "wait",
          waiting: "wait",
          fetching: "fetch",
          results: "close",
          done: "close",
        }[last] ?? "startup"
      );
      const file = dbFile || guessDbFile(dir);
      let states = /** @type {string[]} */ ([]);
      if (file && (existsSync(`${file}.json`) || opened)) {
        try {
          states = dist.Dataset.inspect(`${file}.json`).runners.map((/** @type {any} */ r) => r.state);
        } catch (e) {
          s.unreadable++;
          s.problems.push(`trial ${t}: database unreadable after a kill (${target}): ${String(e)}`);
        }
      }
      const open = watch.launching();
      if (phase === "submit" && open.length && states.includes("transferred")) phase = "launch window";
      s.kills++;
      s.byPhase[phase].kills++;
      if (group) s.byPhase[phase].group++;
      /** @type {KillRecord} */
      const record = { trial: t, target: target ?? "any", phase, group, delayMs: delay };
      s.killLog.push(record);
      if (phase === "launch window") {
        s.windowKills++;
        for (const tk of open) windowTokens.add(tk);
        windowKills.push({ record, tokens: open });
      }
      log(
        `[${options.where} seed ${s.seed}] trial ${t}: kill ${s.kills} aimed at ${target} (+${delay} ms${group ? ", process group" : ""}) landed in ${phase}`,
      );
      continue;
    }
    const results = lineOf(child.lines, "results ");
    if (exit.code === 0 && results) {
      finalLines = child.lines;
      break;
    }
    const err =
      lineOf(child.lines, "error ") ?? `exit ${exit.code ?? exit.signal}: ${child.stderr().slice(-500)}`;
    finalProblem = `trial ${t}: a resumed driver failed: ${err}`;
    s.problems.push(finalProblem);
  }

  // Let what the killed drivers left behind finish, then every submission that was launched.
  for (const g of groups) {
    if (!(await until(() => !groupAlive(g), 60_000))) {
      s.problems.push(`trial ${t}: processes of killed driver ${g} still running after 60 s; killing them`);
      killGroup(g);
    }
  }
  const folder = dbFile ? basename(dbFile).replace(/\.remoterun$/, "") : "";
  if (folder) {
    const busy = () => remote.sh(busyScript(`${remoteAbs}/${folder}`)).then((o) => o.trim() === "");
    if (!(await untilAsync(busy, 120_000)))
      s.problems.push(`trial ${t}: submissions still running after 120 s`);
  }

  // Count.
  /** @type {Map<string, string[]>} */
  const runs = new Map();
  const sideText = await remote.sh(`cat -- ${shq(side)} 2>/dev/null || true`);
  for (const line of sideText.split("\n")) {
    if (!line) continue;
    const [, i, , token] = line.split("\t");
    if (!runs.has(i)) runs.set(i, []);
    runs.get(i)?.push(token ?? "");
  }
  const resultsLine = finalLines ? lineOf(finalLines, "results ") : undefined;
  /** @type {unknown[]} */
  const results = resultsLine ? JSON.parse(resultsLine.slice("results ".length)) : [];
  let lost = 0;
  let wrong = 0;
  let twice = 0;
  let twiceWindow = 0;
  for (let i = 0; i < n; i++) {
    const r = results[i];
    const ok = JSON.stringify(r) === JSON.stringify(expected(args[i]));
    const done = runs.get(String(i)) ?? [];
    if (r === null || r === undefined || (typeof r === "object" && "error" in r)) lost++;
    else if (!ok || done.length === 0) wrong++;
    if (done.length > 1) {
      twice++;
      if (done.some((tk) => windowTokens.has(tk))) twiceWindow++;
    }
  }
  for (const i of runs.keys()) {
    if (!(Number(i) >= 0 && Number(i) < n))
      s.problems.push(`trial ${t}: side file names an unknown runner ${i}`);
  }
  for (const w of windowKills) {
    w.record.runTwice = [...runs.values()].filter(
      (tks) => tks.length > 1 && tks.some((tk) => w.tokens.includes(tk)),
    ).length;
  }
  s.lost += lost;
  s.wrong += wrong;
  s.runTwice += twice;
  s.runTwiceWindow += twiceWindow;
  s.runTwiceOther += twice - twiceWindow;
  log(
    `[${options.where} seed ${s.seed}] trial ${t}: ${planned} kill(s) planned; lost ${lost}, run twice ${twice} (${twiceWindow} after a launch-window kill), wrong ${wrong}${finalProblem ? `; ${finalProblem}` : ""}`,
  );
}

/**
 * The kill target of the next driver, among those it can still reach given the database.
 * @param {() => number} rnd
 * @param {string} dbFile
 * @param {any} dist
 * @param {number} n
 * @param {{ aim: boolean, need: boolean }} window aim at launch windows at all; short of the target
 * @returns {Target}
 */
function chooseTarget(rnd, dbFile, dist, n, window) {
  /** @type {string[]} */
  let states = [];
  try {
    if (dbFile)
      states = dist.Dataset.inspect(`${dbFile}.json`).runners.map((/** @type {any} */ r) => r.state);
  } catch {
    // unreadable: counted where the kill was made
  }
  // A submission (hence a launch window) happens when some runner was never submitted.
  const submits =
    states.length < n || states.some((st) => st === "created" || st === "staged" || st === "transferred");
  // While launch-window kills are short of their target, most reachable windows get one.
  const reachable = submits && window.aim;
  if (reachable && window.need && rnd() < 0.7) return "window";
  /** @type {[Target, number][]} */
  const weights = [
    ["append", 0.1],
    ["submit", 0.15],
    ["window", reachable ? 0.3 : 0],
    ["wait", 0.2],
    ["fetch", 0.1],
    ["any", 0.15],
  ];
  const total = weights.reduce((a, [, w]) => a + w, 0);
  let x = rnd() * total;
  for (const [target, w] of weights) {
    x -= w;
    if (x < 0) return target;
  }
  return "any";
}

/** The database base path (without .json) in a trial folder, once the first driver made it. @param {string} dir */
function guessDbFile(dir) {
  try {
    const f = readdirSync(dir).find((e) => e.endsWith(".remoterun.json"));
    return f ? join(dir, f.replace(/\.json$/, "")) : "";
  } catch {
    return "";
  }
}

/**
 * @typedef {object} Seen the last record seen of a runner
 * @property {string} state
 * @property {string} token
 * @property {number} time its stateTime
 * @property {boolean} mine written by the driver being watched
 */

/**
 * The runner states in the order a runner goes through them, from the package's own list; `reset`
 * is no step forward, so it ranks with the states not in the list.
 * @param {{ RUNNER_STATES: readonly string[] }} dist the built package
 * @returns {readonly string[]}
 */
function stateOrder(dist) {
  return dist.RUNNER_STATES.filter((s) => s !== "reset");
}

/**
 * Whether record `r` is newer than `seen` (records carry the time of their last state change; a
 * journal read again from its start after a repair shows older ones too).
 * @param {{ state: string, token?: string, stateTime: number }} r @param {Seen | undefined} seen
 * @param {readonly string[]} order the states in the order a runner goes through them
 */
function newer(r, seen, order) {
  if (!seen) return true;
  if (r.stateTime !== seen.time) return r.stateTime > seen.time;
  if (r.state === seen.state && (r.token ?? "") === seen.token) return false;
  return order.indexOf(r.state) >= order.indexOf(seen.state);
}

/**
 * Follow a database while a driver runs, and keep the last record of every runner in `runners`
 * (shared by the drivers of a trial). A record that the driver writes with the state `transferred`
 * calls onTransferred: the launch command comes next. The journal is read as it grows; when it is
 * folded into a new snapshot, the snapshot is read. What is there when the watch starts was written
 * by earlier drivers.
 * @param {() => string} base
 * @param {Map<string, Seen>} runners
 * @param {readonly string[]} order the states in the order a runner goes through them
 */
function watchDatabase(base, runners, order) {
  const before = base();
  // No database yet: whatever appears is this driver's.
  const preexisting = before !== "" && existsSync(`${before}.json`);
  let offset = -1;
  let partial = "";
  let snapKey = "";
  const w = {
    /** @type {(() => void) | null} */
    onTransferred: null,
    /** Tokens of the runners this driver left `transferred` (the submission it was launching). */
    launching() {
      const out = new Set();
      for (const r of runners.values()) if (r.mine && r.state === "transferred") out.add(r.token);
      return [...out];
    },
    stop() {
      clearInterval(timer);
      poll();
    },
  };
  /** @param {unknown} recs @param {boolean} mine */
  const scan = (recs, mine) => {
    if (!Array.isArray(recs)) return;
    let fresh = false;
    for (const r of recs) {
      if (!r || typeof r.name !== "string" || typeof r.stateTime !== "number") continue;
      if (!newer(r, runners.get(r.name), order)) continue;
      runners.set(r.name, { state: r.state, token: r.token ?? "", time: r.stateTime, mine });
      if (mine && r.state === "transferred") fresh = true;
    }
    if (fresh) w.onTransferred?.();
  };
  const poll = () => {
    const b = base();
    if (!b) return;
    try {
      const st = statSync(`${b}.json`);
      const key = `${st.ino}:${st.mtimeMs}:${st.size}`;
      if (key !== snapKey) {
        // The snapshot there when the watch started is the earlier drivers'; a later one (the
        // journal folded into it) is this driver's.
        const startup = preexisting && snapKey === "" && offset < 0;
        snapKey = key;
        scan(JSON.parse(readFileSync(`${b}.json`, "utf8")).runners, !startup);
      }
    } catch {
      // not there yet, or being replaced
    }
    let fd;
    try {
      fd = openSync(`${b}.journal`, "r");
    } catch {
      return;
    }
    try {
      const startup = preexisting && offset < 0;
      const size = statSync(`${b}.journal`).size;
      // First look, or the journal started over (folded into the snapshot, or a torn tail cut off).
      if (offset < 0 || size < offset) {
        offset = 0;
        partial = "";
      }
      if (size > offset) {
        const buf = Buffer.alloc(size - offset);
        const got = readSync(fd, buf, 0, buf.length, offset);
        offset += got;
        partial += buf.subarray(0, got).toString("utf8");
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.includes('"state":')) continue;
          try {
            const e = JSON.parse(line);
            if (e.op === "runners") scan(e.recs, !startup);
          } catch {
            // a torn line
          }
        }
      }
    } finally {
      closeSync(fd);
    }
  };
  poll();
  const timer = setInterval(poll, 3);
  return w;
}

/**
 * @typedef {object} Child
 * @property {number} pid
 * @property {string[]} lines
 * @property {() => string} stderr
 * @property {(marker: string, f: () => void) => void} on
 * @property {() => string} lastMarker
 * @property {(group: boolean) => void} kill
 * @property {boolean} killedByUs
 * @property {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} exited
 */

/**
 * Start a driver in its own process group (so that what it leaves behind can be found and awaited).
 * @param {unknown} config @param {NodeJS.ProcessEnv} env @returns {Child}
 */
function startChild(config, env) {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env,
  });
  const pid = /** @type {number} */ (proc.pid);
  /** @type {string[]} */
  const lines = [];
  /** @type {Map<string, () => void>} */
  const hooks = new Map();
  let last = "";
  let err = "";
  let partial = "";
  proc.stdout.setEncoding("utf8");
  proc.stdout.on("data", (/** @type {string} */ chunk) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const l of parts) {
      lines.push(l);
      if (l.startsWith("log ")) continue;
      const marker = l.split(" ")[0];
      if (!marker.startsWith("error")) last = marker;
      hooks.get(marker)?.();
    }
  });
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (/** @type {string} */ c) => {
    err += c;
  });
  /** @type {Child} */
  const child = {
    pid,
    lines,
    stderr: () => err,
    on: (marker, f) => {
      hooks.set(marker, f);
    },
    lastMarker: () => last,
    killedByUs: false,
    kill(group) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      child.killedByUs = true;
      try {
        process.kill(group ? -pid : pid, "SIGKILL");
      } catch {
        // gone already
      }
    },
    exited: new Promise((res) => proc.on("close", (code, signal) => res({ code, signal }))),
  };
  return child;
}

/** Whether any live (not zombie) process is left in process group `pgid` (Linux /proc). @param {number} pgid */
function groupAlive(pgid) {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${e}/stat`, "utf8");
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[2]) === pgid && f[0] !== "Z") return true;
  }
  return false;
}

/** @param {number} pgid */
function killGroup(pgid) {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // gone
  }
}

/** Shell text printing the tokens of the folder's submissions whose master or runtime still runs. @param {string} folder */
function busyScript(folder) {
  return [
    `cd -- ${shq(folder)} 2>/dev/null || exit 0`,
    "for f in submit-*.sh; do",
    '  [ -e "$f" ] || continue',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    "  t=${f#submit-}; t=${t%.sh}",
    '  if pgrep -f -- "submit-$t\\." >/dev/null 2>&1; then echo "$t"; fi',
    "done",
    "exit 0",
  ].join("\n");
}

/** @param {() => boolean} f @param {number} timeoutMs */
async function until(f, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

/** @param {() => Promise<boolean>} f @param {number} timeoutMs */
async function untilAsync(f, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) return false;
    await sleep(100);
  }
  return true;
}

/** @param {string} script @returns {Promise<string>} */
function localBash(script) {
  return new Promise((res, rej) => {
    const p = spawn("bash", ["-s"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (/** @type {string} */ c) => {
      out += c;
    });
    p.stderr.setEncoding("utf8").on("data", (/** @type {string} */ c) => {
      err += c;
    });
    p.on("error", rej);
    p.on("close", (code) =>
      code === 0 ? res(out) : rej(new Error(`local command failed (${code}): ${err}`)),
    );
    p.stdin.end(script);
  });
}

/** @param {string} s */
function shq(s) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The one-line verdict: `kills: N, lost: 0, run twice: 0, wrong: 0, unreadable: 0`.
 * @param {Pick<Summary, "kills" | "lost" | "runTwice" | "wrong" | "unreadable">} s
 */
export function verdict(s) {
  return `kills: ${s.kills}, lost: ${s.lost}, run twice: ${s.runTwice}, wrong: ${s.wrong}, unreadable: ${s.unreadable}`;
}

/**
 * Several summaries added up (for the verdict line).
 * @param {Summary[]} all
 */
export function total(all) {
  const sum = (/** @type {(s: Summary) => number} */ f) => all.reduce((a, s) => a + f(s), 0);
  return {
    kills: sum((s) => s.kills),
    windowKills: sum((s) => s.windowKills),
    lost: sum((s) => s.lost),
    runTwice: sum((s) => s.runTwice),
    wrong: sum((s) => s.wrong),
    unreadable: sum((s) => s.unreadable),
    runTwiceWindow: sum((s) => s.runTwiceWindow),
    runTwiceOther: sum((s) => s.runTwiceOther),
    problems: all.flatMap((s) => s.problems),
  };
}

/**
 * A few lines describing a summary: where the kills landed and how the runs twice split.
 * @param {Summary} s
 */
export function summaryLines(s) {
  const phases = PHASES.filter((p) => s.byPhase[p].kills)
    .map((p) => `${p} ${s.byPhase[p].kills}${s.byPhase[p].group ? ` (${s.byPhase[p].group} group)` : ""}`)
    .join(", ");
  const win = s.killLog.filter((k) => k.phase === "launch window");
  const winLine = (/** @type {KillRecord[]} */ ks) =>
    `${ks.length}, ${ks.filter((k) => (k.runTwice ?? 0) > 0).length} followed by runs twice (${ks.reduce((a, k) => a + (k.runTwice ?? 0), 0)} runner(s))`;
  return [
    `${s.where} (seed ${s.seed}): ${s.trials} dataset(s), ${s.kills} kill(s) in ${(s.durationMs / 1000).toFixed(1)} s: ${phases}`,
    `${s.where}: launch-window kills of the driver alone: ${winLine(win.filter((k) => !k.group))}; of its process group: ${winLine(win.filter((k) => k.group))}`,
    `${s.where}: lost ${s.lost}, run twice ${s.runTwice} (${s.runTwiceWindow} after a launch-window kill, ${s.runTwiceOther} otherwise), wrong ${s.wrong}, unreadable ${s.unreadable}`,
    ...s.problems.map((p) => `${s.where}: problem: ${p}`),
  ];
}
