/**
 * Exactly-once launches. A submission is launched at most once per token, whatever happens to the
 * driver: the launch in each remote folder first creates `launch-<token>/` with mkdir (atomic), runs
 * its text (detached master or scheduler submissions) with its output going to files in that folder,
 * and records the exit code last. A process that finds runners left `transferred` by a process that
 * died around the launch asks the far side what became of their token: it tries the same mkdir, and
 * if it wins, the launch can never happen any more (a launch command still on its way finds the
 * folder taken and does nothing), so the runners provably never started and may be submitted again;
 * if it loses, it reads what the launch recorded (pids, job ids) and the runners are in flight.
 */
import type { Computer } from "../computer/index.js";
import type { Runner } from "../runner/index.js";
import { shellQuote as q } from "../shared/quote.js";
import type { DatasetInternals } from "./internals.js";
import type { Placement } from "./records.js";
import { nodeFunction } from "./scripts.js";
import { markFailed } from "./tracking.js";

/**
 * Tokens this process is launching right now: their runners are `transferred` on purpose, and no
 * resolution must revoke them.
 */
export const launchingTokens = new Set<string>();

/** The record of a submission's launch, in the Dataset's remote folder. */
export const launchRecord = (token: string) => `launch-${token}`;

export const NODE_MISSING_EXIT = 97;
/** The launch found its record already taken: a resolving process decided it must not happen. */
export const LAUNCH_REVOKED_EXIT = 96;
/** The oldest Node.js the remote runtime runs on. */
export const MIN_NODE_MAJOR = 18;
/** How long a resolving process waits for a launch that is still going (sbatch can be slow), s. */
export const LAUNCH_SETTLE_S = 60;

/**
 * One command that checks node and starts, in every folder, the launch text (a detached master
 * script, or a scheduler submission script) so the runs go on when the driver goes away. Each
 * folder's output lines are prefixed with `@<folder index>`.
 *
 * The whole command is one shell function called on the last line, so a script cut short on its
 * way (the driver killed while sending it) is never run in part; hang-ups and broken pipes are
 * ignored, so a driver that dies once the launch started does not stop it half-way.
 */
export function launchScript(
  nodeCommand: string,
  folders: { dir: string; body: string; token: string }[],
  checkNode: boolean,
): string {
  return [
    "remoterun_launch() {",
    "trap '' HUP PIPE",
    "umask 077 # launch records are private to the user",
    nodeFunction(nodeCommand),
    checkNode ? nodeCheck(nodeCommand) : "",
    ...folders.map(({ dir, body, token }, i) => {
      const rec = launchRecord(token);
      return [
        `( cd -- ${q(dir)} || exit 98`,
        `if ! mkdir ${rec}; then [ -d ${rec} ] && { echo "@${i} revoked"; exit ${LAUNCH_REVOKED_EXIT}; }; exit 95; fi`,
        "(",
        body,
        `) > ${rec}/out 2> ${rec}/err < /dev/null`,
        "rc=$?",
        `echo "$rc" > ${rec}/rc.tmp && mv -f ${rec}/rc.tmp ${rec}/rc`,
        `sed 's/^/@${i} /' ${rec}/out`,
        `cat ${rec}/err >&2`,
        'exit "$rc"',
        ")",
        'rc=$?; [ "$rc" = 0 ] || exit "$rc"',
      ].join("\n");
    }),
    "}",
    "remoterun_launch",
    "",
  ].join("\n");
}

/**
 * Shell text that stops the launch (exit NODE_MISSING_EXIT, reason on stderr) when node cannot be
 * started or is older than the runtime supports. Setup lines may print chatter: the last line counts.
 */
