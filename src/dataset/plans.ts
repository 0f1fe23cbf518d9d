import type { Computer, PlannedSubmission, SubmitOptions } from "../computer/index.js";
import type { Runner } from "../runner/index.js";
import { jobScriptFile, resultFile } from "./layout.js";
import { scriptJobScript } from "./script.js";
import { jobScript, RUNNERS_FAILED_EXIT } from "./scripts.js";
import type { Stager } from "./stage.js";

/** One (localDir, remoteDir) pair of a submission: one transfer, one part of the launch command. */
export interface Folder<Args extends object, Result> {
  localRoot: string;
  remoteRoot: string;
  runners: Runner<Args, Result>[];
  stager: Stager;
  /** Jobs planned for a scheduler (with their ids once submitted). */
  plans?: (PlannedSubmission & { jobId?: string })[];
  /** Shell text that starts this folder's runs ("" when an upstream's master starts them). */
  body: string;
}

/** What a downstream Dataset needs to know to follow an upstream submission. */
export interface UpstreamSubmission {
  token: string;
  remoteRoot: string;
  /** The upstream's remote Dataset folder, which holds the submission's launch record. */
  launchDir: string;
  /** The upstream's jobs, to mirror them one to one with dependencies. */
  jobs?: { runnerNames: string[][]; array: boolean; jobId: string }[];
  byPosition: Map<number, { name: string }>;
  /** Where the runner at this position finds its upstream result. */
  link(position: number): { file: string; token: string; name: string };
}

/** "123_4" → "123" (array task → array job); "pid:42" and plain ids unchanged. */
export function baseJobId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  return id.startsWith("pid:") ? id : id.replace(/_\d+$/, "");
}

/**
 * Plan a downstream submission as the mirror image of its upstream's jobs: task t of job s runs the
 * runners whose upstream runners ran in task t of upstream job s, so that per-task dependencies hold.
 */
export function mirrorPlans<Args extends object, Result>(
  upstream: UpstreamSubmission,
  runners: Runner<Args, Result>[],
  positions: Map<string, number>,
  computer: Computer,
): PlannedSubmission[] {
  const upPosition = new Map([...upstream.byPosition].map(([pos, r]) => [r.name, pos]));
  const downAt = new Map(runners.map((r) => [positions.get(r.name)!, r]));
  return upstream.jobs!.map((job) => {
    const runnerNames = job.runnerNames.map((names) =>
      names.map((n) => downAt.get(upPosition.get(n) ?? -1)?.name).filter((n): n is string => n !== undefined),
    );
    const first = runners.find((r) => runnerNames.some((g) => g.includes(r.name)));
    const header = first ? computer.render(first.derivedRunArgs, first.name) : computer.render({}, undefined);
    return { header, runnerNames, array: job.array };
  });
}

/** Write the job scripts of every planned job and return the text that submits them all. */
export function stageJobs<Args extends object, Result>(
  f: Folder<Args, Result>,
  token: string,
  upstream: UpstreamSubmission | undefined,
  on: {
    scheduler: Computer;
    nodeCommand: string;
    datasetName: string;
    script?: { asynchronous: boolean };
    /** Receives each job's submit command (a dry run's record). */
    commands?: string[];
  },
): string {
  const { scheduler } = on;
  let offset = 0;
  const lines: string[] = [];
  f.plans!.forEach((plan, s) => {
    const count = plan.runnerNames.length;
    const script = jobScriptFile(token, s);
    const groupExpr = plan.array ? `$((${offset} + ${scheduler.arrayIndexExpr}))` : String(offset);
    const groups = f.plans!.reduce((n, p) => n + p.runnerNames.length, 0);
    f.stager.put(
      script,
      on.script
        ? scriptJobScript({
            header: plan.header,
            token,
            groupExpr,
            groups,
            asynchronous: on.script.asynchronous,
            runnersFailedExit: RUNNERS_FAILED_EXIT,
          })
        : jobScript({ header: plan.header, token, nodeCommand: on.nodeCommand, groupExpr, groups }),
      0o700,
    );
    const pattern = plan.array ? scheduler.outputIndexPattern : undefined;
    const log = `job-${token}-${s}${pattern ? `-${pattern}` : ""}`;
    const up = upstream?.jobs?.[s];
    const opts: SubmitOptions = {
      script,
      jobName: `${on.datasetName}-${s}`,
      stdout: `${log}.out`,
      stderr: `${log}.err`,
      ...(plan.array ? { arrayCount: count } : {}),
      ...(up ? (up.array && plan.array ? { afterCorresponding: up.jobId } : { afterOk: [up.jobId] }) : {}),
    };
    const snippet = scheduler.submitSnippet(opts);
    on.commands?.push(snippet);
    lines.push(`id=$( ${snippet} ) || exit $?`, `echo "job ${s} $id"`);
    offset += count;
  });
  return lines.join("\n");
}

/** What a downstream Dataset needs to follow this submission (`all`: every runner of the Dataset). */
export function upstreamInfo<Args extends object, Result>(
  token: string,
  runners: Runner<Args, Result>[],
  folders: Map<string, Folder<Args, Result>>,
  all: readonly Runner<Args, Result>[],
  folder: string,
): UpstreamSubmission {
  const positions = new Map(all.map((r, i) => [r.name, i]));
  const byPosition = new Map(runners.map((r) => [positions.get(r.name)!, r]));
  const first = [...folders.values()][0];
  const plans = first.plans;
  return {
    token,
    remoteRoot: first.remoteRoot,
    launchDir: `${first.remoteRoot}/${folder}`,
    jobs: plans?.map((p) => ({ runnerNames: p.runnerNames, array: p.array, jobId: p.jobId ?? "" })),
    byPosition,
    link: (downPosition: number) => {
      const upName = byPosition.get(downPosition)?.name ?? `runner at position ${downPosition}`;
      return { file: `../${folder}/${resultFile(upName)}`, token, name: upName };
    },
  };
}
