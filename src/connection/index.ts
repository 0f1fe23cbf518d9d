/**
 * Public API of the connection module: where things run and how files get there.
 *
 * - `connect()` → LocalConnection (no options, "localhost", { kind: "local" }) or SshConnection
 *   ({ host, ... } or "user@host:port").
 * - SSH uses the system `ssh` with a per-connection control master (private 0700 socket folder).
 *   Scripts travel on stdin to `bash -s`; the exit status decides failure.
 * - Transports: "rsync" (default, one rsync per call, NUL-separated --files-from) and "scp"
 *   (tar streamed through the same ssh: one local tar + one ssh per call; works without rsync, and
 *   through a login shell that prints on stdout: rsync falls back to it then, warning once).
 * - Errors name their cause: causes.ts picks the explaining line from all stderr (ranked known
 *   lines of ssh, rsync, tar, mkdir, bash). diagnose() (doctor.ts) checks a connection with advice.
 * - `stats.launches` counts every process spawned: exec attempts (retries included), transport
 *   processes, and the `ssh -O exit` of close(). The master is the first ssh, not a launch of its own.
 */
export { type ConnectOptions, connect, parseDestination } from "./connect.js";
export { type Check, type CheckStatus, type DiagnoseOptions, type Diagnosis, diagnose } from "./doctor.js";
export { LocalConnection, type LocalConnectionOptions, runBash } from "./local.js";
export { type ShellOutput, SshConnection } from "./ssh.js";
export { type ResolvedSshOptions, resolveSshOptions, type SshConnectionOptions } from "./ssh-options.js";
export type {
  Connection,
  ConnectionReport,
  ConnectionSpec,
  ConnectionStats,
  ExecOptions,
  ExecResult,
} from "./types.js";
