import type { Computer } from "../computer/index.js";
import type { ConnectOptions } from "../connection/index.js";
import type { Connection } from "../connection/types.js";
import type { RunArgs } from "../runargs/index.js";

export type Logger = (message: string) => void;

/** Options of `new Dataset(fn, options)`; every key not listed here is a Dataset-level run arg. */
export interface DatasetOwnOptions {
  /** Name of the Dataset (part of its identity and of its file names). Default "dataset". */
  name?: string;
  /** true (default): restore from an existing database; false: delete it and start afresh. */
  skip?: boolean;
  /** Ignored at Dataset creation (accepted for symmetry with remotemanager). */
  force?: boolean;
  /** Where runs execute: a Connection or connect() options (default: localhost). Never mutated. */
  connection?: Connection | ConnectOptions;
  /** Alias of `connection`. */
  url?: Connection | ConnectOptions;
  /** How jobs are scripted and submitted (a scheduler); default: runs start directly. */
  computer?: Computer;
  /** 0 = quiet, 1 = default messages, 2 = verbose. `true` = 2, `false` = 0. */
  verbose?: number | boolean;
  /** Folder of the database file (`~/…`: under the home). Default: the working directory. */
  dbDir?: string;
  /**
   * Files (local paths, `~/…` under the home) sent into remoteDir with every run, where a runner
   * without runDir runs; from a runDir they are one `../` per level of it (`../file` for `a`,
   * `../../file` for `runs/{name}`).
   */
  extraFilesSend?: string[];
  /** Where messages go (default console.log). */
  logger?: Logger;
  /**
   * A bash script to run instead of a function (give `undefined` or `null` as the function): each
   * runner's args fill its `#placeholder#`s, shell-quoted; the result is the script's stdout.
   */
  script?: string;
  /**
   * Script Datasets: the result is this file (relative to the runner's working folder, remoteDir or
   * remoteDir/runDir) as the script left it when it exited 0, instead of its stdout.
   */
  resultFile?: string;
  /** How `resultFile` is parsed; default by its extension (.json, .yaml/.yml, anything else text). */
  resultFormat?: "json" | "yaml" | "text";
  /**
   * How args and results are encoded, on the far side and in the database: "json" (default; tagged
   * JSON), "yaml" (readable YAML text) or "v8" (node:v8 structured clone, binary-safe). See README.
   */
  serializer?: "json" | "yaml" | "v8";
}

export const DATASET_OWN_KEYS: ReadonlySet<string> = new Set([
  "name",
  "skip",
  "force",
  "connection",
  "url",
  "computer",
  "verbose",
  "dbDir",
  "extraFilesSend",
  "logger",
  "script",
  "resultFile",
  "resultFormat",
  "serializer",
]);

export type DatasetOptions = DatasetOwnOptions & RunArgs;

/** Options of appendRun; every other key is a Runner-level run arg. */
export interface AppendOwnOptions {
  name?: string;
  skip?: boolean;
  force?: boolean;
  /** Defer the database write and the message until finishAppend(). */
  lazy?: boolean;
  /** Print nothing for this append. */
  quiet?: boolean;
}
export const APPEND_OWN_KEYS: ReadonlySet<string> = new Set(["name", "skip", "force", "lazy", "quiet"]);
export type AppendOptions = AppendOwnOptions & RunArgs;

/** Options of appendRuns (each runner gets its own name; the appends are always batched). */
export const APPEND_RUNS_OWN_KEYS: ReadonlySet<string> = new Set(
  [...APPEND_OWN_KEYS].filter((k) => k !== "name" && k !== "lazy"),
);

export interface WaitOptions {
  /** Longest pause between polls, seconds (default 1; polls start faster and back off). */
  interval?: number;
  /** Give up after this many seconds with WaitTimeoutError (default: never). */
  timeout?: number;
  /**
   * Show progress on stderr while waiting: on a terminal one line redrawn in place (counts per state,
   * a bar, runs per minute, ETA, time of the last change), otherwise one line per change. Default:
   * shown at verbose >= 1; `true` shows it at any verbosity, `false` never.
   */
  progress?: boolean;
}
export const WAIT_KEYS: ReadonlySet<string> = new Set(["interval", "timeout", "progress"]);

/** fetchResults() has no options yet: every key is refused. */
export type FetchOptions = Record<string, never>;
export const FETCH_KEYS: ReadonlySet<string> = new Set([]);

/** Options of the maintenance operations (resetRuns, removeRun, wipeRuns, wipeLocal, ...). */
export const DRY_RUN_KEYS: ReadonlySet<string> = new Set(["dryRun"]);

/** Options of Dataset.open(): what may override the stored settings. */
export type OpenOptions = Pick<DatasetOwnOptions, "connection" | "url" | "logger" | "verbose">;
export const OPEN_KEYS: ReadonlySet<string> = new Set(["connection", "url", "logger", "verbose"]);

/** Split an options object into the keys a function owns and the run args. */
export function splitOptions<T extends object>(
  options: T,
  own: ReadonlySet<string>,
): { own: Partial<T>; runArgs: RunArgs } {
  const mine: Record<string, unknown> = {};
  const runArgs: RunArgs = {};
  for (const [k, v] of Object.entries(options)) {
    if (own.has(k)) mine[k] = v;
    else runArgs[k] = v;
  }
  return { own: mine as Partial<T>, runArgs };
}
