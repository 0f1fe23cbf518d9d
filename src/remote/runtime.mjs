#!/usr/bin/env node
// @ts-check
/**
 * The remoterun runtime: runs on the far side with Node built-ins only (Node >= 18).
 *
 *   node runtime.mjs <batch.json> <k> <P>
 *
 * The batch file carries every runner's args (tagged JSON, see codec.mjs): one file to write, send
 * and read for the whole submission instead of one per runner.
 * One process executes many runners: group k of the batch (explicit `groups`, or every runner whose
 * position i has i % P === k). For each runner it appends timestamped state lines to its own state
 * file `state/<token>.<k>.log`, and writes `<name>.result.json` or `<name>.error.json`, each tagged
 * with the submission token so that a stale file can never pass for a fresh one.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { decode, encode, fromTagged } from "./codec.mjs";

/**
 * @typedef {{ name: string, args: unknown, cwd?: string, supersedes?: boolean,
 *   upstream?: { file: string, token?: string, name: string } }} RunnerEntry
 * @typedef {{ token: string, function: string, asynchronous?: boolean, concurrency?: number,
 *   runners: RunnerEntry[], groups?: string[][] }} Batch
 */

async function main() {
  const [batchFile, kText = "0", pText = "1"] = process.argv.slice(2);
  if (!batchFile) {
    process.stderr.write("usage: node runtime.mjs <batch.json> <k> <P>\n");
    process.exit(2);
  }
  const here = dirname(resolve(batchFile));
  process.chdir(here);
  /** @type {Batch} */
  const batch = JSON.parse(readFileSync(resolve(batchFile), "utf8"));
  const k = Number(kText);
  const p = Math.max(1, Number(pText));
  const mine = selectRunners(batch, k, p);

  mkdirSync("state", { recursive: true });
  mkdirSync("results", { recursive: true });
  const stateFd = openSync(`state/${batch.token}.${k}.log`, "a");
  collectedFd = openSync(`results/${batch.token}.${k}.jsonl`, "a");
  /** @param {string} name @param {string} state */
  const mark = (name, state) => writeSync(stateFd, `${batch.token}\t${name}\t${state}\t${Date.now()}\n`);

  let fn;
  try {
    const mod = await import(pathToFileURL(resolve(here, batch.function)).href);
    fn = mod.default;
    if (typeof fn !== "function") throw new TypeError(`${batch.function} does not export a function`);
  } catch (e) {
    for (const r of mine) {
      mark(r.name, "started");
      writeError(batch.token, r.name, e);
      mark(r.name, "failed");
    }
    closeSync(stateFd);
    closeSync(collectedFd);
    return;
  }

  // process.chdir is process-wide, so runners that run in different folders are taken one folder at a
  // time; runners sharing a folder run concurrently when the function is asynchronous.
  const byCwd = new Map();
  for (const r of mine) {
    const cwd = resolve(here, r.cwd ?? ".");
    if (!byCwd.has(cwd)) byCwd.set(cwd, []);
    byCwd.get(cwd).push(r);
  }
  const limit = batch.asynchronous === false ? 1 : Math.max(1, batch.concurrency ?? 64);
  for (const [cwd, runners] of byCwd) {
    mkdirSync(cwd, { recursive: true });
    process.chdir(cwd);
    await pool(runners, limit, (r) => runOne(batch, here, fn, r, mark));
  }
  process.chdir(here);
  closeSync(stateFd);
  closeSync(collectedFd);
}

/**
 * Every result and error of this process is also appended, one JSON line each, to
 * `results/<token>.<k>.jsonl`, so that fetching costs one read per process instead of one file per
 * runner. The line is written before the runner's terminal state line.
 * @type {number}
 */
let collectedFd = -1;

/** @param {string} line */
function collect(line) {
  if (collectedFd >= 0) writeSync(collectedFd, `${line}\n`);
}

/**
 * @param {Batch} batch @param {number} k @param {number} p
 * @returns {RunnerEntry[]}
 */
function selectRunners(batch, k, p) {
  if (batch.groups) {
    const names = new Set(batch.groups[k] ?? []);
    return batch.runners.filter((r) => names.has(r.name));
  }
  return batch.runners.filter((_, i) => i % p === k);
}

