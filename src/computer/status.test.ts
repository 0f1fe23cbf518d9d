import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SchedulerError } from "../shared/errors.js";
import { Computer } from "./computer.js";
import { FIXTURES, fixture } from "./fixtures.test-helper.js";

describe("parseJobId on real submit outputs", () => {
  it.each([
    ["slurm", Computer.slurm(), "slurm-22.05/sbatch.txt", "18"],
    ["slurm --parsable", Computer.slurm(), "slurm-22.05/sbatch-parsable.txt", "17"],
    ["slurm array", Computer.slurm(), "slurm-22.05/sbatch-array.txt", "16"],
    ["pbs", Computer.pbs(), "outputs/pbs-qsub.txt", "179.host"],
    ["pbs pro array", Computer.pbs(), "outputs/pbspro-qsub-array.txt", "2597100[].pbsserver"],
    ["torque", Computer.pbs({ flavour: "torque" }), "outputs/pbs-qsub.txt", "179.host"],
    ["sge", Computer.sge(), "outputs/sge-qsub.txt", "1601905"],
    ["sge array", Computer.sge(), "outputs/sge-qsub-array.txt", "191656"],
    ["sge terse array", Computer.sge(), "outputs/sge-qsub-terse-array.txt", "6971202"],
    ["lsf", Computer.lsf(), "outputs/lsf-bsub.txt", "1223"],
  ])("%s", (_name, computer, file, id) => {
    expect(computer.parseJobId(fixture(file))).toBe(id);
  });

  it("also reads `ID;cluster` and the bare id the snippets print", () => {
    expect(Computer.slurm().parseJobId("42;cluster\n")).toBe("42");
    expect(Computer.lsf().parseJobId("789\n")).toBe("789");
    expect(Computer.bash().parseJobId("12345\n")).toBe("12345");
  });

  it.each([
    [Computer.slurm(), "slurm-22.05/sbatch-error.stdout"],
    [Computer.sge(), "outputs/lsf-bsub.txt"],
    [Computer.lsf(), "outputs/sge-qsub.txt"],
    [Computer.pbs(), "outputs/sge-qsub.txt"],
    [Computer.bash(), "outputs/lsf-bsub.txt"],
  ])("throws SchedulerError carrying the output when nothing matches (%#)", (computer, file) => {
    const output = fixture(file);
    try {
      computer.parseJobId(output);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SchedulerError);
      expect((e as SchedulerError).output).toBe(output);
    }
  });
});

