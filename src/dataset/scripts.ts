import { shellQuote as q } from "../shared/quote.js";
import { batchFile, exitLog, masterLog, masterScript, stateGlob } from "./layout.js";

/** A shell function that starts node the way the connection says (a path or a setup line). */
export function nodeFunction(nodeCommand: string): string {
  return `run_node() { ${nodeCommand} "$@"; }`;
}

/** Shell text that runs runtime process K of G and records how it ended. */
function runtimeLine(token: string, k: string, p: string): string {
  return `run_node runtime.mjs ${batchFile(token)} ${k} ${p}; rc=$?; printf '%s\\t@process\\t%s/%s\\t%s\\t%s\\n' "${token}" "${k}" "${p}" "$rc" "$(date +%s)" >> "${exitLog(token)}"`;
}

/**
 * The master script of one submission without a scheduler: starts P runtime processes (P = 1 when
 * not asynchronous, else the remote's CPU count, capped by the number of runners and maxProcesses),
 * each running its share of the runners. `then` are master scripts of downstream Datasets (paths
 * relative to this folder) started once all of these runners have ended.
 */
export function bashMasterScript(opts: {
  token: string;
  runners: number;
  asynchronous: boolean;
  maxProcesses?: number;
  nodeCommand: string;
  datasetName: string;
  then?: string[];
}): string {
  const { token, runners } = opts;
  const cap = Math.min(runners, opts.maxProcesses ?? runners);
  return [
    "#!/usr/bin/env bash",
    `# remoterun submission ${token} of dataset ${opts.datasetName}: ${runners} runner(s)`,
    `cd "$(dirname "$0")" || exit 1`,
    nodeFunction(opts.nodeCommand),
    "umask 077 # results, errors and state files are private to the user",
    "mkdir -p state",
    opts.asynchronous
      ? `P=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); [ "$P" -gt ${cap} ] && P=${cap}`
      : "P=1",
    ...lanesThen([runtimeLine(token, "$k", "$P")], opts.then),
    "",
  ].join("\n");
}

/**
 * Shell lines that run `lane` (lines using $k) in P background subshells, k = 0..P-1, wait for them
 * all, then run the master scripts of downstream Datasets (`then`, paths relative to this folder).
 */
export function lanesThen(lane: string[], then: readonly string[] = []): string[] {
  return [
    "k=0",
    "while [ $k -lt $P ]; do",
    "  (",
    ...lane.map((l) => `    ${l}`),
    "  ) &",
    "  k=$((k+1))",
    "done",
    "wait",
    ...then.map((s) => `bash ${q(s)} > ${q(s.replace(/\.sh$/, ".log"))} 2>&1 < /dev/null`),
  ];
}

/** The body of a scheduler job: runs runtime group K (fixed, or offset + array index) of G. */
export function jobScript(opts: {
  header: string;
  token: string;
  nodeCommand: string;
  groupExpr: string;
  groups: number;
}): string {
  return [
    opts.header.trimEnd(),
    `# remoterun job of submission ${opts.token}`,
    // The folder the job was submitted from, whatever the scheduler calls it.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'cd "${SLURM_SUBMIT_DIR:-${PBS_O_WORKDIR:-${SGE_O_WORKDIR:-${LS_SUBCWD:-.}}}}" || exit 1',
    nodeFunction(opts.nodeCommand),
    "umask 077 # results, errors and state files are private to the user",
    "mkdir -p state",
    `K=${opts.groupExpr}`,
    runtimeLine(opts.token, "$K", String(opts.groups)),
    // The runtime exits 0 when it ran its runners, whatever they did; but the job's own status is
    // what scheduler dependencies (afterok, aftercorr) judge. A job none of whose runners succeeded
    // fails, so that its downstream job never starts (and is reported failed by the Dataset).
    `[ "$rc" = 0 ] && awk -F'\t' '$3 == "completed" { ok = 1 } $3 == "failed" { bad = 1 } END { exit !(bad && !ok) }' "state/${opts.token}.$K.log" 2>/dev/null && rc=${RUNNERS_FAILED_EXIT}`,
    "exit $rc",
    "",
  ].join("\n");
}

/** Exit status of a scheduler job whose runners all failed (their own errors say why). */
export const RUNNERS_FAILED_EXIT = 3;

/** Launch text of a no-scheduler submission: the master, detached in its own session. */
export function detachMaster(token: string): string {
  return [
    "if command -v setsid >/dev/null 2>&1; then LAUNCH=setsid; else LAUNCH=; fi",
    `$LAUNCH nohup bash ${masterScript(token)} > ${masterLog(token)} 2>&1 < /dev/null &`,
    'echo "pid $!"',
  ].join("\n");
}

export const STATUS_MARKER = "@@remoterun-state-lines@@";

/**
 * One command: the scheduler's view (if any) first, then the exit lines of the runtime processes,
 * then their state lines. The order matters: a process writes all its state lines before its exit
 * line is appended, so exit lines read BEFORE the state lines never announce an exit whose runners'
 * terminal lines were missed (read after, an exit could land between the two reads and a runner
 * that completed would pass for one whose process died under it).
 */
export function statusScript(folders: { dir: string; token: string }[], schedulerScript?: string): string {
  return [
    schedulerScript ?? "",
    `echo ${STATUS_MARKER}`,
    ...folders.map(({ dir, token }) => `cat -- ${q(dir)}/${exitLog(token)} 2>/dev/null`),
    ...folders.map(({ dir, token }) => `cat -- ${q(dir)}/${stateGlob(token)} 2>/dev/null`),
    "true",
    "",
  ].join("\n");
}

/** One command that prints the collected result/error lines of the given submissions. */
export function collectedResultsScript(sources: { dir: string; token: string }[]): string {
  return `${sources.map(({ dir, token }) => `cat -- ${q(dir)}/results/${token}.*.jsonl 2>/dev/null`).join("\n")}\ntrue\n`;
}
