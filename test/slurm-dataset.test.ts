/**
 * Dataset + Computer.slurm() against a REAL single-node Slurm (test/harness/slurm.ts), reached over
 * a REAL sshd (test/harness/sshd.ts) as the unprivileged test user: the library's text (job scripts,
 * sbatch lines, status snippets, cancel commands) meets the real scheduler. No mocks.
 *
 * Counting sbatch calls: this file's sshd sets PATH (sshd_config `SetEnv`) so that a counting
 * wrapper `sbatch` comes first for every session on THIS sshd only; it logs one line per call
 * (time, working folder, arguments) and execs the real sbatch. Each Dataset has its own remoteDir,
 * so the log tells exactly how many submissions each Dataset made. Other test files are untouched.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Computer } from "../src/computer/index.js";
import type { ConnectionStats } from "../src/connection/index.js";
import { SshConnection } from "../src/connection/ssh.js";
import { Dataset, type DatasetOptions } from "../src/index.js";
import { RunnerFailedError, SchedulerError, TemplateError } from "../src/shared/errors.js";
import { type SlurmCluster, startSlurm } from "./harness/slurm.js";
import { type SshdServer, sshRun, startSshd } from "./harness/sshd.js";

let cluster: SlurmCluster;
let server: SshdServer;
let work: string;
let wrapDir: string;
let sbatchLog: string;
const connections: SshConnection[] = [];
/** Every job id our Datasets got, cancelled at the end whatever happened. */
const ourJobs = new Set<string>();
const tag = `${process.pid}-${Date.now().toString(36)}`;
let seq = 0;

beforeAll(async () => {
  cluster = await startSlurm();
  // ssh users get no $SLURM_CONF: they must find the test cluster through /etc/slurm/slurm.conf
  expect(cluster.etcLinked, "/etc/slurm/slurm.conf must point at the test cluster").toBe(true);
  work = mkdtempSync(join(tmpdir(), "rr-slurm-ds-"));
  wrapDir = mkdtempSync(join(tmpdir(), "rr-sbatch-wrap-"));
  chmodSync(wrapDir, 0o755);
  sbatchLog = join(wrapDir, "sbatch.log");
  writeFileSync(sbatchLog, "", { mode: 0o666 });
  chmodSync(sbatchLog, 0o666);
  writeFileSync(
    join(wrapDir, "sbatch"),
    `#!/bin/bash\nprintf '%s\\t%s\\t%s\\n' "$(date +%s%N)" "$PWD" "$*" >> ${sbatchLog}\nexec /usr/bin/sbatch "$@"\n`,
    { mode: 0o755 },
  );
  server = await startSshd({
    extraConfig: [`SetEnv PATH=${wrapDir}:/usr/local/bin:/usr/bin:/bin`],
  });
  const probe = await sshRun(server, "command -v sbatch; scontrol ping");
  expect(probe.stdout).toContain(`${wrapDir}/sbatch`);
  expect(probe.stdout).toMatch(/is UP/);
});

