import { put } from "../remote/codec.mjs";
import {
  CONTEXTUAL_KEYS,
  deriveRunArgs,
  type RunArgs,
  setRunArgsOn,
  updateRunArgsOn,
} from "../runargs/index.js";
import { RunnerFailedError } from "../shared/errors.js";
import { hashOf } from "../shared/hash.js";
import { isAllowedTransition, type RunnerState } from "./state.js";

/** What a Runner needs from its Dataset: the upper run-args levels, nothing else. */
export interface RunnerParent {
  readonly runArgs: RunArgs;
  /** The temporary args of the run() in progress ({} outside a run). */
  readonly temporaryRunArgs: RunArgs;
}

/** Everything about a runner that is saved in the database. */
export interface RunnerRecord {
  index: number;
  name: string;
  identity: string;
  args: Record<string, unknown>;
  runArgs: RunArgs;
  state: RunnerState;
  /** Epoch ms of the last state change. */
  stateTime: number;
  /** Token of the submission this runner's state belongs to. */
  token?: string;
  /** Scheduler job id (or pid for bash) and array task, if any. */
  jobId?: string;
  /** Encoded (codec) result text, once fetched. */
  result?: string;
  /** Full error text of a failure (what it wrote on stderr, then the error), once known. */
  error?: string;
  /** What the run wrote on stdout and stderr, once fetched. */
  stdout?: string;
  stderr?: string;
}

/**
 * The identity of a runner: its args, its derived run args (minus skip/force) and its Dataset, hashed
 * in canonical tagged form (see canonicalJson): NaN, ±Infinity, -0, undefined and null args differ,
 * key order does not count. A run arg set to undefined counts as not given. Computed at append only:
 * restored runners keep the identity their record holds.
 */
export function runnerIdentity(
  args: Record<string, unknown>,
  derived: RunArgs,
  datasetIdentity: string,
  extra?: unknown,
): string {
  const relevant: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(derived))
    if (!CONTEXTUAL_KEYS.has(k) && v !== undefined) put(relevant, k, v);
  return hashOf({ args, runArgs: relevant, dataset: datasetIdentity, extra: extra ?? null });
}

/** One run of the Dataset's function with one set of args. */
export class Runner<Args extends object = Record<string, unknown>, Result = unknown> {
  readonly index: number;
  readonly name: string;
  readonly identity: string;
  readonly args: Args;
  /** This runner's own overrides; starts empty. Mutate freely: nothing else changes. */
  runArgs: RunArgs;
  state: RunnerState;
  stateTime: number;
  token: string | undefined;
  jobId: string | undefined;
  /** Decoded result (undefined until fetched). */
  result: Result | RunnerFailedError | undefined;
  /** Full error text of a failure: what the run wrote on stderr, then the error. */
  errorText: string | undefined;
  resultText: string | undefined;
  /** What the run wrote on stdout (console.log, process.stdout), once fetched; undefined before. */
  stdout: string | undefined;
  /** What the run wrote on stderr (console.error, process.stderr), once fetched; undefined before. */
  stderr: string | undefined;
  private readonly parent: RunnerParent;

  constructor(parent: RunnerParent, rec: RunnerRecord, decodeResult: (text: string) => unknown) {
    this.parent = parent;
    this.index = rec.index;
    this.name = rec.name;
    this.identity = rec.identity;
    this.args = rec.args as Args;
    this.runArgs = rec.runArgs;
    this.state = rec.state;
    this.stateTime = rec.stateTime;
    this.token = rec.token;
    this.jobId = rec.jobId;
    this.resultText = rec.result;
    this.errorText = rec.error;
    this.stdout = rec.stdout;
    this.stderr = rec.stderr;
    if (rec.result !== undefined) this.result = decodeResult(rec.result) as Result;
    else if (rec.error !== undefined) this.result = new RunnerFailedError(rec.name, rec.error);
  }

  /** Dataset run args, overlaid by this runner's, overlaid by the current run()'s temporary args. */
  get derivedRunArgs(): RunArgs {
    return deriveRunArgs(this.parent.runArgs, this.runArgs, this.parent.temporaryRunArgs);
  }

  /** The failure of this runner, if it failed. */
  get error(): RunnerFailedError | undefined {
    return this.result instanceof RunnerFailedError ? this.result : undefined;
  }

  /** The whole error text of a failure (its stderr, then the error), undefined unless it failed. */
  get fullError(): string | undefined {
    return this.error?.fullError;
  }

  setRunArgs(keys: string | string[], vals: unknown): void {
    setRunArgsOn(this.runArgs, `${this.name} run args`, keys, vals);
  }

  updateRunArgs(update: Record<string, unknown>): void {
    updateRunArgsOn(this.runArgs, `${this.name} run args`, update);
  }

  /** Change the state; an impossible change (see STATE_TRANSITIONS) is a bug: internal error. */
  setState(state: RunnerState, time = Date.now()): void {
    if (!isAllowedTransition(this.state, state)) {
      throw new Error(`internal error: runner ${this.name} cannot go from state ${this.state} to ${state}`);
    }
    this.state = state;
    this.stateTime = time;
  }

  toRecord(): RunnerRecord {
    const rec: RunnerRecord = {
      index: this.index,
      name: this.name,
      identity: this.identity,
      args: this.args as Record<string, unknown>,
      runArgs: this.runArgs,
      state: this.state,
      stateTime: this.stateTime,
    };
    if (this.token !== undefined) rec.token = this.token;
    if (this.jobId !== undefined) rec.jobId = this.jobId;
    if (this.resultText !== undefined) rec.result = this.resultText;
    if (this.errorText !== undefined) rec.error = this.errorText;
    if (this.stdout !== undefined) rec.stdout = this.stdout;
    if (this.stderr !== undefined) rec.stderr = this.stderr;
    return rec;
  }
}
