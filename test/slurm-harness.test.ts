/**
 * Proves the Slurm harness (test/harness/slurm.ts) against the real daemons, and captures real
 * command outputs for the scheduler-parsing code. With REMOTERUN_CAPTURE_SLURM=1 the captures are
 * written to src/computer/fixtures/slurm-real/ (otherwise only their shapes are checked).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CmdResult, ensureTestUser, type SlurmCluster, startSlurm } from "./harness/slurm.js";

const USER = "rmtest";
const FIXTURES = path.resolve(import.meta.dirname, "../src/computer/fixtures/slurm-real");

let cluster: SlurmCluster;
let work: string;
const myJobs: string[] = [];

interface Captured {
  name: string;
  command: string;
  result: CmdResult;
  note: string;
}
const captures: Captured[] = [];

/** Run a Slurm client command as the test user in the work folder. */
function sl(cmd: string, args: string[]): CmdResult {
  return cluster.exec(cmd, args, { user: USER, cwd: work });
}

function capture(name: string, cmd: string, args: string[], note: string): CmdResult {
  const result = sl(cmd, args);
  const command = [cmd, ...args.map((a) => (/^[\w%./=:,@+-]+$/.test(a) ? a : `'${a}'`))].join(" ");
  captures.push({ name, command, result, note });
  return result;
}

function submit(args: string[]): string {
  const r = sl("sbatch", ["--parsable", ...args]);
  expect(r.stderr, `sbatch ${args.join(" ")}`).toBe("");
  expect(r.status).toBe(0);
  const id = r.stdout.trim().split(";")[0] ?? "";
  expect(id).toMatch(/^\d+$/);
  myJobs.push(id);
  return id;
}

function show(id: string): string {
  return sl("scontrol", ["show", "job", "-o", id]).stdout;
}

