/**
 * PBS Professional / OpenPBS ("pro") and Torque ("torque"), both submitted with `qsub`.
 * Arrays: Pro `-J 0-N` (index in $PBS_ARRAY_INDEX, subjob ids `123[4].server`), Torque `-t 0-N`
 * ($PBS_ARRAYID, same id shape). Array task keys are normalised to `<array id>_<index>`, e.g.
 * `123[].server_4`, so they match `${parseJobId(...)}_${i}`.
 * Neither has per-task array dependencies: `afterCorresponding` falls back to `afterok` on the
 * whole upstream array (documented weaker ordering: task i starts when ALL upstream tasks succeeded).
 * Status: `qstat -f` (Pro with `-x` for finished jobs, `-t` for subjobs; Torque keeps finished
 * jobs as state C for keep_completed seconds).
 */
import { SchedulerError } from "../../shared/errors.js";
import { shellJoin, shellQuote } from "../../shared/quote.js";
import type { SchedulerJobState, SubmitOptions } from "../types.js";
import { checkJobIds, checkSubmitOptions, dependencyIds, putState, type SchedulerDriver } from "./driver.js";

export type PbsFlavour = "pro" | "torque";

/** "123[4].server" → "123[].server_4"; other ids unchanged. */
function keyOf(id: string): string {
  const m = /^(\d+)\[(\d+)\](.*)$/.exec(id);
  return m ? `${m[1]}[]${m[3]}_${m[2]}` : id;
}

/** Parse `qstat -f` blocks into attribute maps (continuation lines are folded away). */
export function parseQstatFull(output: string): { id: string; attrs: Map<string, string> }[] {
  const jobs: { id: string; attrs: Map<string, string> }[] = [];
  let current: { id: string; attrs: Map<string, string> } | undefined;
  for (const line of String(output).split(/\r?\n/)) {
    const head = /^Job Id:\s*(\S+)/.exec(line);
    if (head) {
      current = { id: head[1], attrs: new Map() };
      jobs.push(current);
      continue;
    }
    const attr = /^\s+([A-Za-z_][\w.]*)\s=\s?(.*)$/.exec(line);
    if (current && attr) current.attrs.set(attr[1].toLowerCase(), attr[2].trim());
  }
  return jobs;
}

function pbsState(attrs: Map<string, string>): SchedulerJobState {
  const raw = attrs.get("job_state") ?? "";
  const exit = attrs.get("exit_status");
  const comment = attrs.get("comment");
  switch (raw) {
    case "Q":
    case "H":
    case "W":
    case "T":
    case "M":
      return comment ? { state: "pending", raw, reason: comment } : { state: "pending", raw };
    case "R":
    case "E":
    case "B":
    case "S":
    case "U":
      return { state: "running", raw };
    case "F":
    case "C":
    case "X": {
      if (exit === "0") return { state: "completed", raw };
      const why =
        exit === undefined
          ? "finished without an exit status (deleted before it ran?)"
          : `Exit_status=${exit}`;
      return { state: "failed", raw, reason: comment ? `${why}: ${comment}` : why };
    }
    default:
      return { state: "unknown", raw };
  }
}

export class PbsDriver implements SchedulerDriver {
  readonly submitter = "qsub" as const;
  readonly arrayIndexExpr: string;
  readonly outputIndexPattern: string | undefined;

  constructor(readonly flavour: PbsFlavour = "pro") {
    this.arrayIndexExpr = flavour === "pro" ? "$PBS_ARRAY_INDEX" : "$PBS_ARRAYID";
    // Torque appends "-<index>" to the output file names of array jobs itself
    this.outputIndexPattern = flavour === "pro" ? "^array_index^" : undefined;
  }

  submitSnippet(opts: SubmitOptions): string {
    checkSubmitOptions(opts);
    const args = ["qsub", "-N", opts.jobName, "-o", opts.stdout, "-e", opts.stderr];
    if (opts.arrayCount !== undefined)
      args.push(this.flavour === "pro" ? "-J" : "-t", `0-${opts.arrayCount - 1}`);
    const deps = dependencyIds(opts, true);
    if (deps.length) {
      // Torque needs afterokarray for array jobs (ids with "[]"); Pro accepts afterok for both
      const torqueArray = this.flavour === "torque" && deps.every((d) => d.includes("[]"));
      args.push("-W", `depend=${torqueArray ? "afterokarray" : "afterok"}:${deps.join(":")}`);
    }
    args.push(opts.script);
    return shellJoin(args);
  }

  parseJobId(stdout: string): string {
    const text = String(stdout);
    const id = /^\s*(\d+(?:\[\d*\])?(?:\.[A-Za-z0-9._-]+)?)\s*$/m.exec(text)?.[1];
    if (!id) throw new SchedulerError(`cannot find a PBS job id in the qsub output: ${text.trim()}`, text);
    return id;
  }

  statusScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    const flags = this.flavour === "pro" ? "-x -f -t" : "-f -t";
    // unknown ids make qstat exit non-zero after printing the known ones: not an error here
    return `qstat ${flags} ${jobIds.map(shellQuote).join(" ")} 2>/dev/null || true`;
  }

  parseStatus(output: string): Map<string, SchedulerJobState> {
    const map = new Map<string, SchedulerJobState>();
    for (const job of parseQstatFull(output)) putState(map, keyOf(job.id), pbsState(job.attrs));
    return map;
  }

  cancelScript(jobIds: readonly string[]): string {
    checkJobIds(jobIds);
    if (jobIds.length === 0) return "true";
    return `qdel ${jobIds.map(shellQuote).join(" ")} || true`;
  }
}
