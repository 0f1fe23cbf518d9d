// @ts-check
/**
 * What the runtime's supervisor (runtime.mjs) and its worker (worker.mjs) both write for a runner:
 * state lines, result and error documents, the collected line of each, and the runner's own output
 * files. Node built-ins only (Node >= 18).
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { claimLine, errorDocument, stateLine } from "./wire.mjs";

/**
 * A runner's output up to this many bytes per stream travels inside its collected line (fetching it
 * costs nothing more); beyond, the line only says how big it is and the driver copies the file.
 */
export const INLINE_OUTPUT = 64 * 1024;

/** @typedef {import("./wire.mjs").Batch} Batch @typedef {import("./wire.mjs").RunnerEntry} RunnerEntry */

/**
 * The files of one runtime lane k: state lines `state/<token>.<k>.log` and collected result/error
 * lines `results/<token>.<k>.jsonl` (one read per lane at fetch time instead of one per runner).
 * Both processes of a lane append to them (O_APPEND: whole lines, never interleaved).
 */
export class Lane {
  /** @param {string} token @param {number} k */
  constructor(token, k) {
    this.token = token;
    this.stateFile = `state/${token}.${k}.log`;
    this.stateFd = openSync(this.stateFile, "a", 0o600);
    this.collectedFd = openSync(`results/${token}.${k}.jsonl`, "a", 0o600);
  }

  /** @param {string} name @param {string} state */
  mark(name, state) {
    writeSync(this.stateFd, stateLine(this.token, name, state));
  }

  /** A claim line: this lane (k of P) takes these batch indices. @param {number[]} indices @param {number} k @param {number} p */
  claim(indices, k, p) {
    if (indices.length > 0) writeSync(this.stateFd, claimLine(this.token, k, p, indices));
  }

  /** @param {string} line */
  collect(line) {
    writeSync(this.collectedFd, `${line}\n`);
  }

  close() {
    closeSync(this.stateFd);
    closeSync(this.collectedFd);
  }
}

/**
 * One output stream of one runner: `<runner>.out` or `<runner>.err`, created (0600) at the first
 * write only, so that the many runners that print nothing cost no file. The first INLINE_OUTPUT
 * bytes are kept for the collected line.
 */
export class Sink {
  /** @param {() => string} where the file to create, asked at the first write */
  constructor(where) {
    this.where = where;
    this.fd = -1;
    this.bytes = 0;
    /** @type {Buffer[]} */
    this.kept = [];
  }

  /** @param {Buffer} buf */
  write(buf) {
    if (this.fd < 0) this.fd = openSync(this.where(), "w", 0o600);
    writeSync(this.fd, buf);
    if (this.bytes + buf.length <= INLINE_OUTPUT) this.kept.push(buf);
    this.bytes += buf.length;
  }

  close() {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** @returns {Output} */
  output() {
    if (this.bytes === 0) return { bytes: 0 };
    if (this.bytes > INLINE_OUTPUT) return { bytes: this.bytes };
    return { bytes: this.bytes, text: Buffer.concat(this.kept).toString("utf8") };
  }
}

/** @typedef {import("./wire.mjs").Output} Output */

/**
 * What a runner printed, read back from its file (after its process died).
 * @param {string} file @returns {Output}
 */
export function readOutput(file) {
  let bytes = 0;
  try {
    bytes = statSync(file).size;
  } catch {
    return { bytes: 0 };
  }
  if (bytes === 0 || bytes > INLINE_OUTPUT) return { bytes };
  try {
    return { bytes, text: readFileSync(file, "utf8") };
  } catch {
    return { bytes: 0 };
  }
}

/**
 * Write a runner's error document (`stderr` is the error text, traceback-like, last line the error)
 * and its collected line.
 * @param {Lane} lane @param {string} base the runner's path without extension
 * @param {string} name @param {string} text @param {string} outputs
 */
export function writeErrorDoc(lane, base, name, text, outputs) {
  const doc = errorDocument(lane.token, name, text, outputs);
  writeFileSync(ownFile(`${base}.error.json`, base, lane.token), doc, { mode: 0o600 });
  lane.collect(doc);
}

/**
 * Where a submission may write a file of a runner: its usual place while the submission is the
 * runner's current one, beside it (`.stale-<token>`) once a newer submission has started it.
 * @param {string} file @param {string} base @param {string} token
 */
export function ownFile(file, base, token) {
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

/** Move an old file aside so nothing can mistake it for one of this submission. */
/** @param {string} file @param {string} token */
export function setAside(file, token) {
  if (existsSync(file)) renameSync(file, `${file}.stale-${token}`);
}

/** Frames of the runtime's own code, left out of a runner's traceback. */
const RUNTIME_FRAMES = [
  ...["runtime.mjs", "worker.mjs", "outcome.mjs"].map((f) => new URL(`./${f}`, import.meta.url).href),
  "at AsyncLocalStorage.run (node:async_hooks",
];

/**
 * Like a traceback: frames first, the error's own line last (the last line is what users see).
 * @param {unknown} e
 */
export function formatError(e) {
  if (e instanceof Error) {
    const frames = (e.stack ?? "")
      .split("\n")
      .filter((l) => /^\s+at /.test(l) && !RUNTIME_FRAMES.some((f) => l.includes(f)));
    const head = `${e.name}: ${e.message}`.split("\n");
    return [...frames, ...head].join("\n");
  }
  return `Error: thrown value ${String(e)}`;
}
