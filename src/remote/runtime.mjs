#!/usr/bin/env node
// @ts-check
/**
 * The remoterun runtime: runs on the far side with Node built-ins only (Node >= 18).
 *
 *   node runtime.mjs <batch.json> <k> <P>
 *
 * The batch file carries every runner's args (tagged JSON, see codec.mjs): one file to write, send
 * and read for the whole submission instead of one per runner.
 * One lane runs many runners: group k of the batch (explicit `groups`, or every runner whose
 * position i has i % P === k). For each runner it appends timestamped state lines to its own state
 * file `state/<token>.<k>.log`, and writes `<name>.result.json` or `<name>.error.json`, each tagged
 * with the submission token so that a stale file can never pass for a fresh one.
 *
 * This process is the lane's supervisor: the runners run in a worker process (worker.mjs), so that
 * a runner that kills its process (a signal, running out of memory, an abort) fails alone. When a
 * worker dies with runners unfinished, the state lines say which ones were in flight: the only one
 * in flight is the culprit; several are run again one at a time, each in a fresh worker, until the
 * culprit dies alone. The culprit gets an error naming the real cause, and the others run again in a
 * fresh worker. A runner past its `timeout` that keeps its worker from noticing (a synchronous loop)
 * has the worker killed under it the same way.
 */
import { fork } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Lane, ownFile, readOutput, writeErrorDoc } from "./outcome.mjs";
import { outputFields, parseLogLine, readBatch, WireVersionError } from "./wire.mjs";

/** @typedef {import("./wire.mjs").Batch} Batch */
/**
 * How a worker ended: its exit code or signal, the end of what it wrote on stderr, and the runner
 * whose timeout made the supervisor kill it.
 * @typedef {{ code: number | null, signal: string | null, tail: string, timedOut?: { name: string, seconds: number } }} WorkerEnd
 */

/** How long past its timeout a runner's worker may stay silent before it is killed. */
const TIMEOUT_GRACE_MS = 1000;
/** How much of a worker's stderr is kept to explain its death. */
const TAIL_BYTES = 8192;
const workerFile = fileURLToPath(new URL("./worker.mjs", import.meta.url));

async function main() {
  const [batchFile, kText = "0", pText = "1"] = process.argv.slice(2);
  if (!batchFile) {
    process.stderr.write("usage: node runtime.mjs <batch.json> <k> <P>\n");
    process.exit(2);
  }
  const here = dirname(resolve(batchFile));
  process.chdir(here);
  const k = Number(kText);
  const p = Math.max(1, Number(pText));
  /** @type {Batch} */
  let batch;
  try {
    batch = readBatch(readFileSync(resolve(batchFile), "utf8"));
  } catch (e) {
    // A batch of another wire version: each of this lane's runners fails, saying so.
    const other = /** @type {{ batch?: Batch }} */ (e).batch;
    if (!(e instanceof WireVersionError) || !other) throw e;
    mkdirSync("state", { recursive: true, mode: 0o700 });
    mkdirSync("results", { recursive: true, mode: 0o700 });
    const lane = new Lane(other.token, k);
    for (const i of selectRunners(other, k, p)) {
      const name = String(other.runners[i]?.name);
      lane.mark(name, "started");
      charge(lane, here, name, `Error: ${e.message}`);
    }
    lane.close();
    return;
  }
  mkdirSync("state", { recursive: true, mode: 0o700 });
  mkdirSync("results", { recursive: true, mode: 0o700 });
  const lane = new Lane(batch.token, k);
  const names = batch.runners.map((r) => r.name);

  /** Batch indices still to run in a shared worker, in order. */
  let todo = selectRunners(batch, k, p);
  /** Batch indices that were in flight when a worker died: each runs alone until one dies alone. */
  /** @type {number[]} */
  const suspects = [];
  /** Batch indices that ran in a worker that died under them: their old output is dropped. */
  const again = new Set();
  while (suspects.length > 0 || todo.length > 0) {
    const alone = suspects.length > 0;
    const set = alone ? [/** @type {number} */ (suspects.shift())] : todo;
    const from = sizeOf(lane.stateFile);
    const end = await runWorker(resolve(batchFile), k, p, {
      only: set,
      ...(alone ? { limit: 1 } : {}),
      again: set.filter((i) => again.has(i)),
    });
    const { started, ended } = readStates(lane.stateFile, from, batch.token);
    const unfinished = set.filter((i) => !ended.has(names[i]));
    if (!alone) todo = [];
    if (unfinished.length === 0) continue;
    // The worker died, or stopped, under these runners.
    let inFlight = unfinished.filter((i) => started.has(names[i]));
    for (const i of inFlight) again.add(i);
    let rest = unfinished.filter((i) => !started.has(names[i]));
    const timedOut = end.timedOut;
    if (timedOut && inFlight.some((i) => names[i] === timedOut.name)) {
      charge(lane, here, timedOut.name, `Error: timed out after ${timedOut.seconds} s`);
      // The others in flight were not to blame: they run again.
      inFlight = inFlight.filter((i) => names[i] !== timedOut.name);
      rest = [...inFlight, ...rest];
    } else if (inFlight.length === 1) {
      charge(lane, here, names[inFlight[0]], deathText(end));
    } else if (inFlight.length > 1) {
      suspects.push(...inFlight);
    } else if (started.size === 0) {
      // Not one runner started: the worker itself cannot run (its function kills it on load, ...).
      const why = deathText(end).replace(/[^\n]*$/, (last) => `${last} before running any runner`);
      for (const i of rest) {
        lane.mark(names[i], "started");
        charge(lane, here, names[i], why);
      }
      rest = [];
    }
    if (alone) todo = [...rest, ...todo];
    else todo = rest;
  }
  lane.close();
}

