/**
 * (Sun/Son of/Univa) Grid Engine, submitted with `qsub -terse`.
 * Array tasks are 1-based in SGE (`-t 1-N`, $SGE_TASK_ID): arrayIndexExpr subtracts one and
 * parseStatus reports task t under the 0-based key `<id>_<t-1>`. In -o/-e paths `$TASK_ID` is
 * the 1-based number.
 * Dependencies: `-hold_jid` waits for the jobs to END (SGE has no "after ok"), `-hold_jid_ad`
 * pairs array tasks one to one.
 * Status: `qstat` for live jobs, `qacct -j` for jobs qstat no longer lists.
 */
import { SchedulerError } from "../../shared/errors.js";
import { shellJoin, shellQuote } from "../../shared/quote.js";
import type { SchedulerJobState, SubmitOptions } from "../types.js";
import {
  checkJobIds,
  checkSubmitOptions,
  expandIndices,
  lines,
  putState,
  type SchedulerDriver,
} from "./driver.js";

/** SGE state letters (qw, hqw, r, t, Rr, s, Eqw, dr, ...). */
export function sgeState(raw: string): SchedulerJobState {
  if (raw.includes("E")) return { state: "failed", raw, reason: `${raw}: job in error state` };
  if (raw.includes("d")) return { state: "failed", raw, reason: `${raw}: job is being deleted` };
  if (/[rtRsST]/.test(raw)) return { state: "running", raw };
  if (/[qwh]/.test(raw)) return { state: "pending", raw };
  return { state: "unknown", raw };
}

const taskKey = (job: string, task: number) => `${job}_${task - 1}`;

function parseQstatLine(line: string, map: Map<string, SchedulerJobState>): void {
  const t = line.trim().split(/\s+/);
  // job-ID prior name user state date time [queue] slots [ja-task-ID]
  if (t.length < 8 || !/^\d+$/.test(t[0]) || !/^\d+(\.\d+)?$/.test(t[1])) return;
  const rest = t.slice(7);
  let tasks: string | undefined;
  if (rest.length >= 3) tasks = rest[2];
  else if (rest.length === 2 && !rest[0].includes("@")) tasks = rest[1];
  const state = sgeState(t[4]);
  if (!tasks) {
    putState(map, t[0], state);
    return;
  }
  for (const i of expandIndices(tasks)) putState(map, taskKey(t[0], i), state);
}

function parseQacctBlock(fields: Map<string, string>, map: Map<string, SchedulerJobState>): void {
  const job = fields.get("jobnumber");
  if (!job) return;
  const task = fields.get("taskid");
  const key = task && /^\d+$/.test(task) ? taskKey(job, Number(task)) : job;
  const failed = fields.get("failed") ?? "0";
  const exit = fields.get("exit_status") ?? "0";
  if (/^0\b/.test(failed) && exit === "0") {
    putState(map, key, { state: "completed", raw: "qacct" });
    return;
  }
  const reason = /^0\b/.test(failed) ? `exit_status ${exit}` : `failed ${failed} (exit_status ${exit})`;
  putState(map, key, { state: "failed", raw: "qacct", reason });
}

export class SgeDriver implements SchedulerDriver {
  readonly submitter = "qsub" as const;
  readonly flavour = "sge" as const;
  readonly arrayIndexExpr = "$((SGE_TASK_ID-1))";
  readonly outputIndexPattern = "$TASK_ID";

  submitSnippet(opts: SubmitOptions): string {
    checkSubmitOptions(opts);
    const args = ["qsub", "-terse", "-N", opts.jobName, "-o", opts.stdout, "-e", opts.stderr];
    if (opts.arrayCount !== undefined) args.push("-t", `1-${opts.arrayCount}`);
    if (opts.afterOk?.length) args.push("-hold_jid", opts.afterOk.join(","));
    if (opts.afterCorresponding) args.push("-hold_jid_ad", opts.afterCorresponding);
    args.push(opts.script);
    // -terse prints "45" or, for arrays, "46.1-10:1"
    return `(set -o pipefail; ${shellJoin(args)} | cut -d. -f1)`;
  }

  parseJobId(stdout: string): string {
    const text = String(stdout);
    const id =
      /Your job-array (\d+)\./.exec(text)?.[1] ??
      /Your job (\d+) /.exec(text)?.[1] ??
      /^\s*(\d+)(?:\.\d+-\d+:\d+)?\s*$/m.exec(text)?.[1];
    if (!id)
      throw new SchedulerError(`cannot find a Grid Engine job id in the qsub output: ${text.trim()}`, text);
    return id;
  }

  statusScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    return [
      `q=$(qstat 2>/dev/null || true)`,
      `printf '%s\\n' "$q"`,
      `for id in ${jobIds.map(shellQuote).join(" ")}; do`,
      `  printf '%s\\n' "$q" | awk '{print $1}' | grep -qx "$id" || qacct -j "$id" 2>/dev/null || true`,
      "done",
    ].join("\n");
  }

  parseStatus(output: string): Map<string, SchedulerJobState> {
    const map = new Map<string, SchedulerJobState>();
    let acct: Map<string, string> | undefined;
    for (const line of lines(String(output))) {
      if (/^={10,}/.test(line)) {
        if (acct) parseQacctBlock(acct, map);
        acct = new Map();
        continue;
      }
      const kv = /^([a-z_]+)\s+(.*?)\s*$/.exec(line);
      if (acct && kv && !/^\s*\d+\s/.test(line)) {
        acct.set(kv[1], kv[2]);
        continue;
      }
      parseQstatLine(line, map);
    }
    if (acct) parseQacctBlock(acct, map);
    return map;
  }

  cancelScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    return `qdel ${jobIds.map(shellQuote).join(" ")} || true`;
  }
}
