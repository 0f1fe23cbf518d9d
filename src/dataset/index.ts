export { Dataset } from "./dataset.js";
export type { DryRun, DryRunSubmission, RunResult } from "./dryrun.js";
export type { FunctionModule } from "./function.js";
export type {
  AppendOptions,
  DatasetOptions,
  FetchOptions,
  Logger,
  OpenOptions,
  WaitOptions,
} from "./options.js";
export type { MasterLiveness } from "./status.js";
