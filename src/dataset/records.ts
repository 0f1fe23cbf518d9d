import { dirname, isAbsolute, resolve } from "node:path";
import { Computer, type ComputerOptions } from "../computer/index.js";
import type { ConnectOptions } from "../connection/index.js";
import type { ConnectionSpec } from "../connection/types.js";
import type { RunArgs } from "../runargs/index.js";
import { RUNNER_STATES, type RunnerRecord, type RunnerState } from "../runner/index.js";
import { DatabaseError, describeValue, InvalidArgumentError, RunnerFailedError } from "../shared/errors.js";
import { canonicalJson } from "../shared/hash.js";
import { DatasetStore, type DbState, type StoreValidator } from "../store/index.js";
import { isValidName } from "./layout.js";
import type { DatasetOptions } from "./options.js";
import { driverSerializer } from "./serializer.js";

/** What the database keeps about the Dataset itself. */
export interface DatasetMeta {
  runArgs: RunArgs;
  nextIndex: number;
  /** The function as shipped (lets Dataset.open() and the CLI work without the user's code). */
  functionSource?: string;
  /** The script of a script Dataset (instead of functionSource). */
  script?: string;
  /** A script Dataset's `resultFile` option and the format it is read in (`resultFormat` or by extension). */
  resultFile?: string;
  resultFormat?: "json" | "yaml" | "text";
  connection?: ConnectionSpec;
  computer?: ComputerOptions;
  /** The serializer of args and results, when not "json" (absent: json). */
  serializer?: "yaml" | "v8";
}

/** Where a runner's files went for its current submission (temporary run args are not kept). */
export interface Placement {
  localRoot: string;
  remoteRoot: string;
  slot: number;
  /** With a scheduler: the planned job (its position in the submission) that runs the runner... */
  job?: number;
  /** ...and its array task, when that job is an array. */
  task?: number;
  /**
   * The remote folder holding the launch record of the runner's submission, when it is not the
   * runner's own Dataset folder (a downstream runner started by its upstream's master).
   */
  launch?: string;
  /**
   * Without a scheduler: the runtime processes (or script lanes) take runners from a shared pool, so
   * `slot` is the runner's position in its batch and its claim lines tell which process took it.
   */
  pooled?: boolean;
  /** The runner's working folder relative to remoteRoot (its runDir, placeholders filled), if any. */
  runDir?: string;
  /** The `extraFilesRecv` patterns the submission was given (output files fetched with the result). */
  recv?: string[];
}

