/** Public API of the connection module: where things run and how files get there. */
export { type ConnectOptions, connect, parseDestination } from "./connect.js";
export { LocalConnection, type LocalConnectionOptions, runBash } from "./local.js";
export { SshConnection } from "./ssh.js";
export { type ResolvedSshOptions, resolveSshOptions, type SshConnectionOptions } from "./ssh-options.js";
export type {
  Connection,
  ConnectionReport,
  ConnectionSpec,
  ConnectionStats,
  ExecOptions,
  ExecResult,
} from "./types.js";
