/**
 * No scheduler: the script runs in the background, detached in its own session (`setsid`), so it
 * survives the end of the SSH command; the job id is the pid, which is also the process-group id.
 * Arrays run all tasks in parallel under one detached supervisor ($REMOTERUN_ARRAY_INDEX holds the
 * 0-based index; `%a` in stdout/stderr paths is replaced by it). Dependencies wait for the given
 * pids to exit (a pid's exit status cannot be read by a stranger process, so "after ok" is only
 * "after"; the runner manifest tells success). The status is RUNNING while the pid exists, else
 * EXITED (reported as completed: success or failure is read from the runners' own state files).
 */
import { SchedulerError } from "../../shared/errors.js";
import { shellQuote } from "../../shared/quote.js";
import type { SchedulerJobState, SubmitOptions } from "../types.js";
import { checkJobIds, checkSubmitOptions, dependencyIds, lines, type SchedulerDriver } from "./driver.js";

const SUPERVISOR = [
  'for p in $REMOTERUN_WAIT_PIDS; do while kill -0 "$p" 2>/dev/null; do sleep 1; done; done',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a JS template
  'for i in $(seq 0 $(($REMOTERUN_ARRAY_COUNT-1))); do o="${1//%a/$i}"; e="${2//%a/$i}";',
  ' REMOTERUN_ARRAY_INDEX=$i bash "$0" >"$o" 2>"$e" </dev/null & done; wait',
].join("\n");

export class BashDriver implements SchedulerDriver {
  readonly submitter = "bash" as const;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a JS template
  readonly arrayIndexExpr = "${REMOTERUN_ARRAY_INDEX:-0}";
  readonly outputIndexPattern = "%a";

  submitSnippet(opts: SubmitOptions): string {
    checkSubmitOptions(opts);
    const deps = dependencyIds(opts, true);
    const [script, out, err] = [opts.script, opts.stdout, opts.stderr].map(shellQuote);
    if (opts.arrayCount === undefined && deps.length === 0)
      return `setsid nohup bash ${script} >${out} 2>${err} </dev/null & echo $!`;
    const env = `REMOTERUN_WAIT_PIDS=${shellQuote(deps.join(" "))} REMOTERUN_ARRAY_COUNT=${opts.arrayCount ?? 1}`;
    return `${env} setsid nohup bash -c ${shellQuote(SUPERVISOR)} ${script} ${out} ${err} >/dev/null 2>&1 </dev/null & echo $!`;
  }

  parseJobId(stdout: string): string {
    const text = String(stdout);
    const pids = [...text.matchAll(/^\s*(\d+)\s*$/gm)];
    if (pids.length === 0)
      throw new SchedulerError(`cannot find a process id in the output: ${text.trim()}`, text);
    return pids[pids.length - 1][1];
  }

  statusScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    for (const id of jobIds) if (!/^\d+$/.test(id)) throw new SchedulerError(`not a process id: ${id}`);
    return [
      `for p in ${jobIds.join(" ")}; do`,
      // a zombie (exited, parent gone, not yet reaped by a container's init) has exited
      '  s=$(ps -o stat= -p "$p" 2>/dev/null || { kill -0 "$p" 2>/dev/null && echo R; })',
      '  case "$s" in "" | Z*) echo "$p EXITED" ;; *) echo "$p RUNNING" ;; esac',
      "done",
    ].join("\n");
  }

  parseStatus(output: string): Map<string, SchedulerJobState> {
    const map = new Map<string, SchedulerJobState>();
    for (const line of lines(String(output))) {
      const m = /^(\d+) (RUNNING|EXITED)$/.exec(line.trim());
      if (!m) continue;
      map.set(m[1], m[2] === "RUNNING" ? { state: "running", raw: m[2] } : { state: "completed", raw: m[2] });
    }
    return map;
  }

  cancelScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    for (const id of jobIds) if (!/^\d+$/.test(id)) throw new SchedulerError(`not a process id: ${id}`);
    return `for p in ${jobIds.join(" ")}; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done; true`;
  }
}
