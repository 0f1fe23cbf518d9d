// @ts-check
/**
 * The worker of a runtime lane (started by runtime.mjs with child_process.fork, Node >= 18, built-ins
 * only): runs the runners the supervisor gives it (a first message `{ limit? }`, then, for each
 * `["n"]` it sends, `["run", batch index, ran before]` or `["none"]`) and, for each,
 * writes its state lines, its result or error document and collected line, exactly as a lone runtime
 * process did. What the supervisor cannot see from outside is settled here:
 *
 * - every runner runs in its own AsyncLocalStorage context, so that what it writes with console.* or
 *   process.stdout/process.stderr goes to its own `<name>.out` / `<name>.err`, and an uncaught
 *   exception or unhandled rejection is charged to the runner whose asynchronous context raised it;
 * - `process.exit()` inside a runner fails that runner, not the process;
 * - a runner with a `timeout` fails when it is over (the supervisor kills the worker if a synchronous
 *   loop keeps it from noticing: it is told `["s", name, seconds]` and `["e", name]` over IPC).
 *
 * Anything that cannot be charged to one runner ends the worker: the supervisor then finds the
 * culprit among the runners in flight by running them one at a time.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { formatError, Lane, ownFile, Sink, setAside, writeErrorDoc } from "./outcome.mjs";
import { serializer } from "./serial.mjs";
import { outputFields, parseRecord, readBatch, resultDocument } from "./wire.mjs";

/** @typedef {import("./wire.mjs").Batch} Batch @typedef {import("./wire.mjs").RunnerEntry} RunnerEntry */
/** @typedef {{ value: unknown } | { error: unknown, abandoned?: boolean }} Outcome */

/** Exit status of a worker stopped by an error it could not charge to one runner. */
export const UNCHARGED_EXIT = 70;

const als = new AsyncLocalStorage();
const realExit = process.exit.bind(process);
/** @type {Set<Run>} */
const inFlight = new Set();
/** Runners given up while their code may still be running (timed out, exited): end the worker. */
let abandoned = 0;
/** Names of the runners that ran before in this submission, in a worker that died. */
const again = new Set();
/** The files of the Dataset's folder when the worker started. */
let present = new Set();
/** @type {Map<string, import("./serial.mjs").Serializer>} */
const serializers = new Map();

/**
 * The serializer of this name; YAML's library is the bundle shipped beside this file.
 * @param {string} name
 */
async function serializerFor(name) {
  let s = serializers.get(name);
  if (!s) {
    s = serializer(
      name,
      name === "yaml" ? await import(new URL("./yaml.mjs", import.meta.url).href) : undefined,
    );
    serializers.set(name, s);
  }
  return s;
}

/** Thrown by the intercepted process.exit() to unwind the runner's own code. */
const UNWIND = Symbol("process.exit called by a runner");

/** One runner being run: where its output goes and how it ends (the first outcome wins). */
class Run {
  /** @param {RunnerEntry} entry @param {string} base @param {string} token */
  constructor(entry, base, token) {
    this.entry = entry;
    this.settled = false;
    /** Once its outcome is written, late output goes to the runtime's own streams. */
    this.closed = false;
    this.out = new Sink(() => ownFile(`${base}.out`, base, token));
    this.err = new Sink(() => ownFile(`${base}.err`, base, token));
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {(o: Outcome) => void} */
    this.resolve = () => {};
    /** @type {Promise<Outcome>} */
    this.done = new Promise((res) => {
      this.resolve = res;
    });
  }

  /** @param {Outcome} outcome */
  settle(outcome) {
    if (this.settled) return;
    this.settled = true;
    this.resolve(outcome);
  }

  /** Fail while the runner's own code may still be going. @param {unknown} error */
  abandon(error) {
    this.settle({ error, abandoned: true });
  }
}

/** The runner an error or exit belongs to: its asynchronous context, else the only one in flight. */
function culprit() {
  const run = /** @type {Run | undefined} */ (als.getStore());
  if (run) return run;
  return inFlight.size === 1 ? [...inFlight][0] : undefined;
}