function nodeCheck(nodeCommand: string): string {
  const shown = nodeCommand.replace(/["\\$`]/g, "\\$&");
  return [
    "v=$(run_node --version 2>/dev/null | tail -n 1)",
    `case "$v" in v[0-9]*) ;; *) echo "remoterun: cannot start node with: ${shown}" >&2; exit ${NODE_MISSING_EXIT} ;; esac`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    "m=${v#v}; m=${m%%.*}",
    `if [ "$m" -lt ${MIN_NODE_MAJOR} ]; then echo "remoterun: node $v (from: ${shown}) is too old: the remote runtime needs Node.js >= ${MIN_NODE_MAJOR}" >&2; exit ${NODE_MISSING_EXIT}; fi`,
  ].join("\n");
}

/** What became of a submission's launch in one folder, as the far side tells. */
export type LaunchOutcome =
  /** The launch never happened and now never will (or its folder is gone). */
  | { kind: "never" }
  /** The launch ran to its end with this exit code; `lines` are its output (`pid N`, `job S ID`). */
  | { kind: "launched"; exitCode: number; lines: string[] }
  /** The launch started but did not record its end in time; `lines` are what it printed so far. */
  | { kind: "unfinished"; lines: string[] };

/**
 * One command that settles the launch of each (folder, token): revokes it where it never started,
 * else waits up to `settleSeconds` for it to end and prints what it recorded. Output lines:
 * `@i never`, `@i launched RC`, `@i unfinished`, then `@i <launch output line>`.
 */
export function resolveLaunchScript(
  sources: { dir: string; token: string }[],
  settleSeconds = LAUNCH_SETTLE_S,
): string {
  const polls = Math.max(1, Math.ceil(settleSeconds * 5));
  return [
    "remoterun_resolve() {",
    "trap '' HUP PIPE",
    "umask 077",
    ...sources.map(({ dir, token }, i) => {
      const rec = launchRecord(token);
      return [
        `( cd -- ${q(dir)} 2>/dev/null || { echo "@${i} never"; exit 0; }`,
        `if mkdir ${rec} 2>/dev/null; then echo revoked > ${rec}/revoked; echo "@${i} never"; exit 0; fi`,
        `n=0; while [ ! -e ${rec}/rc ] && [ ! -e ${rec}/revoked ] && [ $n -lt ${polls} ]; do sleep 0.2; n=$((n+1)); done`,
        `if [ -e ${rec}/revoked ]; then echo "@${i} never"; exit 0; fi`,
        `if [ -e ${rec}/rc ]; then echo "@${i} launched $(cat ${rec}/rc)"; else echo "@${i} unfinished"; fi`,
        `sed 's/^/@${i} /' ${rec}/out 2>/dev/null`,
        "exit 0",
        ")",
      ].join("\n");
    }),
    "}",
    "remoterun_resolve",
    "",
  ].join("\n");
}

/** Parse the output of resolveLaunchScript for `count` sources. */
export function parseLaunchOutcomes(stdout: string, count: number): LaunchOutcome[] {
  const kinds: (LaunchOutcome | undefined)[] = Array.from({ length: count }, () => undefined);
  const lines: string[][] = Array.from({ length: count }, () => []);
  for (const raw of stdout.split("\n")) {
    const m = /^@(\d+) (.*)$/.exec(raw.trim());
    if (!m) continue;
    const i = Number(m[1]);
    if (i >= count) continue;
    const rest = m[2];
    if (kinds[i] === undefined) {
      if (rest === "never") kinds[i] = { kind: "never" };
      else if (rest === "unfinished") kinds[i] = { kind: "unfinished", lines: lines[i] };
      else {
        const l = /^launched (-?\d+)$/.exec(rest);
        if (l) kinds[i] = { kind: "launched", exitCode: Number(l[1]), lines: lines[i] };
      }
      continue;
    }
    lines[i].push(rest);
  }
  // A source the far side said nothing about is not known to have started or not: unfinished.
  return kinds.map((k, i) => k ?? { kind: "unfinished", lines: lines[i] });
}

/**
 * Give runners the ids a launch printed (`pid N` for a detached master, `job S ID` for planned job
 * S); a runner's job and array task come from its placement. Returns the job ids by planned job.
 */
export function applyLaunchLines<Args extends object, Result>(
  runners: readonly Runner<Args, Result>[],
  placements: Map<string, Placement>,
  lines: readonly string[],
  scheduler: Computer | undefined,
): Map<number, string> {
  const jobs = new Map<number, string>();
  let pid: string | undefined;
  for (const line of lines) {
    const m = /^(pid|job) (\S+)(?: (\S+))?$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === "pid") pid = m[2];
    else if (scheduler) jobs.set(Number(m[2]), scheduler.parseJobId(m[3] ?? ""));
  }
  for (const r of runners) {
    if (pid !== undefined) {
      r.jobId = `pid:${pid}`;
      continue;
    }
    const p = placements.get(r.name);
    const id = p?.job === undefined ? undefined : jobs.get(p.job);
    if (id !== undefined) r.jobId = p?.task !== undefined ? `${id}_${p.task}` : id;
  }
  return jobs;
}

/** The launch output lines of folder `i` (`@i ...`), without the prefix. */
export function linesOf(stdout: string, i: number): string[] {
  const prefix = `@${i} `;
  return stdout
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

/**
 * Settle every runner left `transferred` by a process that stopped around its launch (one remote
 * command for all): runners whose launch provably never happened go back to `created` (the next
 * run() submits them, under a new token); runners whose launch happened are `submitted` with the
 * ids it recorded; runners of a launch that started and left no end are failed, since whether they
 * started cannot be told (retryFailed() submits them again, deliberately).
 */
export async function settleLaunches<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
): Promise<void> {
  const pending = ds.runners.filter(
    (r) => r.state === "transferred" && r.token !== undefined && !launchingTokens.has(r.token),
  );
  if (pending.length === 0) return;
  const groups = new Map<string, { dir: string; token: string; runners: Runner<Args, Result>[] }>();
  const orphans: Runner<Args, Result>[] = [];
  for (const r of pending) {
    const p = ds.placements.get(r.name);
    if (!p) {
      orphans.push(r);
      continue;
    }
    const dir = p.launch ?? `${p.remoteRoot}/${ds.folder}`;
    const key = `${dir}\0${r.token}`;
    if (!groups.has(key)) groups.set(key, { dir, token: r.token!, runners: [] });
    groups.get(key)!.runners.push(r);
  }
  const list = [...groups.values()];
  const outcomes = list.length
    ? parseLaunchOutcomes((await ds.connection.exec(resolveLaunchScript(list))).stdout, list.length)
    : [];
  const now = Date.now();
  for (const r of orphans) backToCreated(r, now);
  let again = orphans.length;
  let inFlight = 0;
  let unknown = 0;
  list.forEach((g, i) => {
    const o = outcomes[i];
    if (o.kind === "never") {
      for (const r of g.runners) backToCreated(r, now);
      again += g.runners.length;
      return;
    }
    applyLaunchLines(g.runners, ds.placements, o.lines, ds.scheduler);
    for (const r of g.runners) {
      if (o.kind === "launched" && (o.exitCode === 0 || r.jobId !== undefined)) {
        r.setState("submitted", now);
        inFlight++;
      } else if (o.kind === "launched") {
        backToCreated(r, now);
        again++;
      } else if (r.jobId !== undefined) {
        r.setState("submitted", now);
        inFlight++;
      } else {
        markFailed(
          r,
          `the launch of submission ${g.token} started but did not finish (the process that ran it stopped), so whether ${r.name} started cannot be told; retryFailed() submits it again`,
        );
        unknown++;
      }
    }
  });
  ds.saveRunners(pending);
  if (inFlight) ds.log(1, `${inFlight} runner(s) were launched before the last process stopped: in flight`);
  if (again) ds.log(1, `${again} runner(s) were never launched: they will be submitted again`);
  if (unknown)
    ds.log(1, `${unknown} runner(s) of an interrupted launch failed: it cannot be told whether they started`);
}

function backToCreated<Args extends object, Result>(r: Runner<Args, Result>, now: number) {
  r.jobId = undefined;
  r.setState("created", now);
}
