export { LocalConnection } from "./connection/local.js";
export type { Connection, ConnectionReport, ConnectionSpec, ExecResult } from "./connection/types.js";
export type { AppendOptions, DatasetOptions, WaitOptions } from "./dataset/index.js";
export { Dataset } from "./dataset/index.js";
export { defaultRunArgs, type RunArgs } from "./runargs/index.js";
export { Runner, type RunnerState } from "./runner/index.js";
export * from "./shared/errors.js";