function intercept() {
  for (const [stream, key] of /** @type {const} */ ([
    [process.stdout, "out"],
    [process.stderr, "err"],
  ])) {
    const write = stream.write;
    /** @param {any[]} a */
    const routed = (...a) => {
      const run = /** @type {Run | undefined} */ (als.getStore());
      if (!run || run.closed) return write.apply(stream, /** @type {any} */ (a));
      const [chunk, encoding, cb] = a;
      const done = typeof encoding === "function" ? encoding : cb;
      const buf =
        typeof chunk === "string"
          ? Buffer.from(
              chunk,
              typeof encoding === "string" ? /** @type {BufferEncoding} */ (encoding) : "utf8",
            )
          : chunk instanceof Uint8Array
            ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
            : Buffer.from(String(chunk));
      run[key].write(buf);
      if (typeof done === "function") process.nextTick(done);
      return true;
    };
    stream.write = /** @type {any} */ (routed);
  }

  process.exit = /** @type {any} */ (
    /** @param {number | string | null | undefined} [code] */
    (code) => {
      const run = culprit();
      // Outside any runner (several in flight, none of them the caller): a real exit, and the
      // supervisor runs the runners that were in flight one at a time to find who called it.
      if (!run) return realExit(code ?? undefined);
      const shown = code ?? process.exitCode ?? 0;
      if (run.settled)
        process.stderr.write(
          `remoterun: runner ${run.entry.name} called process.exit(${shown}) after it ended\n`,
        );
      run.abandon(new Error(`process.exit(${shown}) called by the function`));
      throw UNWIND;
    }
  );

  /** @param {unknown} e */
  const charge = (e) => {
    if (e === UNWIND) return;
    const run = culprit();
    if (run && !run.settled) return run.abandon(e);
    if (run) {
      process.stderr.write(`remoterun: runner ${run.entry.name} raised after it ended: ${formatError(e)}\n`);
      return;
    }
    process.stderr.write(`remoterun: an error no runner can be charged with: ${formatError(e)}\n`);
    realExit(UNCHARGED_EXIT);
  };
  process.on("uncaughtException", charge);
  process.on("unhandledRejection", charge);
  // Nothing left to wait for while runners are in flight: their promises can never settle.
  process.on("beforeExit", () => {
    for (const run of inFlight)
      run.settle({ error: new Error("the function returned a promise that never settles") });
  });
}

/**
 * Why the function module does not give a function, naming the module and export the Dataset was
 * given (the first line of a module function's bundle: `// remoterun-function {"module", "export"}`).
 * @param {string} file
 * @param {unknown} value
 */
function notAFunction(file, value) {
  const what =
    value === null || value === undefined
      ? String(value)
      : Array.isArray(value)
        ? "an array"
        : typeof value === "object"
          ? "an object"
          : `a ${typeof value}`;
  try {
    const first = readFileSync(file, "utf8").split("\n", 1)[0];
    const label = first.startsWith("// remoterun-function ") ? JSON.parse(first.slice(22)) : undefined;
    if (label && typeof label.module === "string" && typeof label.export === "string")
      return `the export ${JSON.stringify(label.export)} of the function module ${JSON.stringify(label.module)} is not a function (it is ${what})`;
  } catch {}
  return `the Dataset's function is not a function (it is ${what})`;
}

/** @param {unknown} message */
function send(message) {
  try {
    process.send?.(message);
  } catch {}
}

