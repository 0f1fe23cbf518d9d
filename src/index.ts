/**
 * remoterun: run many parameterised computations on remote machines and bring the results home.
 *
 * Start with {@link Dataset} (a function or a bash script, its runs, their lifecycle); where runs
 * execute comes from {@link connect}, how jobs are scripted and submitted from {@link Computer}.
 * Every error thrown is a {@link RemoterunError}. The README is the guide; this reference is
 * generated from the types.
 *
 * @packageDocumentation
 * @document ../docs/database.md
 */
// The API reference (`npm run docs`, docs/api) is generated from these exports: every type that
// appears in a public signature is exported here, or the generation fails.

export type {
  Placeholder,
  PlaceholderFormat,
  PlannedRunner,
  PlannedSubmission,
  QsubFlavour,
  SubmitOptions,
  Template,
} from "./computer/index.js";
export {
  Computer,
  type ComputerOptions,
  planJobs,
  type SchedulerJobState,
  type Submitter,
} from "./computer/index.js";
export type { Values as TemplateValues } from "./computer/template.js";
export type {
  ConnectionStats,
  ExecOptions,
  LocalConnectionOptions,
  ResolvedSshOptions,
  ShellOutput,
} from "./connection/index.js";
export {
  type Check,
  type CheckStatus,
  type Connection,
  type ConnectionReport,
  type ConnectionSpec,
  type ConnectOptions,
  connect,
  type DiagnoseOptions,
  type Diagnosis,
  diagnose,
  type ExecResult,
  LocalConnection,
  parseDestination,
  SshConnection,
  type SshConnectionOptions,
} from "./connection/index.js";
export { dryRunSummary } from "./dataset/dryrun.js";
export type { Fn } from "./dataset/function.js";
export type {
  AppendOptions,
  DatasetOptions,
  DryRun,
  DryRunSubmission,
  FetchOptions,
  FunctionModule,
  MasterLiveness,
  OpenOptions,
  RunResult,
  WaitOptions,
} from "./dataset/index.js";
export { Dataset } from "./dataset/index.js";
export type { AppendOwnOptions, DatasetOwnOptions, Logger } from "./dataset/options.js";
export {
  countStates,
  etaText,
  type ProgressStream,
  ProgressTracker,
  paceText,
  type RunnerView,
  rateText,
} from "./dataset/progress.js";
export type { InspectedDatabase } from "./dataset/records.js";
export type { ResultFormat, ScriptResult } from "./dataset/script.js";
export type { DryRunOption } from "./dataset/validate.js";
export { decode, encode } from "./remote/codec.mjs";
export type { NativeRunArgs } from "./runargs/index.js";
export { defaultRunArgs, type RunArgs } from "./runargs/index.js";
export type { RunnerParent, RunnerRecord } from "./runner/index.js";
export { isFinishedState, isInFlightState, RUNNER_STATES, Runner, type RunnerState } from "./runner/index.js";
export * from "./shared/errors.js";
export { holdLocksBriefly } from "./store/index.js";