/**
 * @param {Batch} batch @param {string} here @param {Function} fn @param {RunnerEntry} r
 * @param {(name: string, state: string) => void} mark
 */
async function runOne(batch, here, fn, r, mark) {
  const base = resolve(here, r.name);
  mark(r.name, "started");
  try {
    // From now on this submission owns the runner's result: an older run of it that is still going
    // (a forced resubmission of an in-flight runner) must not overwrite what this one writes.
    // The marker costs a file per runner, so it is written only where it can matter: when an
    // older submission of this runner may still be going, or an older marker is there.
    if (r.supersedes || existsSync(`${base}.current`)) writeAtomic(`${base}.current`, batch.token);
    setAside(`${base}.result.json`, batch.token);
    setAside(`${base}.error.json`, batch.token);
    const args = fromTagged(r.args);
    /** @type {{ name: string, upstream?: unknown }} */
    const ctx = { name: r.name };
    if (r.upstream) ctx.upstream = readUpstream(here, r.upstream);
    const value = await fn(args, ctx);
    const doc = `{"token":${JSON.stringify(batch.token)},"name":${JSON.stringify(r.name)},"result":${encode(value, "result")}}`;
    writeOwned(ownFile(`${base}.result.json`, base, batch.token), doc);
    collect(doc);
    mark(r.name, "completed");
  } catch (e) {
    writeError(batch.token, r.name, e, here);
    mark(r.name, "failed");
  }
}

/** @param {string} here @param {{ file: string, token?: string, name: string }} up */
function readUpstream(here, up) {
  const file = resolve(here, up.file);
  if (!existsSync(file))
    throw new Error(`upstream runner ${up.name} has no result (it failed or did not run)`);
  const doc = JSON.parse(readFileSync(file, "utf8"));
  if (up.token && doc.token !== up.token) throw new Error(`upstream runner ${up.name} has no fresh result`);
  return decode(JSON.stringify(doc.result));
}

/** Move an old result aside so nothing can mistake it for the result of this submission. */
/** @param {string} file @param {string} token */
function setAside(file, token) {
  if (existsSync(file)) renameSync(file, `${file}.stale-${token}`);
}

/** @param {string} token @param {string} name @param {unknown} e @param {string} [here] */
function writeError(token, name, e, here = process.cwd()) {
  const base = resolve(here, name);
  const doc = JSON.stringify({ token, name, stderr: formatError(e) });
  writeOwned(ownFile(`${base}.error.json`, base, token), doc);
  collect(doc);
}

/**
 * Where a submission may write the result or error of a runner: its usual place while the submission
 * is the runner's current one, beside it (`.stale-<token>`) once a newer submission has started it.
 * @param {string} file @param {string} base @param {string} token
 */
function ownFile(file, base, token) {
  const marker = `${base}.current`;
  if (!existsSync(marker)) return file; // the common case: never superseded, no exception thrown
  let current;
  try {
    current = readFileSync(marker, "utf8");
  } catch {
    return file;
  }
  return current === token ? file : `${file}.stale-${token}`;
}

/**
 * Like a traceback: frames first, the error's own line last (the last line is what users see).
 * @param {unknown} e
 */
function formatError(e) {
  if (e instanceof Error) {
    const frames = (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
    const head = `${e.name}: ${e.message}`.split("\n");
    return [...frames, ...head].join("\n");
  }
  return `Error: thrown value ${String(e)}`;
}

/**
 * Results and errors are written in place: nobody reads them before the runner's terminal state
 * line, which comes after the write, and a resubmission moves an old file aside first.
 * @param {string} file @param {string} text
 */
function writeOwned(file, text) {
  writeFileSync(file, text);
}

/** @param {string} file @param {string} text */
function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  // rename is atomic: a reader (or a kill -9) sees the old file or the whole new one, never half.
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Run `work` over items with at most `limit` in flight.
 * @template T
 * @param {T[]} items @param {number} limit @param {(item: T) => Promise<void>} work
 */
async function pool(items, limit, work) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(lanes);
}

main().catch((e) => {
  try {
    appendFileSync("runtime-crash.log", `${new Date().toISOString()} ${e?.stack ?? e}\n`);
  } catch {}
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});