describe("slurm status on outputs of a real Slurm 22.05", () => {
  const slurm = Computer.slurm();
  const states = slurm.parseStatus(fixture("slurm-22.05/status-script-output.txt"));

  it("the status script is what produced the fixture", () => {
    expect(slurm.statusScript(["1", "3", "4", "5", "6", "7", "8", "9", "16", "17", "999"])).toBe(
      fixture("slurm-22.05/status-script.sh"),
    );
  });
  it("maps finished, failed and array tasks", () => {
    expect(states.get("1")).toEqual({ state: "completed", raw: "COMPLETED" });
    expect(states.get("3_0")?.state).toBe("completed");
    expect(states.get("3_2")).toEqual({ state: "failed", raw: "FAILED", reason: "FAILED: NonZeroExitCode" });
    expect(states.get("4")?.state).toBe("failed");
  });
  it("TIMEOUT and CANCELLED are failures with a reason", () => {
    expect(states.get("6")).toEqual({ state: "failed", raw: "TIMEOUT", reason: "TIMEOUT: TimeLimit" });
    expect(states.get("7")).toEqual({ state: "failed", raw: "CANCELLED", reason: "CANCELLED" });
    expect(states.get("8_0")).toEqual({ state: "failed", raw: "CANCELLED", reason: "CANCELLED" });
  });
  it("DependencyNeverSatisfied is a failure, other pending reasons are pending", () => {
    expect(states.get("5")).toEqual({ state: "failed", raw: "PENDING", reason: "DependencyNeverSatisfied" });
    // 9 = aftercorr:8; 8_0 and 8_1 were cancelled, 8_2 completed
    expect(states.get("9_0")?.reason).toBe("DependencyNeverSatisfied");
    expect(states.get("9_1")?.state).toBe("failed");
    expect(states.get("9_2")?.state).toBe("completed");
    const earlier = slurm.parseStatus(fixture("slurm-22.05/scontrol-pending-array.txt"));
    expect(earlier.get("16_0")).toEqual({ state: "pending", raw: "PENDING", reason: "Dependency" });
  });
  it("expands pending array ranges (also with a %throttle) to one key per task", () => {
    for (let i = 0; i < 5; i++) expect(states.get(`16_${i}`)?.reason).toBe("DependencyNeverSatisfied");
    for (let i = 0; i < 10; i++) expect(states.get(`17_${i}`)?.reason).toBe("JobHeldUser");
    expect(states.has("16_5")).toBe(false);
    const scontrolOnly = slurm.parseStatus(fixture("slurm-22.05/scontrol-pending-array.txt"));
    expect([...scontrolOnly.keys()].filter((k) => k.startsWith("16_"))).toEqual([
      "16_0",
      "16_1",
      "16_2",
      "16_3",
      "16_4",
    ]);
  });
  it("leaves unknown ids out and running tasks running", () => {
    expect(states.has("999")).toBe(false);
    const live = fixture("slurm-22.05/squeue.txt").replace(/^(?=.)/gm, "Q|");
    expect(slurm.parseStatus(live).get("8_2")).toEqual({ state: "running", raw: "RUNNING" });
  });
  it("a finished state wins over a stale live line for the same job", () => {
    const s = slurm.parseStatus("Q|5|RUNNING|None\nJobId=5 JobState=COMPLETED Reason=None\nA|5|RUNNING|None");
    expect(s.get("5")?.state).toBe("completed");
  });
  it("reads sacct lines (CANCELLED by uid, array ranges)", () => {
    const s = slurm.parseStatus(
      "A|12_[0-2]|PENDING|Priority\nA|13|CANCELLED by 1000|None\nA|14|OUT_OF_MEMORY|None",
    );
    expect([...s.keys()]).toEqual(["12_0", "12_1", "12_2", "13", "14"]);
    expect(s.get("13")).toEqual({ state: "failed", raw: "CANCELLED", reason: "CANCELLED" });
    expect(s.get("14")?.state).toBe("failed");
  });
});

describe("pbs status", () => {
  it("torque qstat -f (documentation sample)", () => {
    const s = Computer.pbs({ flavour: "torque" }).parseStatus(fixture("outputs/torque-qstat-f.txt"));
    expect(s.get("179.host")).toEqual({ state: "failed", raw: "C", reason: "Exit_status=-1" });
    expect(s.get("548.moab")).toEqual({ state: "running", raw: "R" });
    expect(s.size).toBe(2);
  });
  it("pbs pro qstat -x -f -t with subjobs normalised to <array id>_<index>", () => {
    const s = Computer.pbs().parseStatus(fixture("outputs/pbspro-qstat-xft.txt"));
    expect(s.get("2597100[].pbsserver_1")).toEqual({ state: "completed", raw: "X" });
    expect(s.get("2597100[].pbsserver_2")).toEqual({ state: "failed", raw: "X", reason: "Exit_status=1" });
    expect(s.get("2597100[].pbsserver_3")?.reason).toMatch(/^Exit_status=271: Job run at/);
    expect(s.get("2597100[].pbsserver_4")?.state).toBe("running");
    expect(s.get("2597100[].pbsserver")?.state).toBe("running");
    expect(s.get("2597101.pbsserver")).toMatchObject({
      state: "pending",
      reason: expect.stringContaining("Insufficient"),
    });
    expect(s.get("2597102.pbsserver")?.state).toBe("failed");
  });
  it("status script asks for finished jobs and subjobs in one qstat", () => {
    expect(Computer.pbs().statusScript(["1[].s", "2.s"])).toBe(
      "qstat -x -f -t '1[].s' 2.s 2>/dev/null || true",
    );
    expect(Computer.pbs({ flavour: "torque" }).statusScript(["2.s"])).toBe(
      "qstat -f -t 2.s 2>/dev/null || true",
    );
  });
});

