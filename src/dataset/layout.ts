/**
 * Names of the files a Dataset writes, locally under `localDir` and remotely under `remoteDir`.
 * Bookkeeping lives in one folder per Dataset (`<name>-<short id>`) so that users' own files and the
 * run folders stay uncluttered and two Datasets never share a file.
 */
export const RUNTIME_FILES = [
  "runtime.mjs",
  "worker.mjs",
  "outcome.mjs",
  "wire.mjs",
  "codec.mjs",
  "serial.mjs",
] as const;
export const FUNCTION_FILE = "function.mjs";
/**
 * The folder of a submission's runtime files and function. Each submission has its own, so that a
 * transfer never rewrites a file that a process of an earlier submission still going may be loading
 * (a worker restarted after a crash, a downstream master, a job array task starting late).
 */
export const runtimeDir = (token: string) => `runtime-${token}`;

export function datasetFolder(name: string, identity: string): string {
  return `${name}-${identity.slice(0, 8)}`;
}

export const resultFile = (runner: string) => `${runner}.result.json`;
export const errorFile = (runner: string) => `${runner}.error.json`;
export const batchFile = (token: string) => `submit-${token}.json`;
export const masterScript = (token: string) => `submit-${token}.sh`;
/** The job script of planned job `s` of a submission through a scheduler. */
export const jobScriptFile = (token: string, s: number) => `job-${token}-${s}.sh`;
export const masterLog = (token: string) => `submit-${token}.log`;
/** Exit lines of the runtime processes of a submission (`@process`, appended after each exits). */
export const exitLog = (token: string) => `state/${token}.master.log`;
/** Pid and start time of a submission's master (written by the launch; read by the status command). */
export const pidFile = (token: string) => `state/${token}.pid`;
/** State lines of the runtime processes of a submission, one file per process `<k>`. */
export const stateGlob = (token: string) => `state/${token}.[0-9]*.log`;

/** A fresh submission token: unique, sortable by time, and safe in file names and shell words. */
export function newToken(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export function isValidName(name: string): boolean {
  return NAME.test(name);
}
