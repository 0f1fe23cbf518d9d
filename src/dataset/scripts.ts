import { shellQuote as q } from "../shared/quote.js";
import { batchFile, exitLog, masterLog, masterScript, pidFile, runtimeDir, stateGlob } from "./layout.js";

/** A shell function that starts node the way the connection says (a path or a setup line). */
export function nodeFunction(nodeCommand: string): string {
  return `run_node() { ${nodeCommand} "$@"; }`;
}

/** Shell text that runs runtime process K of G and records how it ended (an exit line, see src/remote/wire.mjs). */
function runtimeLine(token: string, k: string, p: string): string {
  return `run_node ${runtimeDir(token)}/runtime.mjs ${batchFile(token)} ${k} ${p}; rc=$?; printf '%s\\t@process\\t%s/%s\\t%s\\t%s\\n' "${token}" "${k}" "${p}" "$rc" "$(date +%s)" >> "${exitLog(token)}"`;
}

/**
 * The master script of one submission without a scheduler: starts P runtime processes (P = 1 when
 * not asynchronous, else the remote's CPU count, capped by the number of runners and maxProcesses),
 * each taking runners from the submission's shared pool as it goes (see src/remote/runtime.mjs).
 * `then` are master scripts of downstream Datasets (paths relative to this folder) started once all
 * of these runners have ended.
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

/**
 * Launch text of a no-scheduler submission: the master, detached in its own session. Before the
 * launch returns, `state/<token>.pid` records the master's pid and start time (read while the master
 * is still this shell's child, so the pid cannot have been reused): the status command compares them
 * to tell a live master from a gone one whose pid was given to another process.
 */
export function detachMaster(token: string): string {
  return [
    "umask 077",
    "if command -v setsid >/dev/null 2>&1; then LAUNCH=setsid; else LAUNCH=; fi",
    `$LAUNCH nohup bash ${masterScript(token)} > ${masterLog(token)} 2>&1 < /dev/null &`,
    "rr_pid=$!",
    START_TIME_FN,
    `{ mkdir -p state && printf '%s %s\\n' "$rr_pid" "$(rr_start "$rr_pid")" > ${pidFile(token)}; } 2>/dev/null`,
    'echo "pid $rr_pid"',
  ].join("\n");
}

/**
 * `rr_start PID`: a word that identifies the process PID for as long as it lives (its start time in
 * clock ticks since boot from /proc, or `ps`'s start time where there is no /proc); nothing when there
 * is no such process or it is a zombie (dead, not yet reaped).
 */
