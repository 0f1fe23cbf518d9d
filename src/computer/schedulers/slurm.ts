/**
 * Slurm. Submission with `sbatch --parsable`; status from three sources in one snippet:
 * `squeue -r` (live jobs, array tasks one per line), `scontrol show job -o` (finished jobs stay for
 * MinJobAge, works without slurmdbd) and `sacct` when accounting exists (silent otherwise).
 */
import { SchedulerError } from "../../shared/errors.js";
import { shellJoin, shellQuote } from "../../shared/quote.js";
import type { SchedulerJobState, SubmitOptions } from "../types.js";
import {
  checkJobIds,
  checkSubmitOptions,
  expandIndices,
  lines,
  pipefail,
  putState,
  type SchedulerDriver,
} from "./driver.js";

const PENDING = new Set([
  "PENDING",
  "CONFIGURING",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESV_DEL_HOLD",
]);
const RUNNING = new Set([
  "RUNNING",
  "COMPLETING",
  "SUSPENDED",
  "STOPPED",
  "SIGNALING",
  "STAGE_OUT",
  "RESIZING",
  "POWER_UP_NODE",
  "UPDATE_DB",
]);
const FAILED = new Set([
  "FAILED",
  "TIMEOUT",
  "CANCELLED",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
  "REVOKED",
  "SPECIAL_EXIT",
]);
/** Pending reasons that mean "never": the job will wait forever. */
const NEVER = new Set(["DependencyNeverSatisfied"]);

/** Map a Slurm state word (+ reason) to our state. `CANCELLED by 0` (sacct) counts as CANCELLED. */
export function slurmState(rawState: string, rawReason = ""): SchedulerJobState {
  const raw = rawState.trim().split(/\s+/)[0].replace(/\+$/, "");
  const reason = rawReason.trim();
  const informative = reason !== "" && reason !== "None" && reason !== "(null)";
  if (PENDING.has(raw)) {
    if (NEVER.has(reason)) return { state: "failed", raw, reason };
    return informative ? { state: "pending", raw, reason } : { state: "pending", raw };
  }
  if (RUNNING.has(raw)) return { state: "running", raw };
  if (raw === "COMPLETED") return { state: "completed", raw };
  if (FAILED.has(raw))
    // a cancelled job keeps its stale pending reason (e.g. "Priority"): report the state alone
    return { state: "failed", raw, reason: informative && raw !== "CANCELLED" ? `${raw}: ${reason}` : raw };
  return { state: "unknown", raw };
}

/** "123", "123_4", "123_[0-4%2]" → the keys "123", "123_4", "123_0".."123_4". */
function keysOf(id: string): string[] {
  const m = /^(\d+)_(.+)$/.exec(id);
  if (!m) return [id];
  if (/^\d+$/.test(m[2])) return [id];
  return expandIndices(m[2]).map((i) => `${m[1]}_${i}`);
}

function field(line: string, key: string): string | undefined {
  return new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line)?.[1];
}

export class SlurmDriver implements SchedulerDriver {
  readonly submitter = "sbatch" as const;
  readonly arrayIndexExpr = "$SLURM_ARRAY_TASK_ID";
  readonly outputIndexPattern = "%a";

  submitSnippet(opts: SubmitOptions): string {
    checkSubmitOptions(opts);
    const args = ["sbatch", "--parsable", `--job-name=${opts.jobName}`, `--output=${opts.stdout}`];
    args.push(`--error=${opts.stderr}`);
    if (opts.arrayCount !== undefined) args.push(`--array=0-${opts.arrayCount - 1}`);
    const deps: string[] = [];
    if (opts.afterOk?.length) deps.push(`afterok:${opts.afterOk.join(":")}`);
    if (opts.afterCorresponding) deps.push(`aftercorr:${opts.afterCorresponding}`);
    if (deps.length) args.push(`--dependency=${deps.join(",")}`);
    args.push(opts.script);
    // --parsable prints "ID" or "ID;cluster"
    return pipefail(`${shellJoin(args)} | cut -d';' -f1`);
  }

  parseJobId(stdout: string): string {
    const text = String(stdout);
    const id = /Submitted batch job (\d+)/.exec(text)?.[1] ?? /^\s*(\d+)(?:;\S+)?\s*$/m.exec(text)?.[1];
    if (!id)
      throw new SchedulerError(`cannot find a Slurm job id in the sbatch output: ${text.trim()}`, text);
    return id;
  }

  statusScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    const list = shellQuote(jobIds.join(","));
    const each = jobIds.map(shellQuote).join(" ");
    return [
      // squeue fails when none of the ids is known any more: that is not an error here
      `squeue -h -a -r -j ${list} -o 'Q|%i|%T|%r' 2>/dev/null || true`,
      `for id in ${each}; do scontrol show job -o "$id" 2>/dev/null || true; done`,
      // without slurmdbd sacct prints nothing on stdout and fails: ignored
      `sacct -n -P -X -j ${list} -o JobID,State,Reason 2>/dev/null | sed 's/^/A|/' || true`,
    ].join("\n");
  }

  parseStatus(output: string): Map<string, SchedulerJobState> {
    const map = new Map<string, SchedulerJobState>();
    for (const line of lines(String(output))) {
      if (line.startsWith("Q|") || line.startsWith("A|")) {
        const [, id, state, ...reason] = line.split("|");
        if (!id || !state) continue;
        for (const key of keysOf(id.trim())) putState(map, key, slurmState(state, reason.join("|")));
        continue;
      }
      const jobId = field(line, "JobId");
      const state = field(line, "JobState");
      if (!jobId || !state) continue;
      const result = slurmState(state, field(line, "Reason") ?? "");
      const arrayJob = field(line, "ArrayJobId");
      const task = field(line, "ArrayTaskId");
      const keys =
        arrayJob && task && task !== "N/A" ? expandIndices(task).map((i) => `${arrayJob}_${i}`) : [jobId];
      for (const key of keys) putState(map, key, result);
    }
    return map;
  }

  cancelScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    return `scancel ${jobIds.map(shellQuote).join(" ")} || true`;
  }
}
