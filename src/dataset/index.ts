export { Dataset } from "./dataset.js";
export type { FunctionModule } from "./function.js";
export type { AppendOptions, DatasetOptions, Logger, WaitOptions } from "./options.js";
export type { MasterLiveness } from "./status.js";
