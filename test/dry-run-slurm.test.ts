/**
 * Dry runs through a REAL Slurm (test/harness/slurm.ts) over a REAL sshd (test/harness/sshd.ts), as
 * in slurm-dataset.test.ts: this file's sshd puts a counting `sbatch` wrapper first on PATH (it logs
 * one line per call, with its working folder and arguments, then execs the real sbatch).
 *
 * A dry run makes no sbatch call, no job, no remote file and no change to the database or the
 * runners; the real run() afterwards submits exactly what the dry run rendered: the same job script
 * and the same sbatch arguments, the token aside.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Computer } from "../src/computer/index.js";
import { SshConnection } from "../src/connection/ssh.js";
import { Dataset } from "../src/index.js";
import { type SlurmCluster, startSlurm } from "./harness/slurm.js";
import { type SshdServer, sshRun, startSshd } from "./harness/sshd.js";
import { checkSubmissionFiles, databaseHashes, runnerStates } from "./helpers/dryrun.js";

let cluster: SlurmCluster;
let server: SshdServer;
let work: string;
let wrapDir: string;
let sbatchLog: string;
const connections: SshConnection[] = [];
const ourJobs = new Set<string>();
const tag = `${process.pid}-${Date.now().toString(36)}`;

beforeAll(async () => {
  cluster = await startSlurm();
  expect(cluster.etcLinked, "/etc/slurm/slurm.conf must point at the test cluster").toBe(true);
  work = mkdtempSync(join(tmpdir(), "rr-dry-slurm-"));
  wrapDir = mkdtempSync(join(tmpdir(), "rr-dry-sbatch-"));
  chmodSync(wrapDir, 0o755);
  sbatchLog = join(wrapDir, "sbatch.log");
  writeFileSync(sbatchLog, "", { mode: 0o666 });
  chmodSync(sbatchLog, 0o666);
  writeFileSync(
    join(wrapDir, "sbatch"),
    `#!/bin/bash\nprintf '%s\\t%s\\t%s\\n' "$(date +%s%N)" "$PWD" "$*" >> ${sbatchLog}\nexec /usr/bin/sbatch "$@"\n`,
    { mode: 0o755 },
  );
  server = await startSshd({ extraConfig: [`SetEnv PATH=${wrapDir}:/usr/local/bin:/usr/bin:/bin`] });
  const probe = await sshRun(server, "command -v sbatch; scontrol ping");
  expect(probe.stdout).toContain(`${wrapDir}/sbatch`);
  expect(probe.stdout).toMatch(/is UP/);
}, 180_000);

afterAll(async () => {
  if (ourJobs.size && cluster) cluster.exec("scancel", [...ourJobs]);
  await Promise.all(connections.map((c) => c.close().catch(() => {})));
  if (server) {
    await sshRun(server, `rm -rf rr-dry-slurm-${tag}-*`).catch(() => {});
    await server.stop();
  }
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  if (wrapDir) rmSync(wrapDir, { recursive: true, force: true });
});

/** Every sbatch call through the wrapper: [time, working folder, arguments]. */
function sbatchCalls(): string[][] {
  return readFileSync(sbatchLog, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t"));
}

/** Every job slurmctld knows (any state) whose name is `<dataset>-<s>`. */
function jobsNamed(dataset: string): string[] {
  const r = cluster.exec("squeue", ["-h", "-a", "-t", "all", "-o", "%i %j"]);
  const own = new RegExp(`^${dataset.replace(/[.]/g, "\\.")}-\\d+$`);
  return r.stdout.split("\n").filter((l) => own.test(l.trim().split(/\s+/)[1] ?? ""));
}

function remember(ds: { runners: readonly { jobId?: string }[] }): void {
  for (const r of ds.runners) if (r.jobId) ourJobs.add(r.jobId.replace(/_\d+$/, ""));
}

function make(n: number) {
  const connection = new SshConnection(server.connectionOptions());
  connections.push(connection);
  const remoteDir = `rr-dry-slurm-${tag}-${n}`;
  const opts = {
    skip: false,
    verbose: 0,
    dbDir: join(work, "db"),
    localDir: join(work, `local-${n}`),
    remoteDir,
    computer: Computer.slurm(),
    connection,
    time: 120,
    mem: "100M",
  };
  return { connection, remoteDir, opts };
}

const remoteExists = async (c: SshConnection, path: string) =>
  (await c.exec(`test -e ${path} && echo there || echo absent`)).stdout.trim() === "there";

describe("dry run through a real Slurm", () => {
  it("no sbatch call, job, remote file or database change; the real run() submits what it rendered", async () => {
    const { connection, remoteDir, opts } = make(1);
    const ds = new Dataset((a: { x: number }) => a.x * 10, { name: `dry1-${tag}`, ...opts });
    ds.appendRuns([0, 1, 2, 3, 4].map((x) => ({ x })));
    const db = databaseHashes(ds.dbFile);
    const states = runnerStates(ds);
    const calls = sbatchCalls().length;
    const stats = { ...connection.stats };

    const r = await ds.run({ dryRun: true });
    expect(sbatchCalls()).toHaveLength(calls);
    expect(connection.stats).toEqual(stats);
    expect(jobsNamed(ds.name)).toEqual([]);
    expect(await remoteExists(connection, remoteDir)).toBe(false);
    expect(databaseHashes(ds.dbFile)).toEqual(db);
    expect(runnerStates(ds)).toEqual(states);

    expect(r.dryRun.runners).toHaveLength(5);
    const s = r.dryRun.submissions[0];
    checkSubmissionFiles(s);
    expect(s.scheduler).toBe("slurm");
    expect(s.commands).toHaveLength(1);
    expect(s.commands[0]).toContain(`sbatch --parsable --job-name=${ds.name}-0`);
    expect(s.commands[0]).toContain("--array=0-4");
    const dryJob = readFileSync(s.jobScripts[0], "utf8");
    expect(dryJob).toContain("#SBATCH --time=00:02:00\n");
    expect(dryJob).toContain("#SBATCH --mem=100M\n");

    // The real run: one sbatch, with the arguments the dry run showed, of the job script it rendered.
    const real = await ds.run();
    remember(ds);
    expect(real.submitted).toEqual(r.dryRun.runners);
    const made = sbatchCalls().slice(calls);
    expect(made).toHaveLength(1);
    const token = ds.runners[0].token!;
    const shown = /sbatch (.*) \| cut/.exec(s.commands[0])![1].replaceAll(s.token, token);
    expect(made[0][2]).toBe(shown);
    expect(made[0][1].endsWith(`/${remoteDir}/${ds.folder}`)).toBe(true);
    const realJob = readFileSync(join(opts.localDir, ds.folder, `job-${token}-0.sh`), "utf8");
    expect(realJob).toBe(dryJob.replaceAll(s.token, token));
    await ds.wait({ interval: 0.5, timeout: 90 });
    await ds.fetchResults();
    expect(ds.results).toEqual([0, 10, 20, 30, 40]);
    expect(jobsNamed(ds.name).length).toBeGreaterThan(0);
    expect((await connection.exec(`ls ${remoteDir}/${ds.folder}`)).stdout).not.toContain("dry-run-");
    await ds.close();
  });

  it("a chain: both Datasets rendered, the downstream job depending on the upstream's; nothing submitted", async () => {
    const { connection, remoteDir, opts } = make(2);
    const up = new Dataset((a: { x: number }) => a.x + 1, { name: `dryup-${tag}`, ...opts });
    const down = new Dataset(
      (_a: { y: number }, ctx: { upstream?: unknown }) => (ctx.upstream as number) * 2,
      { name: `drydown-${tag}`, ...opts },
    );
    up.setDownstream(down as unknown as Dataset);
    up.appendRuns([{ x: 1 }, { x: 2 }]);
    down.appendRuns([{ y: 1 }, { y: 2 }]);
    const dbs = [databaseHashes(up.dbFile), databaseHashes(down.dbFile)];
    const states = [runnerStates(up), runnerStates(down)];
    const calls = sbatchCalls().length;

    const r = await up.run({ dryRun: true });
    expect(sbatchCalls()).toHaveLength(calls);
    expect(jobsNamed(up.name)).toEqual([]);
    expect(jobsNamed(down.name)).toEqual([]);
    expect(await remoteExists(connection, remoteDir)).toBe(false);
    expect([databaseHashes(up.dbFile), databaseHashes(down.dbFile)]).toEqual(dbs);
    expect([runnerStates(up), runnerStates(down)]).toEqual(states);
    const [a, b] = r.dryRun.submissions;
    expect([a.dataset, b.dataset]).toEqual([up.name, down.name]);
    for (const s of [a, b]) checkSubmissionFiles(s);
    expect(b.commands[0]).toContain(`--dependency=aftercorr:${up.name}.job0`);

    // The real chain runs: two sbatch calls, the second depending on the first job's real id.
    await up.run();
    remember(up);
    remember(down);
    const made = sbatchCalls().slice(calls);
    expect(made).toHaveLength(2);
    const upJob = up.runners[0].jobId!.replace(/_\d+$/, "");
    expect(made[1][2]).toContain(`--dependency=aftercorr:${upJob}`);
    await down.wait({ interval: 0.5, timeout: 120 });
    await down.fetchResults();
    expect(down.results).toEqual([4, 6]);
    await up.close();
    await down.close();
  });
});
