import { describe, expect, it } from "vitest";
import { type DryRun, dryRunSummary, someNames } from "./dryrun.js";

const names = Array.from({ length: 8 }, (_, i) => `runner-${i}`);

function dry(commands: string[]): DryRun {
  const dir = "/l/ds-1/dry-run-t";
  return {
    runners: names,
    submissions: [
      {
        dataset: "ds",
        token: "t",
        dir,
        runners: names,
        connection: "host",
        scheduler: "slurm",
        transfer: { localDir: "/l", remoteDir: "r", copies: `${dir}/files`, files: ["ds-1/a", "ds-1/b"] },
        commands,
        launchScript: `${dir}/launch.sh`,
        jobScripts: commands.map((_, i) => `${dir}/files/ds-1/job-t-${i}.sh`),
        masterScript: undefined,
        files: [],
      },
    ],
  };
}

describe("dry-run summary", () => {
  it("names the first few, or all", () => {
    expect(someNames(names, false)).toBe("runner-0, runner-1, runner-2, runner-3, runner-4, … (8 in all)");
    expect(someNames(names, true)).toBe(names.join(", "));
    expect(someNames(names.slice(0, 2), false)).toBe("runner-0, runner-1");
  });

  it("gives counts, paths and the first commands; everything when asked", () => {
    const cmds = ["sbatch a", "sbatch b", "sbatch c", "sbatch d"];
    const short = dryRunSummary("ds", dry(cmds), 2, false).join("\n");
    expect(short).toContain("dry run of ds: 8 runner(s) would be submitted: runner-0");
    expect(short).toContain("; 2 skipped");
    expect(short).toContain("host:r through slurm: /l/ds-1/dry-run-t");
    expect(short).toContain("transfer: 2 file(s), listed in /l/ds-1/dry-run-t/transfer.txt");
    expect(short).toContain("launch script: /l/ds-1/dry-run-t/launch.sh");
    expect(short).toContain("$ sbatch c");
    expect(short).not.toContain("$ sbatch d");
    expect(short).toContain("… 1 more in /l/ds-1/dry-run-t/commands.txt");
    expect(short).not.toContain("ds-1/a\n");
    const all = dryRunSummary("ds", dry(cmds), 0, true).join("\n");
    expect(all).toContain("$ sbatch d");
    expect(all).toContain("runner-7");
    expect(all).toMatch(/^ {6}ds-1\/a$/m);
    expect(all).not.toContain("skipped");
  });

  it("says when nothing would be submitted", () => {
    const none = dryRunSummary("ds", { runners: [], submissions: [] }, 3, false);
    expect(none).toEqual([
      "dry run of ds: 0 runner(s) would be submitted; 3 skipped",
      "nothing was transferred, submitted or recorded",
    ]);
  });
});
