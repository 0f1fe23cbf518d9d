/**
 * IBM Spectrum LSF, submitted with `bsub < script` (directives are only read from stdin scripts).
 * Arrays are 1-based (`-J "name[1-N]"`, $LSB_JOBINDEX): arrayIndexExpr subtracts one and
 * parseStatus reports element e under `<id>_<e-1>`. `%I` in -o/-e paths is the 1-based index.
 * Dependencies: `-w "done(a)&&done(b)"`; no one-to-one array dependency is used, so
 * `afterCorresponding` waits for the whole upstream array (weaker ordering, documented).
 */
import { SchedulerError } from "../../shared/errors.js";
import { shellJoin, shellQuote } from "../../shared/quote.js";
import type { SchedulerJobState, SubmitOptions } from "../types.js";
import {
  checkJobIds,
  checkSubmitOptions,
  dependencyIds,
  lines,
  putState,
  type SchedulerDriver,
} from "./driver.js";

const BJOBS_FORMAT = "jobid jobindex stat exit_code exit_reason pend_reason delimiter='|'";

export function lsfState(
  raw: string,
  exitCode: string,
  exitReason: string,
  pendReason: string,
): SchedulerJobState {
  const given = (s: string) => s !== "" && s !== "-";
  switch (raw) {
    case "PEND":
    case "PSUSP":
      if (/never satisfied|dependency condition invalid/i.test(pendReason))
        return { state: "failed", raw, reason: `DependencyNeverSatisfied: ${pendReason}` };
      return given(pendReason) ? { state: "pending", raw, reason: pendReason } : { state: "pending", raw };
    case "RUN":
    case "USUSP":
    case "SSUSP":
    case "PROV":
    case "WAIT":
      return { state: "running", raw };
    case "DONE":
      return { state: "completed", raw };
    case "EXIT":
      return {
        state: "failed",
        raw,
        reason: given(exitReason) ? exitReason : given(exitCode) ? `exit code ${exitCode}` : raw,
      };
    default:
      return { state: "unknown", raw };
  }
}

export class LsfDriver implements SchedulerDriver {
  readonly submitter = "bsub" as const;
  readonly arrayIndexExpr = "$((LSB_JOBINDEX-1))";
  readonly outputIndexPattern = "%I";

  submitSnippet(opts: SubmitOptions): string {
    checkSubmitOptions(opts);
    if (/[[\]]/.test(opts.jobName))
      throw new SchedulerError(`an LSF job name cannot contain [ or ]: ${opts.jobName}`);
    const name = opts.arrayCount !== undefined ? `${opts.jobName}[1-${opts.arrayCount}]` : opts.jobName;
    const args = ["bsub", "-J", name, "-o", opts.stdout, "-e", opts.stderr];
    const deps = dependencyIds(opts, true);
    if (deps.length) args.push("-w", deps.map((id) => `done(${id})`).join("&&"));
    const submit = `${shellJoin(args)} < ${shellQuote(opts.script)}`;
    return `(set -o pipefail; ${submit} | sed -n 's/^Job <\\([0-9]*\\)>.*/\\1/p')`;
  }

  parseJobId(stdout: string): string {
    const text = String(stdout);
    const id = /Job <(\d+)> is submitted/.exec(text)?.[1] ?? /^\s*(\d+)\s*$/m.exec(text)?.[1];
    if (!id) throw new SchedulerError(`cannot find an LSF job id in the bsub output: ${text.trim()}`, text);
    return id;
  }

  statusScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    return `bjobs -a -noheader -o ${shellQuote(BJOBS_FORMAT)} ${jobIds.map(shellQuote).join(" ")} 2>/dev/null || true`;
  }

  parseStatus(output: string): Map<string, SchedulerJobState> {
    const map = new Map<string, SchedulerJobState>();
    for (const line of lines(String(output))) {
      const [id, index, stat, exitCode = "", exitReason = "", ...pend] = line.split("|").map((s) => s.trim());
      if (!/^\d+$/.test(id ?? "") || !stat) continue;
      const key = index && /^\d+$/.test(index) && index !== "0" ? `${id}_${Number(index) - 1}` : id;
      putState(map, key, lsfState(stat, exitCode, exitReason, pend.join("|")));
    }
    return map;
  }

  cancelScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    return `bkill ${jobIds.map(shellQuote).join(" ")} || true`;
  }
}
