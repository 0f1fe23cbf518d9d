/** What each scheduler knows: how to submit, poll and cancel, as text in and text out. */
import { InvalidArgumentError } from "../../shared/errors.js";
import type { SchedulerJobState, SubmitOptions, Submitter } from "../types.js";

export interface SchedulerDriver {
  readonly submitter: Submitter;
  /** Shell expression giving the 0-based index of the array task. */
  readonly arrayIndexExpr: string;
  /**
   * Text that the scheduler replaces by the array index in stdout/stderr paths, if any
   * (Slurm `%a`, PBS Pro `^array_index^`, SGE `$TASK_ID` (1-based), LSF `%I` (1-based), bash `%a`).
   */
  readonly outputIndexPattern: string | undefined;
  submitSnippet(opts: SubmitOptions): string;
  parseJobId(stdout: string): string;
  statusScript(jobIds: readonly string[]): string;
  parseStatus(output: string): Map<string, SchedulerJobState>;
  cancelScript(jobIds: readonly string[]): string;
}

/** Check SubmitOptions before rendering anything from them. */
export function checkSubmitOptions(opts: SubmitOptions): void {
  if (opts === null || typeof opts !== "object")
    throw new InvalidArgumentError("submit options", opts, "an object");
  for (const key of ["script", "jobName", "stdout", "stderr"] as const)
    if (typeof opts[key] !== "string" || opts[key] === "" || /[\0\n]/.test(opts[key]))
      throw new InvalidArgumentError(key, opts[key], "a non-empty one-line string");
  if (opts.arrayCount !== undefined && (!Number.isInteger(opts.arrayCount) || opts.arrayCount < 1))
    throw new InvalidArgumentError("arrayCount", opts.arrayCount, "a positive integer");
  if (opts.afterOk !== undefined) checkJobIds(opts.afterOk, "afterOk");
  if (opts.afterCorresponding !== undefined) checkJobIds([opts.afterCorresponding], "afterCorresponding");
}

/** Job ids end up in shell text and scheduler option syntax: allow only the characters ids use. */
export function checkJobIds(jobIds: readonly string[], argument = "jobIds"): void {
  if (!Array.isArray(jobIds)) throw new InvalidArgumentError(argument, jobIds, "an array of job ids");
  for (const id of jobIds)
    if (typeof id !== "string" || !/^[A-Za-z0-9._\-[\]@]+$/.test(id))
      throw new InvalidArgumentError(argument, id, "a job id (letters, digits and . _ - [ ] @)");
}

/** All dependencies of a submission: afterOk ids plus the afterCorresponding id (when unsupported). */
export function dependencyIds(opts: SubmitOptions, includeCorresponding: boolean): string[] {
  const ids = [...(opts.afterOk ?? [])];
  if (includeCorresponding && opts.afterCorresponding) ids.push(opts.afterCorresponding);
  return ids;
}

/** Wrap a pipeline so that it fails when the submit command fails (subshell: no leak of pipefail). */
export function pipefail(pipeline: string): string {
  return `(set -o pipefail; ${pipeline})`;
}

/**
 * Expand an index list such as "0-4", "0-9%2", "1-10:1", "0,3,5-6", "[0-4]" into numbers.
 * Returns [] for text that is not an index list.
 */
export function expandIndices(text: string): number[] {
  const list = text.replace(/^\[|\]$/g, "").replace(/%\d+$/, "");
  const out: number[] = [];
  for (const part of list.split(",")) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) return [];
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    const step = m[3] === undefined ? 1 : Math.max(1, Number(m[3]));
    for (let i = start; i <= end; i += step) out.push(i);
  }
  return out;
}

const TERMINAL = new Set(["completed", "failed"]);

/**
 * Record a state; when a job appears twice in one status output (live listing then history), a
 * finished state beats a live one and otherwise the later line wins.
 */
export function putState(map: Map<string, SchedulerJobState>, id: string, state: SchedulerJobState): void {
  const known = map.get(id);
  if (known && TERMINAL.has(known.state) && !TERMINAL.has(state.state)) return;
  map.set(id, state);
}

export function lines(output: string): string[] {
  return output.split(/\r?\n/).filter((l) => l.trim() !== "");
}