const START_TIME_FN = [
  "rr_start() {",
  '  if [ -r "/proc/$1/stat" ]; then',
  '    local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  '    s=${s##*) }; set -- $s; [ "$1" = Z ] || echo "${20}"',
  '  elif [ ! -d /proc/self ]; then ps -o stat= -o lstart= -p "$1" 2>/dev/null | awk \'$1 !~ /^Z/ { $1 = ""; gsub(/ +/, "_"); print }\'',
  "  fi",
  "}",
].join("\n");

export const STATUS_MARKER = "@@remoterun-state-lines@@";
/** Prefix of the liveness lines of the status command (one per folder, before its exit lines). */
export const LIVE_MARKER = "@@live";
/** Prefix of the diagnostics lines of the status command (after the state lines, when needed). */
export const DIAG_MARKER = "@@diag";

/**
 * `rr_live INDEX DIR TOKEN [PID]`: one line `@@live \t INDEX \t alive|gone|unknown \t PID \t
 * FOLDER(0|1)`. The master's pid and start time come from the submission's pid file (in DIR, or in
 * the folder of the upstream Dataset whose master runs this one, same token), else PID (start
 * unknown). The master is alive while it runs with the same start time, or while any (non-zombie)
 * process of its process group (its lanes, runtimes, downstream masters) is left; a pid now used by
 * another process means that group has ended (a pid is never reused while its group has members).
 * `rr_diag INDEX DIR TOKEN`, run after the exit and state lines were read: `@@diag \t INDEX \t
 * WRITABLE(0|1) \t FREE-KB \t BASE64(tail of the submission log)`, what can explain a failure.
 */
const LIVE_FN = [
  START_TIME_FN,
  "rr_group() {",
  '  command -v ps >/dev/null 2>&1 || { kill -0 -- "-$1" 2>/dev/null; return; }',
  "  ps -A -o pgid= -o stat= 2>/dev/null | awk -v g=\"$1\" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'",
  "}",
  "rr_live() {",
  "  local i=$1 d=$2 t=$3 p=$4 s= v=unknown f known= st",
  '  if [ -f "$d/state/$t.pid" ]; then read -r p s < "$d/state/$t.pid"; known=1',
  // a downstream Dataset's runs are started by its upstream's master: same token, upstream's folder
  '  else for f in "$d"/../*/"state/$t.pid"; do',
  '    if [ -f "$f" ]; then read -r p s < "$f"; known=1; break; fi',
  "  done; fi",
  '  if [ ! -d "$d" ]; then v=gone',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  '  elif [ -n "$p" ] && [ -z "${p//[0-9]/}" ]; then',
  '    st=$(rr_start "$p")',
  '    if [ -n "$st" ]; then',
  '      if [ -z "$known" ] || [ "$st" = "$s" ]; then v=alive; else v=gone; fi',
  '    elif [ -n "$known" ] && [ -z "$s" ]; then v=gone',
  '    elif rr_group "$p"; then v=alive',
  "    else v=gone; fi",
  "  fi",
  "  rr_v[$i]=$v",
  `  printf '${LIVE_MARKER}\\t%s\\t%s\\t%s\\t%s\\n' "$i" "$v" "\${p:--}" "$([ -d "$d" ] && echo 1 || echo 0)"`,
  "}",
  // After the exit and state lines were read, what can explain a failure: only for a gone master
  // or a process that has exited (the exit log as read then), to keep the common case cheap.
  "rr_diag() {",
  "  local i=$1 d=$2 t=$3 w=- free= log=",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array expansion
  '  if [ -d "$d" ] && { [ "${rr_v[$i]}" = gone ] || [ -s "$d/state/$t.master.log" ]; }; then',
  '    if [ -w "$d" ] && { [ ! -e "$d/state" ] || [ -w "$d/state" ]; }; then w=1; else w=0; fi',
  "    free=$(df -Pk -- \"$d\" 2>/dev/null | awk 'NR == 2 { print $4 }')",
  "    log=$(tail -c 1500 -- \"$d/submit-$t.log\" 2>/dev/null | base64 2>/dev/null | tr -d '\\n')",
  `    printf '${DIAG_MARKER}\\t%s\\t%s\\t%s\\t%s\\n' "$i" "$w" "\${free:--}" "\${log:--}"`,
  "  fi",
  "}",
].join("\n");

/**
 * One command: the scheduler's view (if any) first; then, for submissions without a scheduler,
 * whether their master processes and folders are still there (`liveness`, see rr_live); then the
 * exit lines of the runtime processes, then their state lines. The order matters: a process writes
 * all its state lines before its exit line is appended, and a master writes every exit line before
 * it ends, so exit lines read BEFORE the state lines never announce an exit whose runners' terminal
 * lines were missed (read after, an exit could land between the two reads and a runner that
 * completed would pass for one whose process died under it), and a master seen gone BEFORE both
 * has written all it ever will.
 */
/** Marks the start of one folder's lines in the status command's output (see statusScript). */
export const FOLDER_MARKER = "@@folder";

export function statusScript(
  folders: { dir: string; token: string; pid?: string }[],
  schedulerScript?: string,
  liveness = false,
): string {
  return [
    schedulerScript ?? "",
    `echo ${STATUS_MARKER}`,
    ...(liveness
      ? [
          LIVE_FN,
          ...folders.map(({ dir, token, pid }, i) => `rr_live ${i} ${q(dir)} ${q(token)} ${q(pid ?? "")}`),
        ]
      : []),
    // Exit lines before state lines (a lane's exit line is written after its last state line), each
    // folder's lines after a marker: the masters of one submission in two folders share its token.
    ...folders.map(
      ({ dir, token }, i) => `echo "${FOLDER_MARKER}	${i}"; cat -- ${q(dir)}/${exitLog(token)} 2>/dev/null`,
    ),
    ...folders.map(
      ({ dir, token }, i) =>
        `echo "${FOLDER_MARKER}	${i}"; cat -- ${q(dir)}/${stateGlob(token)} 2>/dev/null`,
    ),
    ...(liveness ? folders.map(({ dir, token }, i) => `rr_diag ${i} ${q(dir)} ${q(token)}`) : []),
    "true",
    "",
  ].join("\n");
}

/** One command that prints the collected result/error lines of the given submissions. */
export function collectedResultsScript(sources: { dir: string; token: string }[]): string {
  return `${sources.map(({ dir, token }) => `cat -- ${q(dir)}/results/${token}.*.jsonl 2>/dev/null`).join("\n")}\ntrue\n`;
}