/**
 * Run some runners in a fresh worker and tell how it ended: `only` their batch indices, `limit` how
 * many at once, `again` those that ran before in a worker that died under them.
 * @param {string} batchFile @param {number} k @param {number} p
 * @param {{ only: number[], limit?: number, again: number[] }} job @returns {Promise<WorkerEnd>}
 */
function runWorker(batchFile, k, p, job) {
  return new Promise((done) => {
    let tail = "";
    /** @type {WorkerEnd["timedOut"]} */
    let timedOut;
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    const watch = new Map();
    const child = fork(workerFile, [batchFile, String(k), String(p)], {
      stdio: ["ignore", "inherit", "pipe", "ipc"],
    });
    child.stderr?.on("data", (/** @type {Buffer} */ d) => {
      process.stderr.write(d);
      tail = (tail + d.toString("utf8")).slice(-TAIL_BYTES);
    });
    child.on("message", (/** @type {unknown} */ m) => {
      if (!Array.isArray(m)) return;
      const [what, name, seconds] = m;
      if (what === "s") {
        watch.set(
          name,
          setTimeout(
            () => {
              timedOut ??= { name, seconds };
              child.kill("SIGKILL");
            },
            seconds * 1000 + TIMEOUT_GRACE_MS,
          ),
        );
      } else if (what === "e") {
        clearTimeout(watch.get(name));
        watch.delete(name);
      }
    });
    let finished = false;
    /** @param {number | null} code @param {string | null} signal @param {string} [more] */
    const finish = (code, signal, more = "") => {
      if (finished) return;
      finished = true;
      for (const t of watch.values()) clearTimeout(t);
      done({ code, signal, tail: tail + more, ...(timedOut ? { timedOut } : {}) });
    };
    child.on("error", (e) => {
      finish(-1, null, `${e.message}\n`);
      child.kill("SIGKILL");
    });
    child.on("close", (code, signal) => finish(code, signal));
    child.send(job, (e) => {
      if (e) child.kill("SIGKILL");
    });
  });
}

/**
 * Fail a runner whose worker died under it: its error document (with what it printed) and its
 * terminal state line, as the worker would have written them.
 * @param {Lane} lane @param {string} here @param {string} name @param {string} text
 */
function charge(lane, here, name, text) {
  const base = resolve(here, name);
  const out = readOutput(ownFile(`${base}.out`, base, lane.token));
  const err = readOutput(ownFile(`${base}.err`, base, lane.token));
  writeErrorDoc(lane, base, name, text, outputFields(out, err));
  lane.mark(name, "failed");
}

/**
 * The error of a runner that was alone in flight when its worker died: the end of the worker's
 * stderr (what the process printed as it died), then the cause on the last line.
 * @param {WorkerEnd} end
 */
function deathText(end) {
  // Native stack frames of a fatal error say nothing to the function's author.
  const lines = end.tail
    .split("\n")
    .filter(
      (l) => l.trim() !== "" && !/^\s*\d+: 0x[0-9a-f]+/.test(l) && !/^-+ Native stack trace -+$/.test(l),
    );
  let cause;
  if (lines.some((l) => /JavaScript heap out of memory/.test(l)))
    cause = "Error: JavaScript heap out of memory";
  else if (end.signal) cause = `Error: the runner's process was killed by ${end.signal}`;
  else cause = `Error: the runner's process exited with code ${end.code}`;
  return [...lines.slice(-20), cause].join("\n");
}

/**
 * Names that started and that ended (completed or failed) in the state lines of this token written
 * from byte `from` on.
 * @param {string} file @param {number} from @param {string} token
 */
function readStates(file, from, token) {
  const started = new Set();
  const ended = new Set();
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    for (const line of buf.subarray(0, got).toString("utf8").split("\n")) {
      const l = parseLogLine(line);
      if (l?.kind !== "state" || l.token !== token) continue;
      if (l.state === "started") started.add(l.name);
      else ended.add(l.name);
    }
  } finally {
    closeSync(fd);
  }
  return { started, ended };
}

/** @param {string} file */
function sizeOf(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Batch indices of lane k of P.
 * @param {Batch} batch @param {number} k @param {number} p
 * @returns {number[]}
 */
function selectRunners(batch, k, p) {
  const all = batch.runners.map((_, i) => i);
  if (batch.groups) {
    const names = new Set(batch.groups[k] ?? []);
    return all.filter((i) => names.has(batch.runners[i].name));
  }
  return all.filter((i) => i % p === k);
}

main().catch((e) => {
  try {
    appendFileSync("runtime-crash.log", `${new Date().toISOString()} ${e?.stack ?? e}\n`);
  } catch {}
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