export type StoredRunner = RunnerRecord & {
  placement?: Placement;
  /**
   * A v8 Dataset's runner: its args as the v8 serializer's wire form (base64), instead of `args`
   * (the database's tagged JSON cannot hold all that v8 carries).
   */
  argsV8?: string;
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const STATES = new Set<unknown>(RUNNER_STATES);
const STATE_LIST = RUNNER_STATES.join(", ");
const NAME_RULE = "letters, digits, '.', '_' or '-', not starting with '.' or '-' (no '/', no '..')";

function field(key: string, value: unknown, expected: string): string {
  return `${key} is ${describeValue(value)}, expected ${expected}`;
}

/** The Dataset's own settings as stored (what the code reading them relies on). */
function checkMeta(m: unknown): string | undefined {
  if (!isObject(m)) return `got ${describeValue(m)}, expected an object of Dataset settings`;
  if (!isObject(m.runArgs)) return field("runArgs", m.runArgs, "an object");
  if (!Number.isSafeInteger(m.nextIndex) || (m.nextIndex as number) < 0)
    return field("nextIndex", m.nextIndex, "a non-negative integer");
  for (const k of ["functionSource", "script", "resultFile"] as const)
    if (m[k] !== undefined && typeof m[k] !== "string") return field(k, m[k], "a string");
  if (m.resultFormat !== undefined && !["json", "yaml", "text"].includes(m.resultFormat as string))
    return field("resultFormat", m.resultFormat, '"json", "yaml" or "text"');
  if (m.connection !== undefined) {
    const c = m.connection;
    if (!isObject(c) || (c.kind !== "local" && c.kind !== "ssh"))
      return field("connection", c, 'an object with kind "local" or "ssh"');
  }
  if (m.computer !== undefined && !isObject(m.computer)) return field("computer", m.computer, "an object");
  if (m.serializer !== undefined && m.serializer !== "yaml" && m.serializer !== "v8")
    return field("serializer", m.serializer, '"yaml" or "v8" when present (absent: json)');
  return undefined;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** States in which a runner always has the token of its submission. */
const NEEDS_TOKEN = new Set(["staged", "transferred", "submitted", "started", "completed", "satisfied"]);

/** One runner record (the store has checked that it is an object with a valid index). */
function checkRunner(r: Record<string, unknown>): string | undefined {
  if (typeof r.name !== "string" || !isValidName(r.name)) return field("name", r.name, NAME_RULE);
  if (typeof r.identity !== "string" || r.identity === "")
    return field("identity", r.identity, "a non-empty string");
  if (r.argsV8 !== undefined) {
    if (typeof r.argsV8 !== "string" || r.args !== undefined)
      return field("argsV8", r.argsV8, "a base64 string, and then no args");
  } else if (!isObject(r.args)) return field("args", r.args, "an object");
  if (!isObject(r.runArgs)) return field("runArgs", r.runArgs, "an object");
  if (!STATES.has(r.state)) return field("state", r.state, `one of ${STATE_LIST}`);
  if (typeof r.stateTime !== "number" || !Number.isFinite(r.stateTime))
    return field("stateTime", r.stateTime, "a number (epoch ms)");
  // The token names files (`submit-<token>.sh`, `*.stale-<token>`): it must be a plain name.
  if (r.token !== undefined && (typeof r.token !== "string" || !isValidName(r.token)))
    return field("token", r.token, "a submission token (letters and digits)");
  for (const k of ["jobId", "result", "error", "stdout", "stderr"] as const)
    if (r[k] !== undefined && typeof r[k] !== "string") return field(k, r[k], "a string when present");
  // A runner that went past `created` belongs to a submission; a fetched one has its result.
  if (r.token === undefined && NEEDS_TOKEN.has(r.state as string))
    return field("token", r.token, `a submission token (the runner is ${r.state})`);
  if (r.state === "satisfied" && r.result === undefined)
    return field("result", r.result, "the fetched result of a satisfied runner");
  if (typeof r.result === "string" && !isJson(r.result))
    return field("result", r.result, "the JSON text of the fetched result");
  if (r.placement !== undefined) {
    const p = r.placement;
    if (
      !isObject(p) ||
      typeof p.localRoot !== "string" ||
      !isAbsolute(p.localRoot) ||
      typeof p.remoteRoot !== "string" ||
      p.remoteRoot === "" ||
      !Number.isSafeInteger(p.slot) ||
      (p.slot as number) < 0 ||
      (p.job !== undefined && !(Number.isSafeInteger(p.job) && (p.job as number) >= 0)) ||
      (p.task !== undefined && !(Number.isSafeInteger(p.task) && (p.task as number) >= 0)) ||
      (p.launch !== undefined && (typeof p.launch !== "string" || p.launch === "")) ||
      (p.pooled !== undefined && typeof p.pooled !== "boolean") ||
      (p.runDir !== undefined &&
        (typeof p.runDir !== "string" ||
          p.runDir === "" ||
          p.runDir.startsWith("/") ||
          p.runDir.split("/").includes(".."))) ||
      (p.recv !== undefined && (!Array.isArray(p.recv) || p.recv.some((f) => typeof f !== "string")))
    )
      return field(
        "placement",
        p,
        "{ localRoot: an absolute path, remoteRoot: a path, slot: a non-negative integer, job?, task?: non-negative integers, launch?: a path, pooled?: a boolean, runDir?: a relative path inside remoteDir, recv?: an array of strings }",
      );
  }
  return undefined;
}

/** Names are unique within a Dataset (they name its files). */
function checkAll(recs: readonly Record<string, unknown>[]): string | undefined {
  const byName = new Map<unknown, unknown>();
  for (const r of recs) {
    const other = byName.get(r.name);
    if (other !== undefined)
      return `runners of index ${other} and ${r.index} share the name ${describeValue(r.name)}, expected unique names`;
    byName.set(r.name, r.index);
  }
  return undefined;
}

/** What every load of a Dataset's database checks (DatabaseError naming the file and the record). */
export const DATABASE_VALIDATOR: StoreValidator = { meta: checkMeta, record: checkRunner, all: checkAll };

/** Equal stored settings (nextIndex aside: it is derived from the runners on restore). */
export function sameSettings(stored: DatasetMeta, current: DatasetMeta): boolean {
  const { nextIndex: _a, ...a } = stored;
  const { nextIndex: _b, ...b } = current;
  return canonicalJson(a) === canonicalJson(b);
}

/**
 * Read a database without opening (or locking) its Dataset. `dbFile` is `<name>-<id>.remoterun.json`,
 * with or without the `.json`; `base` is the resolved path without it.
 */
export function peekDatabase(dbFile: string): {
  base: string;
  state: DbState<DatasetMeta, StoredRunner>;
} {
  if (typeof dbFile !== "string" || dbFile === "") {
    throw new InvalidArgumentError("database file", dbFile, "the path of a .remoterun.json file");
  }
  const base = resolve(dbFile.replace(/\.json$/, ""));
  const state = DatasetStore.peek<DatasetMeta, StoredRunner>(base, DATABASE_VALIDATOR);
  if (!state) throw new InvalidArgumentError("database file", dbFile, "an existing remoterun database");
  return { base, state };
}

/** A database as last recorded by whichever process holds it (see Dataset.inspect). */
export interface InspectedDatabase {
  name: string;
  identity: string;
  /** Where it runs: "localhost" or "user@host:port". */
  connection: string;
  /** Its Computer (scheduler), when it has one. */
  computer?: { name: string; submitter: string };
  /** A function Dataset or a script Dataset. */
  kind: "function" | "script";
  runners: {
    name: string;
    state: RunnerState;
    /** Epoch ms of the runner's last state change. */
    stateTime: number;
    args: Record<string, unknown>;
    jobId?: string;
    error?: RunnerFailedError;
    /** What the run wrote on stdout and stderr, once fetched. */
    stdout?: string;
    stderr?: string;
  }[];
}

export function inspectDatabase(dbFile: string): InspectedDatabase {
  const { base, state } = peekDatabase(dbFile);
  const meta = state.meta;
  return {
    name: state.name,
    identity: state.identity,
    connection: connectionLabel(meta?.connection),
    ...(meta?.computer ? { computer: { name: meta.computer.name, submitter: meta.computer.submitter } } : {}),
    kind: meta?.script !== undefined ? "script" : "function",
    runners: state.runners.map((r) => ({
      name: r.name,
      state: r.state,
      stateTime: r.stateTime,
      args: inspectedArgs(`${base}.json`, r),
      ...(r.jobId !== undefined ? { jobId: r.jobId } : {}),
      ...(r.error !== undefined ? { error: new RunnerFailedError(r.name, r.error) } : {}),
      ...(r.stdout !== undefined ? { stdout: r.stdout } : {}),
      ...(r.stderr !== undefined ? { stderr: r.stderr } : {}),
    })),
  };
}

/** "localhost" or "user@host:port", as the connection's label reads. */
function connectionLabel(spec: ConnectionSpec | undefined): string {
  if (!spec || spec.kind === "local") return "localhost";
  const user = spec.user ? `${spec.user}@` : "";
  return `${user}${spec.host ?? "localhost"}${spec.port !== undefined ? `:${spec.port}` : ""}`;
}

/** A runner's args as the function sees them (a v8 Dataset keeps them in the serializer's wire form). */
function inspectedArgs(file: string, r: StoredRunner): Record<string, unknown> {
  if (r.argsV8 === undefined) return r.args;
  try {
    return driverSerializer("v8").fromWire(r.argsV8) as Record<string, unknown>;
  } catch (e) {
    throw new DatabaseError(
      file,
      `runner ${r.name} (index ${r.index}): its args are not readable, expected the v8 serializer's form of an object`,
      { cause: e },
    );
  }
}

/**
 * What Dataset.open() needs to make again the Dataset a database records: its function (as source),
 * its options (the connection, logger and verbosity may be overridden) and the identity to check.
 */
export function storedDataset(
  dbFile: string,
  options: Pick<DatasetOptions, "connection" | "url" | "logger" | "verbose">,
): { functionSource?: string; options: DatasetOptions; identity: string } {
  const { base, state } = peekDatabase(dbFile);
  const meta = state.meta;
  if (!meta?.functionSource && !meta?.script) {
    throw new InvalidArgumentError("database file", dbFile, "a database that records its function");
  }
  const connection =
    options.connection ?? options.url ?? (meta.connection ? connectOptionsOf(meta.connection) : undefined);
  const opts: DatasetOptions = {
    name: state.name,
    dbDir: dirname(base),
    connection,
    ...(meta.computer ? { computer: new Computer(meta.computer) } : {}),
    ...(meta.script ? { script: meta.script } : {}),
    ...(meta.resultFile !== undefined ? { resultFile: meta.resultFile } : {}),
    ...(meta.resultFormat !== undefined ? { resultFormat: meta.resultFormat } : {}),
    ...(meta.serializer ? { serializer: meta.serializer } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.verbose !== undefined ? { verbose: options.verbose } : {}),
  };
  return {
    ...(meta.functionSource ? { functionSource: meta.functionSource } : {}),
    options: opts,
    identity: state.identity,
  };
}

/** Turn a stored connection description back into connect() options. */
function connectOptionsOf(spec: ConnectionSpec): ConnectOptions {
  if (spec.kind === "local") return spec.node ? { kind: "local", node: spec.node } : { kind: "local" };
  const { kind: _kind, transport, ...rest } = spec;
  return {
    kind: "ssh",
    ...rest,
    host: spec.host ?? "localhost",
    ...(transport && transport !== "cp" ? { transport } : {}),
  } as ConnectOptions;
}
