#!/usr/bin/env node
// @ts-check
/**
 * The remoterun runtime: runs on the far side with Node built-ins only (Node >= 18).
 *
 *   node runtime.mjs <batch.json> <k> <P>
 *
 * The batch file carries every runner's args (tagged JSON, see codec.mjs): one file to write, send
 * and read for the whole submission instead of one per runner.
 * One lane runs many runners: group k of the batch with explicit `groups` (scheduler jobs), else
 * runners it takes from the submission's shared pool as its worker asks for them (see Source), so
 * that a runner stuck in a loop holds only itself while the other lanes take the rest. For each
 * runner it appends timestamped state lines to its own state
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
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
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
    const source = new Source(other, lane, k, p);
    for (let i = await source.take(); i !== undefined; i = await source.take()) {
      const name = String(other.runners[i]?.name);
      lane.mark(name, "started");
      charge(lane, here, name, `Error: ${e.message}`);
    }
    source.close();
    lane.close();
    return;
  }
  mkdirSync("state", { recursive: true, mode: 0o700 });
  mkdirSync("results", { recursive: true, mode: 0o700 });
  const lane = new Lane(batch.token, k);
  const names = batch.runners.map((r) => r.name);
  /** Where this lane's runners come from: its fixed group, or the submission's shared pool. */
  const source = new Source(batch, lane, k, p);

  /** Batch indices that were in flight when a worker died: each runs alone until one dies alone. */
  /** @type {number[]} */
  const suspects = [];
  /** Batch indices that ran in a worker that died under them: their old output is dropped. */
  const again = source.again;
  for (;;) {
    const alone = suspects.length > 0;
    /** Batch indices handed to this worker. */
    /** @type {number[]} */
    const sent = [];
    let drained = false;
    const suspect = alone ? /** @type {number} */ (suspects.shift()) : -1;
    /** The next runner for the worker, or undefined when there is none left for it. */
    const next = async () => {
      if (alone) {
        if (sent.length > 0) return undefined;
        sent.push(suspect);
        return suspect;
      }
      const i = await source.take();
      if (i === undefined) drained = true;
      else sent.push(i);
      return i;
    };
    const from = sizeOf(lane.stateFile);
    const end = await runWorker(resolve(batchFile), k, p, alone ? 1 : undefined, next, again, source);
    const { started, ended } = readStates(lane.stateFile, from, batch.token);
    const unfinished = sent.filter((i) => !ended.has(names[i]));
    if (unfinished.length === 0 && (alone || drained)) {
      if (!alone && suspects.length === 0) break;
      continue;
    }
    // The worker died, or stopped, under these runners.
    let inFlight = unfinished.filter((i) => started.has(names[i]));
    for (const i of inFlight) again.add(i);
    let rest = unfinished.filter((i) => !started.has(names[i]));
    const timedOut = end.timedOut;
    // A runner that already returned may have left a timer behind that killed or blocked the worker
    // later: the runner in flight is proven guilty only when it ran alone, or first in its worker.
    const proven = alone || ended.size === 0;
    if (timedOut && inFlight.some((i) => names[i] === timedOut.name) && proven) {
      charge(lane, here, timedOut.name, `Error: timed out after ${timedOut.seconds} s`);
      // The others in flight were not to blame: they run again.
      inFlight = inFlight.filter((i) => names[i] !== timedOut.name);
      rest = [...inFlight, ...rest];
    } else if (inFlight.length === 1 && proven) {
      charge(lane, here, names[inFlight[0]], deathText(end));
    } else if (inFlight.length > 0) {
      suspects.push(...inFlight);
    } else if (started.size === 0) {
      // Not one runner started: the worker itself cannot run (its function kills it on load, ...):
      // every runner this lane can take fails the same way.
      const why = deathText(end).replace(/[^\n]*$/, (last) => `${last} before running any runner`);
      for (
        let i = rest.shift() ?? (await source.take());
        i !== undefined;
        i = rest.shift() ?? (await source.take())
      ) {
        lane.mark(names[i], "started");
        charge(lane, here, names[i], why);
      }
      // Nothing is left for this lane: another worker would die the same way.
      break;
    }
    source.putBack(rest);
  }
  source.close();
  lane.close();
}

