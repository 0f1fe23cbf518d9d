/** remoterun: run many parameterised computations on remote machines and bring the results home. */
export {
  Computer,
  type ComputerOptions,
  planJobs,
  type SchedulerJobState,
  type Submitter,
} from "./computer/index.js";
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
  SshConnection,
  type SshConnectionOptions,
} from "./connection/index.js";
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
export { decode, encode } from "./remote/codec.mjs";
export { defaultRunArgs, type RunArgs } from "./runargs/index.js";
export { isFinishedState, isInFlightState, RUNNER_STATES, Runner, type RunnerState } from "./runner/index.js";
export * from "./shared/errors.js";
export { holdLocksBriefly } from "./store/index.js";
