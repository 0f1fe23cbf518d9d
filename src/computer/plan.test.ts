import { describe, expect, it } from "vitest";
import { InvalidArgumentError, TemplateError } from "../shared/errors.js";
import { Computer } from "./computer.js";
import { planJobs } from "./plan.js";

const slurm = Computer.slurm();
const runners = (n: number, values: Record<string, unknown> = { timeout: 60 }, prefix = "runner-") =>
  Array.from({ length: n }, (_, i) => ({ name: `${prefix}${i}`, values }));

describe("planJobs", () => {
  it("200 runners sharing resources become one array of 200 tasks", () => {
    const plan = planJobs(runners(200), { computer: slurm });
    expect(plan).toHaveLength(1);
    expect(plan[0].array).toBe(true);
    expect(plan[0].runnerNames).toHaveLength(200);
    expect(plan[0].runnerNames[7]).toEqual(["runner-7"]);
    expect(plan[0].header).toBe("#!/bin/bash\n#SBATCH --time=00:01:00");
  });

  it("runnersPerJob 50 packs 200 runners into an array of 4 tasks", () => {
    const plan = planJobs(runners(200), { computer: slurm, runnersPerJob: 50 });
    expect(plan).toHaveLength(1);
    expect(plan[0].runnerNames.map((r) => r.length)).toEqual([50, 50, 50, 50]);
    expect(plan[0].runnerNames[1][0]).toBe("runner-50");
  });

  it("keeps a last partial chunk and a single job is not an array", () => {
    const plan = planJobs(runners(5), { computer: slurm, runnersPerJob: 2 });
    expect(plan[0].runnerNames).toEqual([["runner-0", "runner-1"], ["runner-2", "runner-3"], ["runner-4"]]);
    const single = planJobs(runners(3), { computer: slurm, runnersPerJob: 10 });
    expect(single[0]).toMatchObject({ array: false, runnerNames: [["runner-0", "runner-1", "runner-2"]] });
  });

  it("groups by rendered header, in order of first appearance", () => {
    const mixed = [
      { name: "a", values: { timeout: 60 } },
      { name: "b", values: { timeout: 120 } },
      { name: "c", values: { time: "1m" } }, // renders the same as timeout 60
      { name: "d", values: { timeout: 120, qos: "x" } },
    ];
    const plan = planJobs(mixed, { computer: slurm });
    expect(plan.map((p) => p.runnerNames.flat())).toEqual([["a", "c"], ["b"], ["d"]]);
    expect(plan.map((p) => p.array)).toEqual([true, false, false]);
  });

  it("render errors carry the runner name", () => {
    const bad = [...runners(2), { name: "bad-one", values: { nodes: -1 } }];
    expect(() => planJobs(bad, { computer: slurm })).toThrow(TemplateError);
    expect(() => planJobs(bad, { computer: slurm })).toThrow(/bad-one/);
  });

  it("validates runnersPerJob", () => {
    expect(() => planJobs(runners(1), { computer: slurm, runnersPerJob: 0 })).toThrow(InvalidArgumentError);
    expect(() => planJobs(runners(1), { computer: slurm, runnersPerJob: 1.5 })).toThrow(InvalidArgumentError);
  });

  it("no runners, no submissions", () => {
    expect(planJobs([], { computer: slurm })).toEqual([]);
  });
});