afterAll(async () => {
  if (ourJobs.size && cluster) cluster.exec("scancel", [...ourJobs]);
  await Promise.all(connections.map((c) => c.close().catch(() => {})));
  if (server) {
    await sshRun(server, `rm -rf rr-slurm-${tag}-*`).catch(() => {});
    await server.stop();
  }
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  if (wrapDir) rmSync(wrapDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------ helpers

interface Made<A extends Record<string, unknown>, R> {
  ds: Dataset<A, R>;
  conn: SshConnection;
  remoteDir: string;
  localDir: string;
}

function sshConnection(): SshConnection {
  const c = new SshConnection(server.connectionOptions());
  connections.push(c);
  return c;
}

/** A Dataset over its own SSH connection, with its own remote folder (relative to rmtest's home). */
function make<A extends Record<string, unknown>, R>(
  fn: (args: A, ctx: { name: string; upstream?: unknown }) => R | Promise<R>,
  options: DatasetOptions & { remoteDir?: string; conn?: SshConnection } = {},
): Made<A, R> {
  const n = ++seq;
  const conn = options.conn ?? sshConnection();
  const remoteDir = options.remoteDir ?? `rr-slurm-${tag}-${n}`;
  const localDir = join(work, `local-${n}`);
  const { conn: _c, ...rest } = options;
  const ds = new Dataset<A, R>(fn, {
    name: `sl${n}-${tag}`, // unique across concurrent runs of this file: job names are `<name>-<s>`
    skip: false,
    verbose: 0,
    dbDir: join(work, "db"),
    computer: Computer.slurm(),
    ...rest,
    connection: conn,
    remoteDir,
    localDir,
  });
  return { ds, conn, remoteDir, localDir };
}

function remember(ds: Dataset<never, unknown> | Dataset<Record<string, unknown>, unknown>): void {
  for (const r of ds.runners) if (r.jobId) ourJobs.add(r.jobId.replace(/_\d+$/, ""));
}

/** sbatch calls made from inside this remote folder (the submission cds into <remoteDir>/<folder>). */
function sbatchCalls(remoteDir: string): string[][] {
  return readFileSync(sbatchLog, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t"))
    .filter(([, pwd]) => pwd.includes(`/${remoteDir}/`) || pwd.endsWith(`/${remoteDir}`));
}

/** `scontrol show job -o ID` as root; one line per job (array: one per task record). */
function showJob(id: string): string {
  const r = cluster.exec("scontrol", ["show", "job", "-o", id]);
  expect(r.status, `scontrol show job ${id}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

function field(record: string, key: string): string | undefined {
  return new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(record)?.[1];
}

/** Live (not finished) jobs among these ids, as `squeue` sees them. */
function liveJobs(ids: readonly string[]): string[] {
  if (ids.length === 0) return [];
  const r = cluster.exec("squeue", ["-h", "-a", "-r", "-j", ids.join(","), "-o", "%i %T"]);
  return r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/** Every job (any state, still known to slurmctld) of this Dataset (job names are `<dataset>-<s>`). */
function jobsNamed(dataset: string): string[] {
  const r = cluster.exec("squeue", ["-h", "-a", "-t", "all", "-o", "%i %j"]);
  const own = new RegExp(`^${dataset.replace(/[.]/g, "\\.")}-\\d+$`);
  return r.stdout.split("\n").filter((l) => own.test(l.trim().split(/\s+/)[1] ?? ""));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms\n${cluster.squeue()}`);
    await sleep(200);
  }
}

/** Refresh the Dataset (one status command) until `done` holds. */
async function poll(
  ds: { isFinished(): Promise<boolean[]> },
  done: () => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await ds.isFinished();
    if (done()) return;
    if (Date.now() > deadline)
      throw new Error(`condition not reached in ${timeoutMs} ms\n${cluster.squeue()}`);
    await sleep(300);
  }
}

function delta(before: ConnectionStats, after: ConnectionStats): ConnectionStats {
  return {
    launches: after.launches - before.launches,
    execs: after.execs - before.execs,
    pushes: after.pushes - before.pushes,
    pulls: after.pulls - before.pulls,
  };
}

const snap = (c: SshConnection): ConnectionStats => ({ ...c.stats });

function stagedJobScripts(localDir: string, folder: string): string[] {
  const dir = join(localDir, folder);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((f) => /^job-.*\.sh$/.test(f)).map((f) => readFileSync(join(dir, f), "utf8"));
}

// ------------------------------------------------------------------------------------ tests

describe("Dataset over SSH through a real Slurm", () => {
  it("20 runners: submitted, tracked, fetched; job script from run args, visible in scontrol", async () => {
    const t0 = Date.now();
    const { ds, conn, remoteDir, localDir } = make(
      function square({ x }: { x: number }) {
        const env = process.env;
        const job = env.SLURM_ARRAY_JOB_ID
          ? `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`
          : String(env.SLURM_JOB_ID);
        return { x2: x * x, job, user: String(env.USER), cwd: process.cwd() };
      },
      { time: 120, nodes: 1, mem: "100M" },
    );
    // runners 10..19 override the time limit (another header → another submission)
    for (let x = 0; x < 20; x++) ds.appendRun({ x }, x >= 10 ? { time: "3m" } : {});
    const { submitted } = await ds.run();
    remember(ds);
    expect(submitted).toHaveLength(20);

    // the staged job scripts, as rendered from the run args
    const scripts = stagedJobScripts(localDir, ds.folder);
    expect(scripts).toHaveLength(2);
    for (const s of scripts) {
      expect(s.startsWith("#!/bin/bash\n")).toBe(true);
      expect(s).toContain("#SBATCH --nodes=1\n");
      expect(s).toContain("#SBATCH --mem=100M\n");
      expect(s).not.toMatch(/#SBATCH --(partition|account|qos|ntasks|gpus|exclude)/); // optional, empty
    }
    expect(scripts.filter((s) => s.includes("#SBATCH --time=00:02:00\n"))).toHaveLength(1);
    expect(scripts.filter((s) => s.includes("#SBATCH --time=00:03:00\n"))).toHaveLength(1);

    // two array submissions of 10 tasks; each runner has its own task id
    const ids = ds.runners.map((r) => r.jobId ?? "");
    for (const id of ids) expect(id).toMatch(/^\d+_\d+$/);
    expect(new Set(ids).size).toBe(20);
    const arrays = [...new Set(ids.map((id) => id.split("_")[0]))];
    expect(arrays).toHaveLength(2);
    expect(ids.slice(0, 10)).toEqual([...Array(10).keys()].map((t) => `${arrays[0]}_${t}`));
    expect(ids.slice(10)).toEqual([...Array(10).keys()].map((t) => `${arrays[1]}_${t}`));
    expect(sbatchCalls(remoteDir)).toHaveLength(2);

    // what Slurm made of the directives (MinJobAge keeps finished jobs visible)
    const first = showJob(ids[0]);
    expect(field(first, "TimeLimit")).toBe("00:02:00");
    expect(field(first, "MinMemoryNode")).toBe("100M");
    expect(field(first, "NumNodes")).toMatch(/^1(-1)?$/);
    expect(field(first, "UserId")).toMatch(/^rmtest\(/);
    expect(field(first, "JobName")).toBe(`${ds.name}-0`);
    const later = showJob(ids[15]);
    expect(field(later, "TimeLimit")).toBe("00:03:00");
    expect(field(later, "MinMemoryNode")).toBe("100M");

    await ds.wait({ interval: 0.5, timeout: 60 });
    expect(ds.runners.every((r) => r.state === "completed")).toBe(true);
    await ds.fetchResults();
    expect(ds.errors.every((e) => e === undefined)).toBe(true);
    ds.results.forEach((res, i) => {
      const r = res as { x2: number; job: string; user: string; cwd: string };
      expect(r.x2).toBe(i * i);
      expect(r.job).toBe(ids[i]); // the runner ran in the very task the Dataset tracked
      expect(r.user).toBe("rmtest");
      expect(r.cwd.endsWith(`/${remoteDir}`)).toBe(true);
    });
    expect(ds.runners.every((r) => r.state === "satisfied")).toBe(true);
    for (const a of arrays) expect(field(showJob(`${a}_0`), "JobState")).toBe("COMPLETED");
    console.log(`20 runners over ssh+slurm: ${Date.now() - t0} ms; stats ${JSON.stringify(conn.stats)}`);
  });

  it("array mode: 200 runners are ONE sbatch (one array job, task i = runner i); all results back", async () => {
    const t0 = Date.now();
    const { ds, conn, remoteDir } = make(function triple({ x }: { x: number }) {
      return { x3: 3 * x, task: Number(process.env.SLURM_ARRAY_TASK_ID) };
    });
    ds.appendRuns([...Array(200).keys()].map((x) => ({ x })));
    const before = snap(conn);
    await ds.run();
    remember(ds);
    expect(delta(before, conn.stats)).toMatchObject({ execs: 1, pushes: 1 });
    const calls = sbatchCalls(remoteDir);
    expect(calls, "sbatch calls from this Dataset's folder").toHaveLength(1);
    expect(calls[0][2]).toContain("--array=0-199");
    const ids = ds.runners.map((r) => r.jobId ?? "");
    const arrayId = ids[0].split("_")[0];
    expect(arrayId).toMatch(/^\d+$/);
    expect(ids).toEqual([...Array(200).keys()].map((i) => `${arrayId}_${i}`));
    // Slurm agrees: every task of the one array job carries ArrayJobId=<id>
    const tasks = showJob(arrayId)
      .split("\n")
      .filter((l) => l.trim() !== "");
    expect(tasks.every((l) => field(l, "ArrayJobId") === arrayId)).toBe(true);
    const named = jobsNamed(ds.name);
    expect(named.length).toBeGreaterThan(0);
    expect(named.every((l) => l.startsWith(`${arrayId}_`))).toBe(true);

    await ds.wait({ interval: 0.5, timeout: 90 });
    await ds.fetchResults();
    expect(ds.results).toEqual([...Array(200).keys()].map((x) => ({ x3: 3 * x, task: x })));
    expect(sbatchCalls(remoteDir)).toHaveLength(1);
    console.log(`200 runners as one array: ${Date.now() - t0} ms`);
  });

  it("packing: runnersPerJob 50 → 4 array tasks of 50 runners, each runner its own result", async () => {
    const t0 = Date.now();
    const { ds, remoteDir } = make(function tagged({ x }: { x: number }) {
      if (x === 77) throw new Error(`no luck with ${x}`);
      return { x, task: Number(process.env.SLURM_ARRAY_TASK_ID) };
    });
    ds.appendRuns([...Array(200).keys()].map((x) => ({ x })));
    await ds.run({ runnersPerJob: 50 });
    remember(ds);
    expect(sbatchCalls(remoteDir)).toHaveLength(1);
    expect(sbatchCalls(remoteDir)[0][2]).toContain("--array=0-3");
    const ids = ds.runners.map((r) => r.jobId ?? "");
    const arrayId = ids[0].split("_")[0];
    expect(ids).toEqual([...Array(200).keys()].map((i) => `${arrayId}_${Math.floor(i / 50)}`));
    await ds.wait({ interval: 0.5, timeout: 60 });
    await ds.fetchResults();
    ds.results.forEach((res, i) => {
      if (i === 77) {
        expect(res).toBeInstanceOf(RunnerFailedError);
        expect((res as RunnerFailedError).message).toContain("no luck with 77");
      } else expect(res).toEqual({ x: i, task: Math.floor(i / 50) });
    });
    expect(ds.runners.filter((r) => r.state === "failed").map((r) => r.name)).toEqual(["runner-77"]);
    // the failing runner does not take its task's other 49 runners down
    expect(ds.runners.filter((r) => r.state === "satisfied")).toHaveLength(199);
    console.log(`200 runners packed in 4 tasks: ${Date.now() - t0} ms`);
  });

  it("a process that stopped after sbatch, before saving the job ids: the next one reads them from the launch record and submits nothing again", async () => {
    const { ds, remoteDir, conn } = make(function square({ x }: { x: number }) {
      return x * x;
    });
    ds.appendRuns([...Array(6).keys()].map((x) => ({ x })));
    await ds.run({ runnersPerJob: 2 });
    remember(ds);
    const ids = ds.runners.map((r) => r.jobId);
    expect(ids[0]).toMatch(/^\d+_0$/);
    // What the database holds when the driver dies right after the launch: transferred, no ids.
    for (const r of ds.runners) {
      r.state = "transferred";
      r.jobId = undefined;
    }
    ds.save();
    const again = Dataset.open(ds.dbFile, { connection: conn, verbose: 0 });
    const res = await again.run();
    expect(res.submitted).toEqual([]);
    expect(again.runners.map((r) => r.jobId)).toEqual(ids);
    expect(sbatchCalls(remoteDir)).toHaveLength(1);
    await again.wait({ interval: 0.5, timeout: 60 });
    await again.fetchResults();
    expect(again.results).toEqual([0, 1, 4, 9, 16, 25]);
    await again.close();
  });

  it("cancel() of a running Dataset leaves none of its jobs in squeue; runners failed (cancelled)", async () => {
    const { ds } = make(
      async function snooze({ s }: { s: number }) {
        await new Promise((r) => setTimeout(r, s * 1000));
        return s;
      },
      { time: 300 },
    );
    for (let i = 0; i < 4; i++) ds.appendRun({ s: 200 + i });
    await ds.run();
    remember(ds);
    const ids = ds.runners.map((r) => r.jobId ?? "");
    // wait until the tasks really run (the runs wrote "started")
    await poll(ds, () => ds.runners.every((r) => r.state === "started"), 30_000);
    expect(liveJobs(ids).length).toBeGreaterThan(0);
    const cancelled = await ds.cancel();
    expect(cancelled).toEqual(ds.runners.map((r) => r.name));
    for (const r of ds.runners) {
      expect(r.state).toBe("failed");
      expect(r.errorText).toBe("cancelled");
      expect(r.error?.message).toBe("cancelled");
    }
    await until(
      "no live job of the cancelled Dataset",
      () => liveJobs(ids).length === 0 || undefined,
      15_000,
    );
    const named = jobsNamed(ds.name);
    expect(named.length).toBeGreaterThan(0); // still known to slurmctld, and none of them live
    expect(liveJobs(named.map((l) => l.split(" ")[0]))).toEqual([]);
    const rec = showJob(ids[0].split("_")[0]);
    expect(rec).toMatch(/JobState=CANCELLED/);
  });
});

describe("per-runner scheduler resources", () => {
  it("a runner's avoidNodes and timeout reach Slurm; a job refused by Slurm fails alone, the rest stays in flight", async () => {
    const { ds, localDir } = make(({ i }: { i: number }) => i);
    ds.appendRun({ i: 0 });
    // The single test node excluded: Slurm refuses that job outright, which proves the directive got there.
    ds.appendRun({ i: 1 }, { avoidNodes: [cluster.node], timeout: 180 });
    const error = await ds.run().then(
      () => undefined,
      (e) => e,
    );
    remember(ds);
    expect(error).toBeInstanceOf(SchedulerError);
    expect((error as Error).message).toMatch(/node configuration is not available/);
    expect((error as Error).message).toMatch(
      /1 runner\(s\) of jobs submitted before the failure are in flight/,
    );
    const scripts = stagedJobScripts(localDir, ds.folder);
    const avoiding = scripts.find((t) => t.includes(`#SBATCH --exclude=${cluster.node}`));
    expect(avoiding).toContain("#SBATCH --time=00:03:00");
    const plain = scripts.find((t) => !t.includes("--exclude"));
    expect(plain).not.toContain("--time");
    // runner-0's job went through and is tracked; runner-1 is back to `created`, never half-submitted
    expect(ds.runners[0].state).toBe("submitted");
    expect(field(showJob(ds.runners[0].jobId!), "ExcNodeList")).toBe("(null)");
    expect(ds.runners[1].state).toBe("created");
    expect(ds.runners[1].jobId).toBeUndefined();
    await ds.wait({ interval: 0.5, timeout: 60 });
    await ds.fetchResults();
    expect(ds.results).toEqual([0, undefined]);
    // a later run() submits only what did not go (and Slurm refuses it again)
    const again = await ds.run().then(
      () => undefined,
      (e) => e,
    );
    expect(again).toBeInstanceOf(SchedulerError);
    expect(sbatchCalls(ds.runArgs.remoteDir as string)).toHaveLength(3);
  });
});

describe("dependencies through Slurm", () => {
  it("a.setDownstream(b): b's task i waits for a's task i (aftercorr), gets its result; a failure fails b's runner", async () => {
    const t0 = Date.now();
    const conn = sshConnection();
    const remoteDir = `rr-slurm-${tag}-chain`;
    const a = make(
      async function stageA({ i }: { i: number }) {
        const start = Date.now();
        await new Promise((r) => setTimeout(r, 1500));
        if (i === 2) throw new Error(`stage A refuses ${i}`);
        return { i, value: i * 100, start, end: Date.now() };
      },
      { conn, remoteDir, time: 60 },
    ).ds;
    const b = make(
      function stageB({ j }: { j: number }, ctx: { name: string; upstream?: unknown }) {
        const up = ctx.upstream as { i: number; value: number; end: number };
        return { j, fromA: up.value + j, upstreamIndex: up.i, start: Date.now() };
      },
      { conn, remoteDir, time: 60 },
    ).ds;
    a.setDownstream(b as unknown as Dataset<Record<string, unknown>, unknown>);
    for (let i = 0; i < 4; i++) {
      a.appendRun({ i });
      b.appendRun({ j: i });
    }
    await a.run(); // submits a, then b's matching runners with dependencies
    remember(a);
    remember(b);
    const aIds = a.runners.map((r) => r.jobId ?? "");
    const bIds = b.runners.map((r) => r.jobId ?? "");
    const aArray = aIds[0].split("_")[0];
    const bArray = bIds[0].split("_")[0];
    expect(aIds).toEqual([0, 1, 2, 3].map((t) => `${aArray}_${t}`));
    expect(bIds).toEqual([0, 1, 2, 3].map((t) => `${bArray}_${t}`));
    expect(b.runners.every((r) => r.state === "submitted")).toBe(true);
    expect(sbatchCalls(remoteDir)).toHaveLength(2);
    expect(sbatchCalls(remoteDir)[1][2]).toContain(`--dependency=aftercorr:${aArray}`);
    // while a sleeps, b's tasks wait on their dependency
    const pending = showJob(bIds[0]);
    expect(field(pending, "JobState")).toBe("PENDING");
    expect(field(pending, "Dependency")).toMatch(new RegExp(`^aftercorr:${aArray}_\\*`));
    expect(field(pending, "Reason")).toMatch(/^(Dependency|None)$/); // None: not evaluated yet

    await a.wait({ interval: 0.5, timeout: 60 });
    await b.wait({ interval: 0.5, timeout: 60 });
    await a.fetchResults();
    await b.fetchResults();

    expect(a.runners.map((r) => r.state)).toEqual(["satisfied", "satisfied", "failed", "satisfied"]);
    expect(a.errors[2]?.message).toBe("Error: stage A refuses 2");
    // the failed runner's job failed for Slurm too (that is what aftercorr judges)
    expect(field(showJob(aIds[2]), "JobState")).toBe("FAILED");
    expect(field(showJob(aIds[1]), "JobState")).toBe("COMPLETED");
    expect(b.runners.map((r) => r.state)).toEqual(["satisfied", "satisfied", "failed", "satisfied"]);
    const why = b.runners[2].errorText ?? "";
    expect(why).toMatch(/upstream runner did not succeed/);
    expect(why).toMatch(/DependencyNeverSatisfied/);
    expect(b.errors[2]).toBeInstanceOf(RunnerFailedError);
    // the stuck task was cancelled by the Dataset, nothing of b is left in the queue
    await until("b's stuck task gone", () => liveJobs(bIds).length === 0 || undefined, 10_000);
    expect(field(showJob(bIds[2]), "JobState")).toBe("CANCELLED");
    for (const i of [0, 1, 3]) {
      const ra = a.results[i] as { value: number; end: number };
      const rb = b.results[i] as { j: number; fromA: number; upstreamIndex: number; start: number };
      expect(rb).toMatchObject({ j: i, fromA: i * 100 + i, upstreamIndex: i });
      expect(rb.start).toBeGreaterThanOrEqual(ra.end); // b's runner i started after a's runner i ended
      expect(field(showJob(bIds[i]), "JobState")).toBe("COMPLETED");
    }
    console.log(`two-stage chain: ${Date.now() - t0} ms`);
  });
  it("packed chain (runnersPerJob 2): a task with a success still starts its downstream task; per-runner outcome", async () => {
    const conn = sshConnection();
    const remoteDir = `rr-slurm-${tag}-packed-chain`;
    const a = make(
      function first({ i }: { i: number }) {
        if (i === 2) throw new Error(`first refuses ${i}`);
        return i * 10;
      },
      { conn, remoteDir },
    ).ds;
    const b = make(
      function second({ j }: { j: number }, ctx: { name: string; upstream?: unknown }) {
        return (ctx.upstream as number) + j;
      },
      { conn, remoteDir },
    ).ds;
    b.setUpstream(a as unknown as Dataset<Record<string, unknown>, unknown>);
    for (let i = 0; i < 6; i++) {
      a.appendRun({ i });
      b.appendRun({ j: i });
    }
    await a.run({ runnersPerJob: 2 });
    remember(a);
    remember(b);
    const bIds = b.runners.map((r) => r.jobId ?? "");
    const bArray = bIds[0].split("_")[0];
    // b mirrors a's packing: task t of b holds the runners whose upstreams ran in task t of a
    expect(bIds).toEqual([0, 0, 1, 1, 2, 2].map((t) => `${bArray}_${t}`));
    await a.wait({ interval: 0.5, timeout: 60 });
    await b.wait({ interval: 0.5, timeout: 60 });
    await a.fetchResults();
    await b.fetchResults();
    expect(a.runners.map((r) => r.state)).toEqual([
      "satisfied",
      "satisfied",
      "failed",
      ...Array(3).fill("satisfied"),
    ]);
    // a's task 1 had one success (runner-3): it completed, so b's task 1 ran; runner-2 of b fails alone
    expect(b.results[3]).toBe(33);
    expect(b.runners[2].state).toBe("failed");
    expect(b.errors[2]?.message).toMatch(/upstream runner runner-2 has no result/);
    expect([0, 1, 4, 5].map((i) => b.results[i])).toEqual([0, 11, 44, 55]);
  });
});

describe("template errors stop the submission before anything is sent", () => {
  const cases: {
    what: string;
    computer: () => Computer;
    runArgs: Record<string, unknown>;
    perRunner?: Record<string, unknown>;
    placeholder: string;
    runner: string;
    message: RegExp;
  }[] = [
    {
      what: "a required placeholder without a value",
      computer: () =>
        new Computer({
          name: "acct",
          template: "#!/bin/bash\n#SBATCH --account=#account#",
          submitter: "sbatch",
        }),
      runArgs: {},
      placeholder: "account",
      runner: "runner-0",
      message: /required but no value was given/,
    },
    {
      what: "a value below min (nodes: 0 on runner-1 only)",
      computer: () => Computer.slurm(),
      runArgs: { nodes: 1 },
      perRunner: { nodes: 0 },
      placeholder: "nodes",
      runner: "runner-1",
      message: /0 is below min 1/,
    },
    {
      what: 'a bad time string (time: "soon")',
      computer: () => Computer.slurm(),
      runArgs: { time: "soon" },
      placeholder: "time",
      runner: "runner-0",
      message: /"soon" is not a duration/,
    },
    {
      what: "requires: a placeholder whose required partner has no value",
      computer: () =>
        new Computer({
          name: "gpu",
          template:
            "#!/bin/bash\n#SBATCH --gres=gpu:#gpus:optional=true:requires=gpuKind#\n#SBATCH --constraint=#gpuKind:optional=true#",
          submitter: "sbatch",
        }),
      runArgs: { gpus: 2 },
      placeholder: "gpus",
      runner: "runner-0",
      message: /requires "gpuKind", which has no value/,
    },
  ];

  for (const c of cases) {
    it(`${c.what} → TemplateError naming placeholder and runner; nothing staged, sent or submitted`, async () => {
      const { ds, conn, remoteDir, localDir } = make(
        function never({ x }: { x: number }) {
          return x;
        },
        { computer: c.computer(), ...c.runArgs },
      );
      ds.appendRun({ x: 0 });
      ds.appendRun({ x: 1 }, c.perRunner ?? {});
      const err = await ds.run().catch((e) => e);
      expect(err).toBeInstanceOf(TemplateError);
      expect(err).toMatchObject({ placeholder: c.placeholder, runner: c.runner });
      expect(err.message).toContain(`runner ${c.runner}: placeholder #${c.placeholder}#`);
      expect(err.message).toMatch(c.message);
      expect(ds.runners.map((r) => r.state)).toEqual(["created", "created"]);
      expect(ds.runners.map((r) => r.jobId)).toEqual([undefined, undefined]);
      // not one process towards the remote side: no push, no submit
      expect(conn.stats).toEqual({ launches: 0, execs: 0, pushes: 0, pulls: 0 });
      expect(stagedJobScripts(localDir, ds.folder)).toEqual([]);
      expect(sbatchCalls(remoteDir)).toEqual([]);
      expect(jobsNamed(ds.name)).toEqual([]);
      const remote = await sshRun(server, `test -e ${remoteDir} && echo exists || echo absent`);
      expect(remote.stdout.trim()).toBe("absent");
    });
  }

  it("requires naming a placeholder the template lacks → TemplateError when the Computer is made", () => {
    const err = (() => {
      try {
        new Computer({
          name: "bad",
          template: "#!/bin/bash\n#SBATCH --gres=gpu:#gpus:optional=true:requires=gpuKind#",
          submitter: "sbatch",
        });
      } catch (e) {
        return e;
      }
    })() as TemplateError;
    expect(err).toBeInstanceOf(TemplateError);
    expect(err.placeholder).toBe("gpus");
    expect(err.message).toMatch(/requires "gpuKind", which is not a placeholder of this template/);
  });
});

describe("SSH launches per phase do not grow with the number of runners", () => {
  it("N=5 and N=200 (array mode): run(), one isFinished(), fetchResults() cost the same, ≤ 3 each", async () => {
    const t0 = Date.now();
    const perPhase: Record<number, Record<string, ConnectionStats>> = {};
    for (const n of [5, 200]) {
      const { ds, conn, remoteDir } = make(function plusOne({ x }: { x: number }) {
        return x + 1;
      });
      ds.appendRuns([...Array(n).keys()].map((x) => ({ x })));
      let s = snap(conn);
      await ds.run();
      remember(ds);
      const run = delta(s, conn.stats);
      s = snap(conn);
      await ds.isFinished(); // the jobs are still in flight: one status command
      const status = delta(s, conn.stats);
      await ds.wait({ interval: 0.5, timeout: 90 });
      s = snap(conn);
      await ds.fetchResults();
      const fetch = delta(s, conn.stats);
      expect(ds.results).toEqual([...Array(n).keys()].map((x) => x + 1));
      expect(sbatchCalls(remoteDir)).toHaveLength(1);
      perPhase[n] = { run, status, fetch };
    }
    console.log(`launches per phase: ${JSON.stringify(perPhase)} (${Date.now() - t0} ms)`);
    expect(perPhase[200]).toEqual(perPhase[5]);
    for (const phase of Object.values(perPhase[200])) expect(phase.launches).toBeLessThanOrEqual(3);
    expect(perPhase[200].run).toEqual({ launches: 2, execs: 1, pushes: 1, pulls: 0 });
    expect(perPhase[200].status).toEqual({ launches: 1, execs: 1, pushes: 0, pulls: 0 });
    // every runner has finished: one command reads the collected results of the whole submission
    expect(perPhase[200].fetch).toEqual({ launches: 1, execs: 1, pushes: 0, pulls: 0 });
  });
});

describe("time limits", () => {
  it("a job that exceeds its timeout is killed by Slurm (TIMEOUT) and its runner is failed with that reason", async () => {
    const t0 = Date.now();
    const { ds, localDir } = make(
      async function overrun({ s }: { s: number }) {
        await new Promise((r) => setTimeout(r, s * 1000));
        return s;
      },
      { timeout: 60 },
    );
    ds.appendRun({ s: 600 });
    await ds.run();
    remember(ds);
    const [script] = stagedJobScripts(localDir, ds.folder);
    expect(script).toContain("#SBATCH --time=00:01:00\n");
    const id = ds.runners[0].jobId ?? "";
    expect(id).toMatch(/^\d+$/); // a single runner is a plain job, not an array
    expect(field(showJob(id), "TimeLimit")).toBe("00:01:00");
    // Slurm's own enforcement of --time is shown by the harness's tests; here the limit is cut once
    // the job runs, so that Slurm ends it with TIMEOUT at its next check (0-30 s instead of 60-90).
    for (let i = 0; i < 100 && field(showJob(id), "JobState") !== "RUNNING"; i++)
      await new Promise((r) => setTimeout(r, 200));
    cluster.expireTimeLimit(id);
    await ds.wait({ interval: 0.5, timeout: 140 });
    const elapsed = Date.now() - t0;
    const r = ds.runners[0];
    expect(r.state).toBe("failed");
    expect(r.errorText).toMatch(/TIMEOUT/);
    await ds.fetchResults();
    expect(ds.results[0]).toBeInstanceOf(RunnerFailedError);
    expect((ds.results[0] as RunnerFailedError).message).toMatch(/TIMEOUT/);
    expect(field(showJob(id), "JobState")).toBe("TIMEOUT");
    expect(field(showJob(id), "Reason")).toBe("TimeLimit");
    console.log(`time limit cut: failed after ${elapsed} ms: ${r.errorText}`);
  }, 150_000);
});
