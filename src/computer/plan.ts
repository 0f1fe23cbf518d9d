/**
 * Packing runners into submissions (pure). Runners whose rendered headers are identical share
 * resources: they are chunked by `runnersPerJob` into jobs, and a group of more than one job is ONE
 * array submission (200 runners → one array of 200 tasks; runnersPerJob 50 → 4 tasks).
 * Groups keep the order of their first runner; runners keep their order inside a group.
 */
import { InvalidArgumentError } from "../shared/errors.js";
import type { Computer } from "./computer.js";

export interface PlannedRunner {
  name: string;
  values: Readonly<Record<string, unknown>>;
}

export interface PlannedSubmission {
  /** The rendered job-script header shared by every runner of this submission. */
  header: string;
  /** Runner names per job (per array task when `array`). */
  runnerNames: string[][];
  /** True when submitted as one array with `runnerNames.length` tasks. */
  array: boolean;
}

export function planJobs(
  runners: readonly PlannedRunner[],
  options: { runnersPerJob?: number; computer: Computer },
): PlannedSubmission[] {
  if (!Array.isArray(runners)) throw new InvalidArgumentError("runners", runners, "an array");
  const perJob = options?.runnersPerJob ?? 1;
  if (!Number.isInteger(perJob) || perJob < 1)
    throw new InvalidArgumentError("runnersPerJob", perJob, "a positive integer");
  const groups = new Map<string, string[]>();
  for (const runner of runners) {
    const header = options.computer.render(runner.values, runner.name); // TemplateError names the runner
    const names = groups.get(header);
    if (names) names.push(runner.name);
    else groups.set(header, [runner.name]);
  }
  return [...groups].map(([header, names]) => {
    const runnerNames: string[][] = [];
    for (let i = 0; i < names.length; i += perJob) runnerNames.push(names.slice(i, i + perJob));
    return { header, runnerNames, array: runnerNames.length > 1 };
  });
}