describe("sge status", () => {
  const s = Computer.sge().parseStatus(fixture("outputs/sge-status.txt"));
  it("reads qstat letters", () => {
    expect(s.get("1")?.state).toBe("running");
    expect(s.get("2")).toEqual({ state: "pending", raw: "qw" });
    expect(s.get("3")?.state).toBe("running");
    expect(s.get("2323538")).toMatchObject({ state: "failed", raw: "Eqw" });
  });
  it("converts 1-based tasks to 0-based keys, expanding ranges", () => {
    expect(s.get("2323537_326")?.state).toBe("running");
    expect(s.get("2323537_4")?.state).toBe("pending");
    expect(s.get("2323537_5")?.state).toBe("pending");
    expect(s.has("2323537_6")).toBe(false);
  });
  it("reads qacct for finished jobs and tasks", () => {
    expect(s.get("12345")).toEqual({ state: "completed", raw: "qacct" });
    expect(s.get("12346_2")).toEqual({
      state: "failed",
      raw: "qacct",
      reason: "failed 100 : assumedly after job (exit_status 137)",
    });
    expect(s.get("12346_0")).toEqual({ state: "failed", raw: "qacct", reason: "exit_status 2" });
  });
});

describe("lsf status", () => {
  const s = Computer.lsf().parseStatus(fixture("outputs/lsf-bjobs.txt"));
  it("maps states and 1-based elements", () => {
    expect(s.get("111")).toEqual({ state: "running", raw: "RUN" });
    expect(s.get("2000_0")).toEqual({ state: "completed", raw: "DONE" });
    expect(s.get("2000_1")).toMatchObject({
      state: "failed",
      raw: "EXIT",
      reason: expect.stringContaining("TERM_RUNLIMIT"),
    });
    expect(s.get("2000_2")?.state).toBe("pending");
    expect(s.get("2001")).toMatchObject({
      state: "failed",
      reason: expect.stringContaining("DependencyNeverSatisfied"),
    });
  });
  it("status script asks bjobs for all jobs in one call", () => {
    expect(Computer.lsf().statusScript(["1", "2"])).toBe(
      "bjobs -a -noheader -o 'jobid jobindex stat exit_code exit_reason pend_reason delimiter='\\''|'\\''' 1 2 2>/dev/null || true",
    );
  });
});

describe("bash status (runs the snippet for real)", () => {
  it("reports a live pid as running and a dead one as exited", () => {
    const bash = Computer.bash();
    const script = bash.statusScript([String(process.pid), "999999999"]);
    const s = bash.parseStatus(execFileSync("bash", ["-c", script]).toString());
    expect(s.get(String(process.pid))).toEqual({ state: "running", raw: "RUNNING" });
    expect(s.get("999999999")).toEqual({ state: "completed", raw: "EXITED" });
  });
});

describe("status scripts are single snippets tolerant of unknown ids", () => {
  it.each([Computer.slurm(), Computer.pbs(), Computer.sge(), Computer.lsf()])("%#", (computer) => {
    const script = computer.statusScript(["101", "102"]);
    expect(script).toContain("|| true");
    expect(computer.statusScript([])).toBe("true");
  });
});

const REAL = `${FIXTURES}slurm-real/`;
describe.skipIf(!existsSync(REAL))("outputs captured by the Slurm harness (slurm-real/)", () => {
  const files = existsSync(REAL) ? readdirSync(REAL) : [];
  it.each(files.filter((f) => /sbatch/.test(f) && !/err/.test(f)))("job id in %s", (file) => {
    expect(Computer.slurm().parseJobId(fixture(`slurm-real/${file}`))).toMatch(/^\d+$/);
  });
  it.each(files.filter((f) => /squeue|scontrol|sacct|status/.test(f)))("states in %s", (file) => {
    const states = Computer.slurm().parseStatus(fixture(`slurm-real/${file}`));
    for (const [id, state] of states) {
      expect(id).toMatch(/^\d+(_\d+)?$/);
      expect(["pending", "running", "completed", "failed", "unknown"]).toContain(state.state);
    }
  });
});
