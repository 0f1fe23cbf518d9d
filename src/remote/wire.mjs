// @ts-check
/**
 * The wire protocol: every format that crosses between the driver and the far side, in one place.
 * Node built-ins only (Node >= 18): it ships with the runtime, and the driver imports it too.
 *
 * Values inside documents (args, results) are in the wire form of the Dataset's serializer
 * (serial.mjs): tagged JSON (codec.mjs) for json, a string of YAML or of base64 v8 data otherwise.
 * The formats, version WIRE_VERSION (2 added `serializer`; 1 was json only):
 *
 * - **Batch document** `submit-<token>.json`, driver → runtime:
 *   `{"wire":2,"token":T,"function":"function.mjs","asynchronous":B,"serializer"?:S,"runners":[RunnerEntry…],"groups"?:[[name…]…]}`,
 *   S "yaml" or "v8" (absent: json). The runtime refuses a batch of another version (every runner
 *   fails, saying both versions).
 * - **State line**, appended by the runtime to `state/<token>.<k>.log`:
 *   `T \t <runner> \t started|completed|failed \t <epoch ms>`.
 * - **Claim line**, appended by a runtime without `groups` to its state file when it takes runners
 *   from the submission's shared pool (or may be about to): `T \t @claim \t k/P \t <indices> \t <epoch ms>`,
 *   indices of the batch's runners as `a-b` ranges (inclusive) and single numbers, comma-separated.
 *   Only runners a runtime claimed can be blamed on its exit.
 * - **Exit line**, appended by the master (bash) to `state/<token>.master.log` when runtime process k
 *   of P ends: `T \t @process \t k/P \t <exit code> \t <epoch s>`.
 * - **Result document** `<runner>.result.json` / **error document** `<runner>.error.json`, each also
 *   one **collected line** of `results/<token>.<k>.jsonl` (written before the terminal state line):
 *   `{"token":T,"name":N,"result":<wire form>}` (with `"serializer":S` before `"result"` unless json)
 *   or `{"token":T,"name":N,"stderr":"<error text>"}`,
 *   plus `"out"`/`"err"` (what the runner printed, when small) or `"outBytes"`/`"errBytes"` (when only
 *   its `<runner>.out`/`.err` file holds it). Readers parse them whole (parseRecord), never by key
 *   order, and take a record only when its token is the runner's current one.
 *
 * The database has a format and version of its own (src/store), independent of this one.
 */

/** The version of the formats above. */
export const WIRE_VERSION = 2;

/**
 * @typedef {{ name: string, args: unknown, cwd?: string, supersedes?: boolean, timeout?: number,
 *   upstream?: { file: string, token?: string, name: string } }} RunnerEntry
 * @typedef {{ wire: number, token: string, function: string, asynchronous?: boolean,
 *   serializer?: string, concurrency?: number, runners: RunnerEntry[], groups?: string[][] }} Batch
 */

/** The states a runtime writes in state lines. */
export const LINE_STATES = /** @type {const} */ (["started", "completed", "failed"]);

/**
 * The batch document of a submission (without `wire`: it is added here).
 * @param {Omit<Batch, "wire">} batch @returns {string}
 */
export function batchDocument(batch) {
  return JSON.stringify({ wire: WIRE_VERSION, ...batch });
}

/** A batch document of another wire version (or none): what the runtime refuses. */
export class WireVersionError extends Error {
  /** @param {unknown} found */
  constructor(found) {
    super(
      `this remoterun runtime speaks wire format ${WIRE_VERSION} but the batch is in format ${String(found)}: the driver and the runtime it ships are from different versions`,
    );
    this.name = "WireVersionError";
  }
}

/**
 * Parse a batch document. Throws WireVersionError (with `batch` attached, when it has a token and
 * runners, so that each runner can be failed) for another version, SyntaxError for garbage.
 * @param {string} text @returns {Batch}
 */
export function readBatch(text) {
  const doc = JSON.parse(text);
  if (!doc || typeof doc !== "object" || doc.wire !== WIRE_VERSION) {
    const e = new WireVersionError(doc?.wire);
    if (doc && typeof doc.token === "string" && Array.isArray(doc.runners)) Object.assign(e, { batch: doc });
    throw e;
  }
  return doc;
}

/**
 * One state line.
 * @param {string} token @param {string} name @param {string} state @param {number} [ms]
 */
export function stateLine(token, name, state, ms = Date.now()) {
  return `${token}\t${name}\t${state}\t${ms}\n`;
}

/**
 * One claim line: lane k of P takes these batch indices.
 * @param {string} token @param {number} k @param {number} p @param {number[]} indices @param {number} [ms]
 */
export function claimLine(token, k, p, indices, ms = Date.now()) {
  /** @type {string[]} */
  const parts = [];
  const sorted = [...indices].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] <= sorted[j] + 1) j++;
    parts.push(sorted[i] === sorted[j] ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return `${token}\t@claim\t${k}/${p}\t${parts.join(",")}\t${ms}\n`;
}

/**
 * One line of a state or exit log, or undefined when it is neither (a torn line, noise).
 * @param {string} line
 * @returns {{ kind: "state", token: string, name: string, state: "started" | "completed" | "failed", time: number }
 *   | { kind: "exit", token: string, k: number, p: number, code: number, time: number }
 *   | { kind: "claim", token: string, k: number, p: number, ranges: [number, number][], time: number } | undefined}
 */
