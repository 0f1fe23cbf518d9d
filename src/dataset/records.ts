import { dirname, resolve } from "node:path";
import { Computer, type ComputerOptions } from "../computer/index.js";
import type { ConnectOptions } from "../connection/index.js";
import type { ConnectionSpec } from "../connection/types.js";
import type { RunArgs } from "../runargs/index.js";
import type { RunnerRecord, RunnerState } from "../runner/index.js";
import { InvalidArgumentError, RunnerFailedError } from "../shared/errors.js";
import { canonicalJson } from "../shared/hash.js";
import { DatasetStore, type DbState } from "../store/index.js";
import type { DatasetOptions } from "./options.js";

/** What the database keeps about the Dataset itself. */
export interface DatasetMeta {
  runArgs: RunArgs;
  nextIndex: number;
  /** The function as shipped (lets Dataset.open() and the CLI work without the user's code). */
  functionSource?: string;
  /** The script of a script Dataset (instead of functionSource). */
  script?: string;
  connection?: ConnectionSpec;
  computer?: ComputerOptions;
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
}

export type StoredRunner = RunnerRecord & { placement?: Placement };

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
  const state = DatasetStore.peek<DatasetMeta, StoredRunner>(base);
  if (!state) throw new InvalidArgumentError("database file", dbFile, "an existing remoterun database");
  return { base, state };
}

/** A database as last recorded by whichever process holds it (see Dataset.inspect). */
export interface InspectedDatabase {
  name: string;
  identity: string;
  runners: { name: string; state: RunnerState; jobId?: string; error?: RunnerFailedError }[];
}

export function inspectDatabase(dbFile: string): InspectedDatabase {
  const { state } = peekDatabase(dbFile);
  return {
    name: state.name,
    identity: state.identity,
    runners: state.runners.map((r) => ({
      name: r.name,
      state: r.state,
      ...(r.jobId !== undefined ? { jobId: r.jobId } : {}),
      ...(r.error !== undefined ? { error: new RunnerFailedError(r.name, r.error) } : {}),
    })),
  };
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
