/** The run args every Dataset starts with, in the order they print. */
export interface NativeRunArgs {
  skip: boolean;
  force: boolean;
  asynchronous: boolean;
  localDir: string;
  remoteDir: string;
  runDir?: string;
  forceIgnoresSuccess?: boolean;
  /** Output files (paths or glob patterns relative to the runner's working folder) fetched back. */
  extraFilesRecv?: string[];
}

/** Run args: the native ones plus any custom key (scheduler resources and the like). */
export type RunArgs = Partial<NativeRunArgs> & Record<string, unknown>;

export function defaultRunArgs(): RunArgs {
  return {
    skip: true,
    force: false,
    asynchronous: true,
    localDir: "temp_runner_local",
    remoteDir: "temp_runner_remote",
  };
}

/**
 * Keys that decide *whether* a runner runs, not *what* it runs (and `extraFilesRecv`, which says what
 * comes back): kept out of runner identities.
 */
export const CONTEXTUAL_KEYS: ReadonlySet<string> = new Set([
  "skip",
  "force",
  "forceIgnoresSuccess",
  "extraFilesRecv",
]);

/**
 * Every run arg remoterun itself reads (besides the Computer's template placeholders): the names the
 * options checks compare typos against and the unused-run-arg warning leaves out.
 */
export const NATIVE_RUN_ARG_KEYS: ReadonlySet<string> = new Set([
  "skip",
  "force",
  "forceIgnoresSuccess",
  "asynchronous",
  "localDir",
  "remoteDir",
  "runDir",
  "timeout",
  "runnersPerJob",
  "maxProcesses",
  "concurrency",
  "extraFilesRecv",
]);