export function parseLogLine(line) {
  const f = line.split("\t");
  if (f.length < 4) return undefined;
  const [token, name, third, fourth] = f;
  if (name === "@process") {
    const m = /^(\d+)\/(\d+)$/.exec(third);
    if (!m || f.length < 5 || !/^-?\d+$/.test(fourth)) return undefined;
    return {
      kind: "exit",
      token,
      k: Number(m[1]),
      p: Number(m[2]),
      code: Number(fourth),
      time: Number(f[4]) * 1000,
    };
  }
  if (name === "@claim") {
    const m = /^(\d+)\/(\d+)$/.exec(third);
    if (!m || f.length < 5 || !/^\d+$/.test(f[4]) || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(fourth))
      return undefined;
    /** @type {[number, number][]} */
    const ranges = fourth.split(",").map((r) => {
      const [a, b = a] = r.split("-");
      return [Number(a), Number(b)];
    });
    return { kind: "claim", token, k: Number(m[1]), p: Number(m[2]), ranges, time: Number(f[4]) };
  }
  const state = /** @type {"started" | "completed" | "failed"} */ (third);
  if (!LINE_STATES.includes(state) || !/^\d+$/.test(fourth)) return undefined;
  return { kind: "state", token, name, state, time: Number(fourth) };
}

/** @typedef {{ bytes: number, text?: string }} Output */

/**
 * The output fields of a record: `"out"`/`"err"` with the text when small, `"outBytes"` /
 * `"errBytes"` when the driver must copy the file; nothing at all when the runner printed nothing.
 * @param {Output} out @param {Output} err
 */
export function outputFields(out, err) {
  return field("out", out) + field("err", err);
}

/** @param {string} key @param {Output} o */
function field(key, o) {
  if (o.bytes === 0) return "";
  return o.text !== undefined ? `,"${key}":${JSON.stringify(o.text)}` : `,"${key}Bytes":${o.bytes}`;
}

/**
 * A result document (also its collected line); `encoded` is the JSON text of the value's wire form
 * in the serializer named (json unless given).
 * @param {string} token @param {string} name @param {string} encoded @param {string} outputs
 * @param {string} [serializer]
 */
export function resultDocument(token, name, encoded, outputs, serializer = "json") {
  const s = serializer === "json" ? "" : `"serializer":${JSON.stringify(serializer)},`;
  return `{"token":${JSON.stringify(token)},"name":${JSON.stringify(name)},${s}"result":${encoded}${outputs}}`;
}

/**
 * An error document (also its collected line); `text` is traceback-like, the error on its last line.
 * @param {string} token @param {string} name @param {string} text @param {string} outputs
 */
export function errorDocument(token, name, text, outputs) {
  return `{"token":${JSON.stringify(token)},"name":${JSON.stringify(name)},"stderr":${JSON.stringify(text)}${outputs}}`;
}

/**
 * @typedef {{ token: string, name: string, result?: unknown, serializer?: string, stderr?: string,
 *   out?: string, err?: string, outBytes?: number, errBytes?: number, text: string }} WireRecord
 */

/**
 * A whole, well-formed result or error record, or undefined (cut short, edited, not a record at
 * all): token and name non-empty strings, exactly one of `result` and `stderr` (a string), output
 * fields of the right types, `serializer` (with a result only) "yaml" or "v8" when present. `result`
 * stays in its wire form (decode it with the serializer named, json when none is).
 * @param {string} text @returns {WireRecord | undefined}
 */
export function parseRecord(text) {
  if (text.trim() === "") return undefined;
  /** @type {unknown} */
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return undefined;
  const d = /** @type {Record<string, unknown>} */ (doc);
  if (typeof d.token !== "string" || d.token === "" || typeof d.name !== "string" || d.name === "")
    return undefined;
  const hasResult = Object.hasOwn(d, "result");
  const hasError = typeof d.stderr === "string";
  if (hasResult === hasError || (Object.hasOwn(d, "stderr") && !hasError)) return undefined;
  for (const k of ["out", "err"]) if (d[k] !== undefined && typeof d[k] !== "string") return undefined;
  if (d.serializer !== undefined && !(hasResult && (d.serializer === "yaml" || d.serializer === "v8")))
    return undefined;
  for (const k of ["outBytes", "errBytes"])
    if (d[k] !== undefined && !(typeof d[k] === "number" && Number.isInteger(d[k]) && d[k] >= 0))
      return undefined;
  /** @type {WireRecord} */
  const rec = { token: d.token, name: d.name, text };
  if (hasResult) rec.result = d.result;
  if (typeof d.serializer === "string") rec.serializer = d.serializer;
  else rec.stderr = /** @type {string} */ (d.stderr);
  if (typeof d.out === "string") rec.out = d.out;
  if (typeof d.err === "string") rec.err = d.err;
  if (typeof d.outBytes === "number" && d.outBytes > 0) rec.outBytes = d.outBytes;
  if (typeof d.errBytes === "number" && d.errBytes > 0) rec.errBytes = d.errBytes;
  return rec;
}