/** How long a lane keeps claimed runners its worker does not ask for before giving them back. */
const STALL_MS = 1000;
/** How often an idle lane looks for runners given back while other lanes still hold some. */
const POLL_MS = 100;

/**
 * The runners of one lane. With `groups` (scheduler jobs), its fixed group. Without, the
 * submission's shared pool, in the folder `state/claims-<token>`: the runners are cut into chunks of
 * decreasing size (guided self-scheduling: ceil(remaining / 2P), at least 1), the same for every lane,
 * and a lane takes a chunk by creating its folder (`mkdir` fails for every lane but one). A lane
 * holding claimed runners its worker has not asked for in STALL_MS (the worker is stuck in a runner,
 * or busy with long ones) gives them back in a file `ret-<k>-<n>` that any lane may take (again by
 * creating a folder); while a lane holds runners it has a file `hold-<k>` (its pid), and an idle lane
 * waits for runners given back until no live lane holds any. Each claim is written as a claim line
 * (wire.mjs) first, so that a lane's exit can only fail runners it claimed.
 */
class Source {
  /** @param {Batch} batch @param {Lane} lane @param {number} k @param {number} p */
  constructor(batch, lane, k, p) {
    this.batch = batch;
    this.lane = lane;
    this.k = k;
    this.p = p;
    this.n = batch.runners.length;
    /** Claimed runners not handed out yet, in order. @type {number[]} */
    this.queue = [];
    /** Batch indices that ran in a worker that died under them. @type {Set<number>} */
    this.again = new Set();
    this.pooled = !batch.groups;
    /** When the worker last asked for a runner (or a worker started). */
    this.asked = Date.now();
    this.dir = `state/claims-${batch.token}`;
    this.holdFile = `${this.dir}/hold-${k}`;
    this.holding = false;
    /** The next chunk to try, and its first batch index. */
    this.chunk = 0;
    this.start = 0;
    /** How many files of runners this lane gave back. */
    this.returned = 0;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.timer = undefined;
    if (!this.pooled) {
      this.queue = selectRunners(batch, k, p);
      return;
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.timer = setInterval(() => this.checkStall(), STALL_MS / 4);
    this.timer.unref();
  }

  /** The next runner, or undefined when nothing is left for this lane. @returns {Promise<number | undefined>} */
  async take() {
    this.asked = Date.now();
    for (;;) {
      if (this.queue.length > 0) {
        const i = /** @type {number} */ (this.queue.shift());
        if (this.queue.length === 0) this.unhold();
        return i;
      }
      if (!this.pooled) return undefined;
      this.hold();
      if (this.claimChunk() || this.takeReturned()) continue;
      this.unhold();
      if (!this.othersHold()) {
        // Runners are given back before their holder lets go: none left now means none to come.
        if (this.takeReturned()) continue;
        return undefined;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
      this.asked = Date.now();
    }
  }

  /** Runners handed out that did not run (their worker died first): first in line again. @param {number[]} list */
  putBack(list) {
    if (list.length === 0) return;
    if (this.pooled) this.hold();
    this.queue.unshift(...list);
    this.asked = Date.now();
  }

  /** Claim the next free chunk of the pool into the queue; false when every chunk is taken. */
  claimChunk() {
    while (this.start < this.n) {
      const size = Math.max(1, Math.ceil((this.n - this.start) / (2 * this.p)));
      const j = this.chunk;
      const from = this.start;
      this.chunk++;
      this.start += size;
      try {
        mkdirSync(`${this.dir}/${j}`, { mode: 0o700 });
      } catch (e) {
        if (/** @type {{ code?: string }} */ (e).code === "EEXIST") continue;
        throw e;
      }
      const got = Array.from({ length: Math.min(size, this.n - from) }, (_, x) => from + x);
      this.lane.claim(got, this.k, this.p);
      this.queue.push(...got);
      return true;
    }
    return false;
  }

  /** Take one file of runners given back by a lane; false when there is none. */
  takeReturned() {
    const files = readdirSync(this.dir).filter((f) => /^ret-\d+-\d+$/.test(f));
    for (const f of files) {
      const file = `${this.dir}/${f}`;
      /** @type {{ runners: number[], again: number[] }} */
      let doc;
      try {
        doc = JSON.parse(readFileSync(file, "utf8"));
      } catch {
        continue;
      }
      // Claimed before it is taken: the lane that takes it is among those blamed if it dies.
      this.lane.claim(doc.runners, this.k, this.p);
      try {
        mkdirSync(`${file}.taken`, { mode: 0o700 });
      } catch (e) {
        if (/** @type {{ code?: string }} */ (e).code === "EEXIST") continue;
        throw e;
      }
      for (const i of doc.again) this.again.add(i);
      this.queue.push(...doc.runners);
      return true;
    }
    return false;
  }

  /** Whether another live lane holds runners it may give back. */
  othersHold() {
    for (const f of readdirSync(this.dir)) {
      const m = /^hold-(\d+)$/.exec(f);
      if (!m || Number(m[1]) === this.k) continue;
      let pid = 0;
      try {
        pid = Number(readFileSync(`${this.dir}/${f}`, "utf8"));
      } catch {
        continue;
      }
      if (!pid) return true; // being written
      try {
        process.kill(pid, 0);
        return true;
      } catch (e) {
        if (/** @type {{ code?: string }} */ (e).code === "EPERM") return true;
      }
    }
    return false;
  }

  hold() {
    if (this.holding || !this.pooled) return;
    writeFileSync(this.holdFile, String(process.pid), { mode: 0o600 });
    this.holding = true;
  }

  unhold() {
    if (!this.holding) return;
    rmSync(this.holdFile, { force: true });
    this.holding = false;
  }

  /** Give back the queue when the worker has not asked for a runner in STALL_MS. */
  checkStall() {
    if (this.queue.length === 0 || Date.now() - this.asked < STALL_MS) return;
    const runners = this.queue.splice(0);
    const file = `${this.dir}/ret-${this.k}-${this.returned++}`;
    const doc = JSON.stringify({ runners, again: runners.filter((i) => this.again.has(i)) });
    writeFileSync(`${file}.tmp`, doc, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    this.unhold();
  }

  close() {
    if (this.timer) clearInterval(this.timer);
    this.unhold();
  }
}

/**
 * Run runners in a fresh worker and tell how it ended: the worker asks for them one at a time
 * (`next`), so that runners it has not started never sit in a worker stuck in a runner; `limit` how
 * many at once; `again` the batch indices that ran before in a worker that died under them.
 * @param {string} batchFile @param {number} k @param {number} p @param {number | undefined} limit
 * @param {() => Promise<number | undefined>} next @param {Set<number>} again @param {Source} source
 * @returns {Promise<WorkerEnd>}
 */
function runWorker(batchFile, k, p, limit, next, again, source) {
  source.asked = Date.now();
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
      if (what === "n") {
        next().then(
          (i) => {
            if (finished) {
              if (i !== undefined) source.putBack([i]);
              return;
            }
            child.send(i === undefined ? ["none"] : ["run", i, again.has(i)], (e) => {
              if (e) child.kill("SIGKILL");
            });
          },
          (e) => {
            process.stderr.write(`${e?.stack ?? e}\n`);
            child.kill("SIGKILL");
          },
        );
      } else if (what === "s") {
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
    child.send({ ...(limit ? { limit } : {}) }, (e) => {
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
