import { shellQuote as q } from "../shared/quote.js";
import { batchFile, masterLog, masterScript, stateGlob } from "./layout.js";

/** A shell function that starts node the way the connection says (a path or a setup line). */
export function nodeFunction(nodeCommand: string): string {
  return `run_node() { ${nodeCommand} "$@"; }`;
}

/**
 * The master script of one submission without a scheduler: starts P runtime processes (P = 1 when
 * not asynchronous, else the remote's CPU count, capped by the number of runners and maxProcesses),
 * each running its share of the runners, and records how each process ended.
 */
export function bashMasterScript(opts: {
  token: string;
  runners: number;
  asynchronous: boolean;
  maxProcesses?: number;
  nodeCommand: string;
  datasetName: string;
}): string {
  const { token, runners } = opts;
  const cap = Math.min(runners, opts.maxProcesses ?? runners);
  return [
    "#!/usr/bin/env bash",
    `# remoterun submission ${token} of dataset ${opts.datasetName}: ${runners} runner(s)`,
    `cd "$(dirname "$0")" || exit 1`,
    nodeFunction(opts.nodeCommand),
    "mkdir -p state",
    opts.asynchronous
      ? `P=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); [ "$P" -gt ${cap} ] && P=${cap}`
      : "P=1",
    `T=${token}`,
    "k=0",
    "while [ $k -lt $P ]; do",
    `  ( run_node runtime.mjs ${batchFile(token)} $k $P; rc=$?; printf '%s\\t@process\\t%s/%s\\t%s\\t%s\\n' "$T" "$k" "$P" "$rc" "$(date +%s)" >> "state/$T.master.log" ) &`,
    "  k=$((k+1))",
    "done",
    "wait",
    "",
  ].join("\n");
}

/**
 * One command that checks node and starts the master scripts of every folder detached from the
 * connection (setsid/nohup), so the runs go on when the driver or its SSH session goes away.
 */
export function launchScript(nodeCommand: string, folders: { dir: string; token: string }[]): string {
  return [
    nodeFunction(nodeCommand),
    `if ! run_node --version >/dev/null 2>&1; then echo "remoterun: cannot start node with: ${nodeCommand.replace(/["\\$`]/g, "\\$&")}" >&2; exit 97; fi`,
    ...folders.map(({ dir, token }) =>
      [
        `( cd -- ${q(dir)} || exit 98`,
        `  if command -v setsid >/dev/null 2>&1; then LAUNCH=setsid; else LAUNCH=; fi`,
        `  $LAUNCH nohup bash ${masterScript(token)} > ${masterLog(token)} 2>&1 < /dev/null &`,
        `  echo "launched ${token} $!" ) || exit $?`,
      ].join("\n"),
    ),
    "",
  ].join("\n");
}

export const NODE_MISSING_EXIT = 97;

/** One command that prints the state lines of the given submissions. */
export function statusScript(folders: { dir: string; token: string }[]): string {
  return `${folders.map(({ dir, token }) => `cat -- ${q(dir)}/${stateGlob(token)} 2>/dev/null`).join("\n")}\ntrue\n`;
}