async function main() {
  const [batchFile, kText = "0"] = process.argv.slice(2);
  const here = dirname(resolve(batchFile));
  process.chdir(here);
  // The supervisor checked the wire version before starting this worker.
  const batch = readBatch(readFileSync(resolve(batchFile), "utf8"));
  const k = Number(kText);
  /** @type {{ limit?: number }} */
  const job = await new Promise((res) => process.once("message", res));
  // The channel must not keep the worker alive once its runners are done.
  /** @type {any} */ (process).channel?.unref();
  // The supervisor gone (killed), nobody would record what this worker does: stop.
  process.on("disconnect", () => realExit(1));
  intercept();

  const lane = new Lane(batch.token, k);
  present = new Set(readdirSync(here));
  let fn;
  /** @type {import("./serial.mjs").Serializer} */
  let codec;
  try {
    codec = await serializerFor(batch.serializer ?? "json");
    const mod = await import(pathToFileURL(resolve(here, batch.function)).href);
    fn = mod.default;
    if (typeof fn !== "function") throw new TypeError(notAFunction(resolve(here, batch.function), fn));
  } catch (e) {
    for (let r = await ask(batch); r; r = await ask(batch)) {
      lane.mark(r.name, "started");
      writeErrorDoc(lane, resolve(here, r.name), r.name, formatError(e), "");
      lane.mark(r.name, "failed");
    }
    lane.close();
    return;
  }

  // process.chdir is process-wide, so runners that run in different folders are taken one folder at a
  // time; runners sharing a folder run concurrently when the function is asynchronous. The runners
  // are asked for one at a time, each once the one before has started (and there is room), so that
  // a runner stuck in a synchronous loop holds no runner that has not started.
  const limit = job.limit ?? (batch.asynchronous === false ? 1 : Math.max(1, batch.concurrency ?? 64));
  /** @type {Set<Promise<void>>} */
  const running = new Set();
  let cwdNow = here;
  for (let r = await ask(batch); r; r = await ask(batch)) {
    const cwd = resolve(here, r.cwd ?? ".");
    if (cwd !== cwdNow) {
      await Promise.all(running);
      mkdirSync(cwd, { recursive: true });
      process.chdir(cwd);
      cwdNow = cwd;
    }
    const p = runOne(lane, batch, here, /** @type {Function} */ (fn), r, codec);
    running.add(p);
    p.finally(() => running.delete(p));
    while (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  process.chdir(here);
  lane.close();
  // A runner given up may still hold the event loop (a timer, a loop of promises): do not wait for it.
  if (abandoned > 0) realExit(0);
}

/**
 * The next runner from the supervisor, or undefined when there is none left.
 * @param {Batch} batch @returns {Promise<RunnerEntry | undefined>}
 */
function ask(batch) {
  const channel = /** @type {any} */ (process).channel;
  channel?.ref();
  return new Promise((res) => {
    /** @param {unknown} m */
    const on = (m) => {
      if (!Array.isArray(m)) return;
      process.off("message", on);
      channel?.unref();
      if (m[0] !== "run") return res(undefined);
      const r = batch.runners[m[1]];
      if (m[2]) again.add(r.name);
      res(r);
    };
    process.on("message", on);
    send(["n"]);
  });
}

/**
 * @param {Lane} lane @param {Batch} batch @param {string} here @param {Function} fn
 * @param {RunnerEntry} r @param {import("./serial.mjs").Serializer} codec
 */
async function runOne(lane, batch, here, fn, r, codec) {
  const token = batch.token;
  const base = resolve(here, r.name);
  lane.mark(r.name, "started");
  const run = new Run(r, base, token);
  inFlight.add(run);
  const timeout = r.timeout;
  if (timeout) {
    send(["s", r.name, timeout]);
    run.timer = setTimeout(() => run.abandon(new Error(`timed out after ${timeout} s`)), timeout * 1000);
  }
  /** @type {Outcome} */
  let outcome;
  try {
    // From now on this submission owns the runner's files: an older run of it that is still going
    // (a forced resubmission of an in-flight runner) must not overwrite what this one writes.
    // The marker costs a file per runner, so it is written only where it can matter: when an
    // older submission of this runner may still be going, or an older marker is there.
    // Which old files are there: asked of the folder listing taken when the worker started (one
    // read instead of five per runner), unless an older run of this runner may still be writing.
    const has = r.supersedes
      ? (/** @type {string} */ ext) => existsSync(`${base}${ext}`)
      : (/** @type {string} */ ext) => present.has(`${r.name}${ext}`);
    if (r.supersedes || has(".current")) writeAtomic(`${base}.current`, token);
    for (const ext of [".result.json", ".error.json"]) if (has(ext)) setAside(`${base}${ext}`, token);
    for (const ext of [".out", ".err"]) {
      if (!has(ext)) continue;
      if (again.has(r.name)) rmSync(`${base}${ext}`, { force: true });
      else setAside(`${base}${ext}`, token);
    }
    const args = codec.fromWire(r.args);
    /** @type {{ name: string, upstream?: unknown }} */
    const ctx = { name: r.name };
    if (r.upstream) ctx.upstream = await readUpstream(here, r.upstream);
    als.run(run, () => {
      try {
        Promise.resolve(fn(args, ctx)).then(
          (value) => run.settle({ value }),
          (error) => run.settle({ error }),
        );
      } catch (error) {
        if (!run.settled) run.settle({ error });
      }
    });
    outcome = await run.done;
  } catch (error) {
    outcome = { error };
  }
  clearTimeout(run.timer);
  inFlight.delete(run);
  run.closed = true;
  run.out.close();
  run.err.close();
  const outputs = outputFields(run.out.output(), run.err.output());
  let doc;
  if ("value" in outcome) {
    try {
      const wire = codec.toWire(outcome.value, "result");
      doc = resultDocument(token, r.name, JSON.stringify(wire), outputs, codec.name);
    } catch (error) {
      outcome = { error };
    }
  }
  if (doc !== undefined) {
    writeFileSync(ownFile(`${base}.result.json`, base, token), doc, { mode: 0o600 });
    lane.collect(doc);
    lane.mark(r.name, "completed");
  } else {
    if ("abandoned" in outcome && outcome.abandoned) abandoned++;
    writeErrorDoc(
      lane,
      base,
      r.name,
      formatError(/** @type {{ error: unknown }} */ (outcome).error),
      outputs,
    );
    lane.mark(r.name, "failed");
  }
  if (timeout) send(["e", r.name]);
}

/** @param {string} here @param {{ file: string, token?: string, name: string }} up */
async function readUpstream(here, up) {
  const file = resolve(here, up.file);
  if (!existsSync(file))
    throw new Error(`upstream runner ${up.name} has no result (it failed or did not run)`);
  const doc = parseRecord(readFileSync(file, "utf8"));
  if (!doc || !("result" in doc)) throw new Error(`upstream runner ${up.name} has a damaged result file`);
  if (up.token && doc.token !== up.token) throw new Error(`upstream runner ${up.name} has no fresh result`);
  // Its Dataset's serializer, which the record names (json when it names none).
  return (await serializerFor(doc.serializer ?? "json")).fromWire(doc.result);
}

/** @param {string} file @param {string} text */
function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  // rename is atomic: a reader (or a kill -9) sees the old file or the whole new one, never half.
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

main().catch((e) => {
  process.stderr.write(`remoterun worker: ${e?.stack ?? e}\n`);
  realExit(1);
});
