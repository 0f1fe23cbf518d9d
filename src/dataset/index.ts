export { Dataset } from "./dataset.js";
export type {
  AppendOptions,
  DatasetOptions,
  FetchOptions,
  Logger,
  OpenOptions,
  WaitOptions,
} from "./options.js";
export type { MasterLiveness } from "./status.js";
