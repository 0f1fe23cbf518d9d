export { Dataset } from "./dataset.js";
export type { AppendOptions, DatasetOptions, Logger, WaitOptions } from "./options.js";
export type { MasterLiveness } from "./status.js";
