/**
 * Where things run. A Connection runs shell scripts on the far side and moves files to and from
 * it; it knows nothing of Datasets, runners or schedulers.
 */

export interface ExecOptions {
  /** Bytes fed to the remote script's stdin after the script itself is consumed is NOT supported: the script IS stdin. */
  /** Directory the script starts in (relative paths are relative to the remote home / local cwd). */
  cwd?: string;
  /** Per-call time limit in ms (default: the connection's commandTimeout). */
  timeoutMs?: number;
  /** Do not throw on a non-zero exit; return the result instead. */
  allowFailure?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ConnectionReport {
  ok: boolean;
  host: string;
  /** Round-trip time of a trivial command, ms. */
  latencyMs: number;
  node: { path: string; version: string } | null;
  schedulers: { sbatch: boolean; qsub: boolean; bsub: boolean };
  /** remote clock minus local clock, ms (approximate, corrected for half the round trip). */
  clockOffsetMs: number;
  /**
   * What the remote login shell printed by itself when it started (its startup files: a motd, a
   * quota line, module messages), or null when it printed nothing. Output on stdout breaks rsync:
   * files of that connection then move with tar. Never part of `node`.
   */
  shellOutput: { stdout: string; stderr: string } | null;
}

/** Counters that let tests and benchmarks prove that work per phase does not grow with runners. */
export interface ConnectionStats {
  /** Every process launched that talks to the remote side (ssh, rsync, scp) or a local shell. */
  launches: number;
  execs: number;
  pushes: number;
  pulls: number;
}

/** Serializable description of a connection, without secrets (stored in the database). */
export interface ConnectionSpec {
  kind: "local" | "ssh";
  host?: string;
  user?: string;
  port?: number;
  keyfile?: string;
  proxyJump?: string;
  /** ssh config file given to every ssh as `-F` (absolute path). */
  configFile?: string;
  transport?: "rsync" | "scp" | "cp";
  knownHostsFile?: string;
  strictHostKeyChecking?: boolean | "accept-new";
  sshOptions?: string[];
  timeout?: number;
  maxRetries?: number;
  /** Remote node command, when not the default. */
  node?: string;
}

export interface Connection {
  readonly kind: "local" | "ssh";
  /** A human name: "localhost" or "user@host:port". */
  readonly label: string;
  readonly stats: ConnectionStats;
  /** Command that starts node on the remote side (path or `module load nodejs && node`). Default "node". */
  readonly nodeCommand: string;
  /**
   * Run a bash script on the remote side. The script travels on stdin to `bash -s`, never through
   * argv, so no byte of it is re-interpreted by an intermediate shell. Exit status decides failure
   * (CommandError); stderr alone never does.
   */
  exec(script: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Copy `files` (paths relative to localRoot, '/'-separated) to the same relative paths under
   * remoteRoot, creating folders as needed. One transport process for the whole list.
   */
  push(localRoot: string, remoteRoot: string, files: readonly string[]): Promise<void>;
  /**
   * Copy `files` (relative to remoteRoot) back under localRoot. Files missing on the remote side
   * are skipped silently. One transport process for the whole list.
   */
  pull(remoteRoot: string, localRoot: string, files: readonly string[]): Promise<void>;
  testConnection(): Promise<ConnectionReport>;
  /** Stop the control master (ssh) and remove private sockets. Idempotent. */
  close(): Promise<void>;
  toJSON(): ConnectionSpec;
}