function field(record: string, name: string): string | undefined {
  return new RegExp(`(?:^|\\s)${name}=(\\S*)`).exec(record)?.[1];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitJob(id: string, pred: (rec: string) => boolean, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let rec = "";
  for (;;) {
    rec = show(id);
    if (pred(rec)) return rec;
    if (Date.now() > deadline) {
      throw new Error(
        `job ${id} did not reach the expected state in ${timeoutMs} ms:\n${rec}\n${cluster.squeue()}`,
      );
    }
    await sleep(50);
  }
}

const stateIs =
  (...states: string[]) =>
  (rec: string) =>
    states.includes(field(rec, "JobState") ?? "");

/** Natural time-limit job: submitted first, checked last (its TIMEOUT takes 60-90 s). */
let naturalTimeout: { id: string; submitted: number; started: number };

beforeAll(async () => {
  const u = ensureTestUser(USER);
  cluster = await startSlurm();
  console.log(
    `slurm cluster ${cluster.reused ? "reused" : "started"} in ${cluster.startMs} ms (${cluster.dir})`,
  );
  work = fs.mkdtempSync(path.join(cluster.jobDir, "harness-"));
  fs.chownSync(work, u.uid, u.gid);

  const submitted = Date.now();
  const id = submit([
    "--time=00:00:05",
    "-J",
    "rr-natural-timeout",
    "-o",
    "natural.out",
    "--wrap",
    "sleep 300",
  ]);
  const rec = await waitJob(id, stateIs("RUNNING"), 20_000);
  naturalTimeout = { id, submitted, started: Date.now() };
  // Time resolution is one minute: seconds are rounded UP to the next minute.
  expect(field(rec, "TimeLimit")).toBe("00:01:00");
}, 120_000);

afterAll(async () => {
  if (!cluster) return;
  if (myJobs.length > 0) cluster.exec("scancel", myJobs);
  await cluster.stop();
});

describe("single-node Slurm harness", () => {
  it("exposes the cluster and links /etc/slurm/slurm.conf", () => {
    expect(fs.existsSync(cluster.conf)).toBe(true);
    expect(cluster.env.SLURM_CONF).toBe(cluster.conf);
    expect(cluster.partition).toBe("debug");
    expect(cluster.node).toBe("localhost");
    expect(fs.statSync(cluster.jobDir).mode & 0o1777).toBe(0o1777);
    if (cluster.etcLinked)
      expect(fs.realpathSync("/etc/slurm/slurm.conf")).toBe(fs.realpathSync(cluster.conf));
    // a client without SLURM_CONF (like a user reached through ssh) finds the cluster
    if (cluster.etcLinked) {
      const r = cluster.exec("env", ["-u", "SLURM_CONF", "sinfo", "-h", "-o", "%P %T"], { user: USER });
      expect(r.stdout, r.stderr).toMatch(/^debug\* (idle|mixed|allocated)/);
    }
  });

  it("joins a running cluster instead of starting a second one", async () => {
    const again = await startSlurm();
    expect(again.reused).toBe(true);
    expect(again.conf).toBe(cluster.conf);
    await again.stop(); // another lease is still held: the daemons keep running
    expect(cluster.exec("scontrol", ["ping"]).stdout).toMatch(/is UP/);
  });

  it("runs a trivial job as the test user to COMPLETED", async () => {
    const t0 = Date.now();
    capture("sbatch", "sbatch", ["-o", "trivial-%j.out", "--wrap", "echo hello"], "plain submit");
    const out = captures.at(-1)?.result.stdout ?? "";
    const m = /^Submitted batch job (\d+)$/.exec(out.trim());
    expect(m, out).not.toBeNull();
    const id = m?.[1] ?? "";
    myJobs.push(id);
    const rec = await waitJob(id, stateIs("COMPLETED"), 20_000);
    console.log(`submit -> COMPLETED: ${Date.now() - t0} ms`);
    expect(field(rec, "UserId")).toMatch(/^rmtest\(\d+\)$/);
    expect(field(rec, "ExitCode")).toBe("0:0");
    expect(fs.readFileSync(path.join(work, `trivial-${id}.out`), "utf8")).toBe("hello\n");
    captures.push({
      name: "scontrol-completed",
      command: `scontrol show job -o ${id}`,
      result: sl("scontrol", ["show", "job", "-o", id]),
      note: "finished with exit 0",
    });
    const p = capture("sbatch-parsable", "sbatch", ["--parsable", "-o", "/dev/null", "--wrap", "true"], "");
    expect(p.stdout).toMatch(/^\d+\n$/);
    myJobs.push(p.stdout.trim());
  });

  it("runs an array --array=0-9 as 10 tasks", async () => {
    const r = capture(
      "sbatch-array",
      "sbatch",
      ["--array=0-9", "-o", "arr-%A_%a.out", "--wrap", "echo $SLURM_ARRAY_TASK_ID"],
      "array submit",
    );
    const id = /(\d+)/.exec(r.stdout)?.[1] ?? "";
    myJobs.push(id);
    const t0 = Date.now();
    const deadline = t0 + 30_000;
    while (sl("squeue", ["-h", "-j", id]).stdout.trim() !== "") {
      if (Date.now() > deadline) throw new Error(cluster.squeue());
      await sleep(100);
    }
    console.log(`array of 10: all done ${Date.now() - t0} ms after submit`);
    captures.push({
      name: "scontrol-array-job",
      command: `scontrol show job -o ${id}`,
      result: sl("scontrol", ["show", "job", "-o", id]),
      note: "the array job id shows one line per task",
    });
    const lines = show(id).trim().split("\n");
    expect(lines).toHaveLength(10);
    const tasks = lines.map((l) => {
      expect(field(l, "ArrayJobId")).toBe(id);
      expect(field(l, "JobState")).toBe("COMPLETED");
      return Number(field(l, "ArrayTaskId"));
    });
    expect(tasks.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const t of tasks)
      expect(fs.readFileSync(path.join(work, `arr-${id}_${t}.out`), "utf8")).toBe(`${t}\n`);
    const task2 = lines.find((l) => field(l, "ArrayTaskId") === "2") ?? "";
    captures.push({
      name: "scontrol-array-task",
      command: `scontrol show job -o ${id}_2`,
      result: sl("scontrol", ["show", "job", "-o", `${id}_2`]),
      note: `task 2 by ArrayJobId_TaskId; its own JobId is ${field(task2, "JobId")}`,
    });
    const p = capture(
      "sbatch-array-parsable",
      "sbatch",
      ["--parsable", "--array=0-2", "-o", "/dev/null", "--wrap", "true"],
      "",
    );
    expect(p.stdout).toMatch(/^\d+\n$/);
    myJobs.push(p.stdout.trim());
  });

  it("chains --dependency=afterok:ID", async () => {
    const a = submit(["-o", "a.out", "--wrap", "sleep 1; echo from-a > a.txt"]);
    const b = submit([`--dependency=afterok:${a}`, "-o", "b.out", "--wrap", "cat a.txt > b.txt"]);
    const pending = show(b);
    expect(field(pending, "JobState")).toBe("PENDING");
    expect(field(pending, "Reason")).toBe("Dependency");
    capture(
      "squeue-dependency",
      "squeue",
      ["-h", "-a", "-r", "-o", "%i|%T|%r", "-j", `${a},${b}`],
      "A runs, B waits",
    );
    await waitJob(b, stateIs("COMPLETED"), 20_000);
    expect(field(show(a), "JobState")).toBe("COMPLETED");
    expect(fs.readFileSync(path.join(work, "b.txt"), "utf8")).toBe("from-a\n");
  });

  it("leaves afterok on a FAILED job PENDING with DependencyNeverSatisfied", async () => {
    const f = submit(["-o", "fail.out", "--wrap", "echo failing; exit 1"]);
    const d = submit([`--dependency=afterok:${f}`, "-o", "/dev/null", "--wrap", "true"]);
    const failed = await waitJob(f, stateIs("FAILED"), 20_000);
    expect(field(failed, "ExitCode")).toBe("1:0");
    captures.push({
      name: "scontrol-failed",
      command: `scontrol show job -o ${f}`,
      result: sl("scontrol", ["show", "job", "-o", f]),
      note: "exit 1",
    });
    const rec = await waitJob(d, (r) => field(r, "Reason") === "DependencyNeverSatisfied", 20_000);
    expect(field(rec, "JobState")).toBe("PENDING");
    await sleep(1500); // and it stays there
    expect(field(show(d), "JobState")).toBe("PENDING");
    captures.push({
      name: "scontrol-dependency-never-satisfied",
      command: `scontrol show job -o ${d}`,
      result: sl("scontrol", ["show", "job", "-o", d]),
      note: "afterok on a FAILED job: PENDING forever",
    });
    capture(
      "squeue-dependency-never-satisfied",
      "squeue",
      ["-h", "-a", "-r", "-o", "%i|%T|%r", "-j", d],
      "afterok on a FAILED job",
    );
    sl("scancel", [d]);
  });

  it("captures squeue for pending, running and array tasks", async () => {
    const run = submit(["-o", "/dev/null", "--wrap", "sleep 30"]);
    const held = submit(["--hold", "-o", "/dev/null", "--wrap", "true"]);
    const arr = submit(["--array=0-3%2", "-o", "/dev/null", "--wrap", "sleep 30"]);
    const heldArr = submit(["--hold", "--array=0-3", "-o", "/dev/null", "--wrap", "true"]);
    await waitJob(run, stateIs("RUNNING"), 20_000);
    const deadline = Date.now() + 20_000;
    while ((sl("squeue", ["-h", "-r", "-t", "R", "-j", arr]).stdout.match(/\n/g) ?? []).length < 2) {
      if (Date.now() > deadline) throw new Error(cluster.squeue());
      await sleep(100);
    }
    const ids = [run, held, arr, heldArr].join(",");
    const r = capture(
      "squeue-states",
      "squeue",
      ["-h", "-a", "-r", "-o", "%i|%T|%r", "-j", ids],
      "mixed states",
    );
    expect(r.stdout).toContain(`${run}|RUNNING|None`);
    expect(r.stdout).toContain(`${held}|PENDING|JobHeldUser`);
    expect(r.stdout).toMatch(new RegExp(`^${arr}_0\\|RUNNING\\|None$`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^${arr}_2\\|PENDING\\|JobArrayTaskLimit$`, "m"));
    capture(
      "squeue-states-no-r",
      "squeue",
      ["-h", "-a", "-o", "%i|%T|%r", "-j", ids],
      "same without -r: pending array tasks fold into ID_[2-3]",
    );
    capture(
      "squeue-all",
      "squeue",
      ["-h", "-a", "-r", "-o", "%i|%T|%r"],
      "every job of the cluster (shared)",
    );
    captures.push({
      name: "scontrol-running",
      command: `scontrol show job -o ${run}`,
      result: sl("scontrol", ["show", "job", "-o", run]),
      note: "running",
    });
    captures.push({
      name: "scontrol-array-pending",
      command: `scontrol show job -o ${heldArr}`,
      result: sl("scontrol", ["show", "job", "-o", heldArr]),
      note: "held array, no task started: one line with ArrayTaskId=0-3",
    });
    captures.push({
      name: "scontrol-array-running",
      command: `scontrol show job -o ${arr}`,
      result: sl("scontrol", ["show", "job", "-o", arr]),
      note: "array 0-3%2: two tasks running, the rest folded into one pending line",
    });

    // scancel leaves nothing of these jobs in squeue
    const c = sl("scancel", [run, held, arr, heldArr]);
    expect(c.status).toBe(0);
    const t0 = Date.now();
    while (sl("squeue", ["-h", "-j", ids]).stdout.trim() !== "") {
      if (Date.now() - t0 > 20_000) throw new Error(cluster.squeue());
      await sleep(50);
    }
    console.log(`scancel -> gone from squeue: ${Date.now() - t0} ms`);
    const cancelled = show(run);
    expect(field(cancelled, "JobState")).toBe("CANCELLED");
    captures.push({
      name: "scontrol-cancelled",
      command: `scontrol show job -o ${run}`,
      result: sl("scontrol", ["show", "job", "-o", run]),
      note: "cancelled while running",
    });
    captures.push({
      name: "scontrol-cancelled-pending",
      command: `scontrol show job -o ${held}`,
      result: sl("scontrol", ["show", "job", "-o", held]),
      note: "cancelled while pending (held)",
    });
    capture(
      "squeue-finished",
      "squeue",
      ["-h", "-a", "-r", "-o", "%i|%T|%r", "-j", run],
      "finished job: no line",
    );
  });

  it("reports unknown job ids with an error", () => {
    const r = capture("scontrol-unknown", "scontrol", ["show", "job", "-o", "987654"], "unknown id");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Invalid job id specified/);
    const q = capture(
      "squeue-unknown",
      "squeue",
      ["-h", "-a", "-r", "-o", "%i|%T|%r", "-j", "987654"],
      "unknown",
    );
    expect(q.status).not.toBe(0);
    // one known (running) id next to an unknown one
    const mixed = capture(
      "squeue-known-and-unknown",
      "squeue",
      ["-h", "-a", "-r", "-o", "%i|%T|%r", "-j", `${naturalTimeout.id},987654`],
      "a known running job listed together with an unknown id",
    );
    expect(mixed.stdout).toContain(`${naturalTimeout.id}|RUNNING|None`);
  });

  it("times out a running job whose limit was cut (expireTimeLimit)", async () => {
    const id = submit(["--time=10", "-o", "/dev/null", "--wrap", "sleep 300"]);
    await waitJob(id, stateIs("RUNNING"), 20_000);
    const t0 = Date.now();
    cluster.expireTimeLimit(id);
    const rec = await waitJob(id, stateIs("TIMEOUT"), 45_000);
    console.log(`expireTimeLimit -> TIMEOUT: ${Date.now() - t0} ms`);
    expect(field(rec, "Reason")).toBe("TimeLimit");
  }, 60_000);

  it("ends a job that exceeds --time with JobState=TIMEOUT", async () => {
    const { id, started, submitted } = naturalTimeout;
    const rec = await waitJob(id, stateIs("TIMEOUT"), Math.max(1000, started + 100_000 - Date.now()));
    console.log(
      `--time=00:00:05 (=1 min): TIMEOUT ${Math.round((Date.now() - started) / 100) / 10} s after start, ` +
        `${Math.round((Date.now() - submitted) / 100) / 10} s after submit`,
    );
    expect(field(rec, "Reason")).toBe("TimeLimit");
    expect(field(rec, "TimeLimit")).toBe("00:01:00");
    captures.push({
      name: "scontrol-timeout",
      command: `scontrol show job -o ${id}`,
      result: sl("scontrol", ["show", "job", "-o", id]),
      note: "--time=00:00:05 (rounded up to 1 min), sleep 300",
    });
  }, 120_000);

  it("captured real outputs (written with REMOTERUN_CAPTURE_SLURM=1)", () => {
    const names = captures.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of captures) {
      if (c.name.startsWith("scontrol-") && c.name !== "scontrol-unknown")
        expect(c.result.stdout).toMatch(/^JobId=/);
    }
    if (process.env.REMOTERUN_CAPTURE_SLURM !== "1") return;
    fs.mkdirSync(FIXTURES, { recursive: true });
    const rows: string[] = [];
    for (const c of captures) {
      fs.writeFileSync(path.join(FIXTURES, `${c.name}.txt`), c.result.stdout);
      if (c.result.stderr) fs.writeFileSync(path.join(FIXTURES, `${c.name}.stderr.txt`), c.result.stderr);
      const files = `\`${c.name}.txt\`${c.result.stderr ? `, \`${c.name}.stderr.txt\`` : ""}`;
      rows.push(`| ${files} | \`${c.command.replaceAll("|", "\\|")}\` | ${c.result.status} | ${c.note} |`);
    }
    fs.writeFileSync(
      path.join(FIXTURES, "commands.md"),
      `| files | command | exit | note |\n|---|---|---|---|\n${rows.join("\n")}\n`,
    );
  });
});
