import { describe, expect, it } from "vitest";
import { InvalidArgumentError, SchedulerError, TemplateError } from "../shared/errors.js";
import { Computer } from "./computer.js";
import { fixture } from "./fixtures.test-helper.js";

const values = JSON.parse(fixture("templates/values.json"));
const expected = (name: string) => fixture(`templates/${name}`).replace(/\n$/, "");

describe("built-in templates against hand-written fixtures", () => {
  it.each([
    ["slurm", () => Computer.slurm(), "slurm.sh"],
    ["pbs pro", () => Computer.pbs({ flavour: "pro" }), "pbs-pro.sh"],
    ["pbs torque", () => Computer.pbs({ flavour: "torque" }), "pbs-torque.sh"],
    ["sge", () => Computer.sge(), "sge.sh"],
    ["lsf", () => Computer.lsf(), "lsf.sh"],
  ])("%s", (_name, make, file) => {
    expect(make().render(values, "runner-0")).toBe(expected(file));
  });

  it("without run args only unconditional lines stay", () => {
    expect(Computer.slurm().render({}, "r")).toBe("#!/bin/bash");
    expect(Computer.bash().render({ nodes: 4 }, "r")).toBe("#!/bin/bash");
    expect(Computer.pbs().render({}, "r")).toBe(expected("pbs-pro-minimal.sh"));
    expect(Computer.sge().render({}, "r")).toBe(expected("sge-minimal.sh"));
  });

  it("partition and queue are aliases; time falls back to timeout; avoidNodes as a string", () => {
    const slurm = Computer.slurm();
    expect(slurm.render({ queue: "gpu", timeout: 90, avoidNodes: "a,b" }, "r")).toBe(
      "#!/bin/bash\n#SBATCH --partition=gpu\n#SBATCH --time=00:01:30\n#SBATCH --exclude=a,b",
    );
    expect(Computer.pbs().render({ partition: "long" }, "r")).toContain("#PBS -q long");
  });

  it("render errors name the placeholder and the runner", () => {
    expect(() => Computer.slurm().render({ nodes: 0 }, "runner-3")).toThrow(TemplateError);
    expect(() => Computer.slurm().render({ nodes: 0 }, "runner-3")).toThrow(/runner-3.*#nodes#.*below min 1/);
    expect(() => Computer.slurm().render({ timeout: "soon" }, "runner-4")).toThrow(/runner-4.*#time#/);
  });
});

describe("constructor validation", () => {
  const ok = { name: "c", template: "#!/bin/bash", submitter: "sbatch" } as const;
  it.each([
    [{ ...ok, name: "" }, "name"],
    [{ ...ok, template: 3 }, "template"],
    [{ ...ok, submitter: "srun" }, "submitter"],
    [{ ...ok, flavour: "pro" }, "flavour"],
    [{ ...ok, submitter: "qsub", flavour: "slurm" }, "flavour"],
    [{ ...ok, colour: "red" }, "colour"],
    [{ ...ok, arrayIndexExpr: "" }, "arrayIndexExpr"],
  ])("refuses %j", (options, word) => {
    expect(() => new Computer(options as never)).toThrow(InvalidArgumentError);
    expect(() => new Computer(options as never)).toThrow(word);
  });
  it("refuses a malformed template at construction", () => {
    expect(() => new Computer({ ...ok, template: "#a:requires=b#" })).toThrow(TemplateError);
  });
  it("defaults qsub to PBS Pro", () => {
    const c = new Computer({ ...ok, submitter: "qsub" });
    expect(c.flavour).toBe("pro");
    expect(c.arrayIndexExpr).toBe("$PBS_ARRAY_INDEX");
  });
});

describe("YAML", () => {
  it.each([
    Computer.slurm(),
    Computer.pbs({ flavour: "torque" }),
    Computer.sge(),
    Computer.lsf(),
    Computer.bash(),
    new Computer({
      name: "mine",
      template: "#!/bin/bash\n#SBATCH -n #n:default=1#\n",
      submitter: "sbatch",
      arrayIndexExpr: "$I",
    }),
  ])("round trips %s", (computer) => {
    const yaml = computer.toYAML();
    const back = Computer.fromYAML(yaml);
    expect(back.toJSON()).toEqual(computer.toJSON());
    expect(back.render(values, "r")).toBe(computer.render(values, "r"));
    expect(back.arrayIndexExpr).toBe(computer.arrayIndexExpr);
  });
  it("writes the template as a readable block", () => {
    expect(Computer.slurm().toYAML()).toContain("template: |");
  });
  it("loads a hand-written file", () => {
    const c = Computer.fromYAML(
      "name: cluster\nsubmitter: qsub\nflavour: sge\ntemplate: |\n  #!/bin/bash\n  #$ -l h_rt=#time:format=time#\n",
    );
    expect(c.render({ time: "2h" }, "r")).toBe("#!/bin/bash\n#$ -l h_rt=02:00:00\n");
    expect(c.arrayIndexExpr).toBe("$((SGE_TASK_ID-1))");
  });
  it("refuses broken or wrong YAML with InvalidArgumentError", () => {
    expect(() => Computer.fromYAML("name: [")).toThrow(InvalidArgumentError);
    expect(() => Computer.fromYAML("- 1\n- 2")).toThrow(InvalidArgumentError);
    expect(() => Computer.fromYAML("name: x\nsubmitter: sbatch\ntemplate: a\nextra: 1")).toThrow(/extra/);
    expect(() => Computer.fromYAML("name: x\nsubmiter: sbatch\ntemplate: a")).toThrow(
      /did you mean `submitter`/,
    );
    expect(() => Computer.fromYAML("name: x\nsubmitter: sbatch\ntemplate: a\narray_index_expr: x")).toThrow(
      /did you mean `arrayIndexExpr`/,
    );
  });
});

describe("submit snippets", () => {
  const opts = { script: "jobs/run it's.sh", jobName: "ds 1", stdout: "out/%a.log", stderr: "out/%a.err" };

  it("slurm: parsable, quoted, array and dependencies", () => {
    expect(
      Computer.slurm().submitSnippet({
        ...opts,
        arrayCount: 200,
        afterOk: ["11", "12"],
        afterCorresponding: "10",
      }),
    ).toBe(
      "(set -o pipefail; sbatch --parsable '--job-name=ds 1' --output=out/%a.log --error=out/%a.err --array=0-199 " +
        "--dependency=afterok:11:12,aftercorr:10 'jobs/run it'\\''s.sh' | cut -d';' -f1)",
    );
    expect(Computer.slurm().submitSnippet(opts)).not.toContain("--array");
  });

  it("pbs pro uses -J, torque -t and afterokarray", () => {
    expect(Computer.pbs().submitSnippet({ ...opts, arrayCount: 4, afterOk: ["7.srv"] })).toBe(
      "qsub -N 'ds 1' -o out/%a.log -e out/%a.err -J 0-3 -W depend=afterok:7.srv 'jobs/run it'\\''s.sh'",
    );
    expect(
      Computer.pbs({ flavour: "torque" }).submitSnippet({
        ...opts,
        arrayCount: 4,
        afterCorresponding: "8[].srv",
      }),
    ).toBe(
      "qsub -N 'ds 1' -o out/%a.log -e out/%a.err -t 0-3 -W 'depend=afterokarray:8[].srv' 'jobs/run it'\\''s.sh'",
    );
  });

  it("sge is terse, 1-based, with hold_jid and hold_jid_ad", () => {
    expect(
      Computer.sge().submitSnippet({ ...opts, arrayCount: 3, afterOk: ["5", "6"], afterCorresponding: "4" }),
    ).toBe(
      "(set -o pipefail; qsub -terse -N 'ds 1' -o out/%a.log -e out/%a.err -t 1-3 -hold_jid 5,6 -hold_jid_ad 4 " +
        "'jobs/run it'\\''s.sh' | cut -d. -f1)",
    );
  });

  it("lsf reads the script on stdin and names the array", () => {
    expect(Computer.lsf().submitSnippet({ ...opts, arrayCount: 5, afterOk: ["1", "2"] })).toBe(
      "(set -o pipefail; bsub -J 'ds 1[1-5]' -o out/%a.log -e out/%a.err -w 'done(1)&&done(2)' < 'jobs/run it'\\''s.sh'" +
        " | sed -n 's/^Job <\\([0-9]*\\)>.*/\\1/p')",
    );
    expect(() => Computer.lsf().submitSnippet({ ...opts, jobName: "a[1]" })).toThrow(SchedulerError);
  });

  it("bash detaches and echoes the pid", () => {
    expect(Computer.bash().submitSnippet(opts)).toBe(
      "setsid nohup bash 'jobs/run it'\\''s.sh' >out/%a.log 2>out/%a.err </dev/null & echo $!",
    );
    const array = Computer.bash().submitSnippet({ ...opts, arrayCount: 3, afterOk: ["99"] });
    expect(array).toMatch(
      /^REMOTERUN_WAIT_PIDS=99 REMOTERUN_ARRAY_COUNT=3 setsid nohup bash -c '.*' 'jobs\/run/s,
    );
    expect(array).toMatch(/& echo \$!$/);
  });

  it.each([
    [{ script: "" }, "script"],
    [{ jobName: "a\nb" }, "jobName"],
    [{ arrayCount: 0 }, "arrayCount"],
    [{ arrayCount: 1.5 }, "arrayCount"],
    [{ afterOk: ["1; rm -rf /"] }, "afterOk"],
  ])("refuses bad options %j", (bad, word) => {
    expect(() => Computer.slurm().submitSnippet({ ...opts, ...bad } as never)).toThrow(InvalidArgumentError);
    expect(() => Computer.slurm().submitSnippet({ ...opts, ...bad } as never)).toThrow(word);
  });
});

describe("array index and cancel", () => {
  it("gives a 0-based index expression per scheduler", () => {
    expect(Computer.slurm().arrayIndexExpr).toBe("$SLURM_ARRAY_TASK_ID");
    expect(Computer.pbs().arrayIndexExpr).toBe("$PBS_ARRAY_INDEX");
    expect(Computer.pbs({ flavour: "torque" }).arrayIndexExpr).toBe("$PBS_ARRAYID");
    expect(Computer.sge().arrayIndexExpr).toBe("$((SGE_TASK_ID-1))");
    expect(Computer.lsf().arrayIndexExpr).toBe("$((LSB_JOBINDEX-1))");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
    expect(Computer.bash().arrayIndexExpr).toBe("${REMOTERUN_ARRAY_INDEX:-0}");
  });
  it("cancels all jobs in one command", () => {
    expect(Computer.slurm().cancelScript(["1", "2_3"])).toBe("scancel 1 2_3 || true");
    expect(Computer.pbs().cancelScript(["5[].srv"])).toBe("qdel '5[].srv' || true");
    expect(Computer.sge().cancelScript(["5"])).toBe("qdel 5 || true");
    expect(Computer.lsf().cancelScript(["5", "6"])).toBe("bkill 5 6 || true");
    expect(Computer.bash().cancelScript(["42"])).toContain('kill -TERM -- "-$p"');
    expect(() => Computer.bash().cancelScript(["x"])).toThrow(SchedulerError);
    expect(Computer.slurm().cancelScript([])).toBe("true");
  });
});
