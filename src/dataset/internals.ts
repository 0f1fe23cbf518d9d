import type { Computer } from "../computer/index.js";
import type { Template } from "../computer/template.js";
import type { Connection } from "../connection/types.js";
import type { Serializer } from "../remote/serial.mjs";
import type { Runner } from "../runner/index.js";
import type { DryRunRecorder } from "./dryrun.js";
import type { UpstreamSubmission } from "./plans.js";
import type { Placement } from "./records.js";
import type { ScriptResult } from "./script.js";
import type { MasterLiveness } from "./status.js";

/** What tracking and fetching use of a Dataset's private state (a live view, not a copy). */
export interface DatasetInternals<Args extends object, Result> {
  readonly name: string;
  /** The Dataset's bookkeeping folder name (under localDir and remoteDir). */
  readonly folder: string;
  readonly connection: Connection;
  /** The Computer when it drives a scheduler; undefined when runs start directly. */
  readonly scheduler: Computer | undefined;
  /** The script of a script Dataset (undefined for a function Dataset). */
  readonly script: Template | undefined;
  /** Where a script runner's result comes from when it is not its stdout (the `resultFile` option). */
  readonly scriptResult?: ScriptResult;
  /** The Dataset's serializer of args and results. */
  readonly codec: Serializer;
  /** Every runner, in order. */
  readonly runners: readonly Runner<Args, Result>[];
  /** Where each runner's files went for its current submission, by runner name. */
  readonly placements: Map<string, Placement>;
  /**
   * When the scheduler was first seen to report a runner's job finished while the runner's own
   * lines had not (yet) said so, by runner name (see tracking.ts).
   */
  readonly unreported: Map<string, number>;
  /**
   * What the last status command found of the master of each in-flight submission without a
   * scheduler, by `<remote folder>\0<token>` (see tracking.ts).
   */
  readonly liveness?: Map<string, MasterLiveness>;
  saveRunners(runners: Runner<Args, Result>[]): void;
  log(level: number, message: string): void;
}

/** A downstream Dataset as a submission of its upstream sees it. */
export interface Follower {
  readonly name: string;
  readonly folder: string;
  /** Its Dataset-level remoteDir (resolved on a local connection). */
  readonly remoteRoot: string;
  readonly runners: readonly Runner<Record<string, unknown>, unknown>[];
  /** With `dry`, a dry run (see dryrun.ts): the follower records what it would submit, and changes nothing. */
  submit(
    runners: Runner<Record<string, unknown>, unknown>[],
    upstream: UpstreamSubmission,
    dry?: DryRunRecorder,
  ): Promise<void>;
  /**
   * The upstream's master that starts these runners was launched (`jobId`: its pid) or, with
   * undefined, was not: the runners go back to `created`.
   */
  started(runners: Runner<Record<string, unknown>, unknown>[], jobId: string | undefined): void;
}

/** What a submission uses besides: the shipped function, extra files and the downstream Datasets. */
export interface SubmissionHost<Args extends object, Result> extends DatasetInternals<Args, Result> {
  readonly functionSource: string;
  readonly extraFilesSend: readonly string[];
  readonly downstream: readonly Follower[];
  /** The absolute local folder a localDir run arg names (`~`, relative paths resolved). */
  localRoot(dir: unknown): string;
  /** The remote folder a remoteDir run arg names: absolute on a local connection, else as ssh sees it. */
  remoteRoot(dir: unknown): string;
}
