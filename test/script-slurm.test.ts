/**
 * A script Dataset through a REAL single-node Slurm (test/harness/slurm.ts) over a REAL sshd, with a
 * connection whose node command does not exist: the job scripts run the runners with bash alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Computer } from "../src/computer/index.js";
import { SshConnection } from "../src/connection/ssh.js";
import { Dataset } from "../src/index.js";
import type { RunnerFailedError } from "../src/shared/errors.js";
import { type SlurmCluster, startSlurm } from "./harness/slurm.js";
import { type SshdServer, sshRun, startSshd } from "./harness/sshd.js";

let cluster: SlurmCluster;
let server: SshdServer;
let work: string;
const tag = `${process.pid}-${Date.now().toString(36)}`;
const jobs = new Set<string>();

beforeAll(async () => {
  cluster = await startSlurm();
  expect(cluster.etcLinked, "/etc/slurm/slurm.conf must point at the test cluster").toBe(true);
  work = mkdtempSync(join(tmpdir(), "rr-slurm-script-"));
  server = await startSshd();
}, 300_000);

afterAll(async () => {
  if (jobs.size && cluster) cluster.exec("scancel", [...jobs]);
  if (server) {
    await sshRun(server, `rm -rf rr-slurm-script-${tag}`).catch(() => {});
    await server.stop();
  }
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

it("script runners packed into a Slurm job array run with bash alone", async () => {
  const connection = new SshConnection({ ...server.connectionOptions(), node: "/nonexistent/node" });
  const ds = new Dataset(undefined, {
    script: "echo #i# $SLURM_ARRAY_JOB_ID\n[ #i# = 3 ] && { echo 'three is bad' >&2; exit 4; }\nexit 0\n",
    name: `slscript-${tag}`,
    skip: false,
    verbose: 0,
    dbDir: work,
    localDir: join(work, "local"),
    remoteDir: `rr-slurm-script-${tag}`,
    connection,
    computer: Computer.slurm(),
    time: 60,
  });
  ds.appendRuns([1, 2, 3, 4, 5].map((i) => ({ i })));
  try {
    await ds.run({ runnersPerJob: 2 });
    for (const r of ds.runners) if (r.jobId) jobs.add(r.jobId.replace(/_\d+$/, ""));
    // one sbatch --array: every runner has a task of the same job; 5 runners in 3 tasks
    expect(new Set(ds.runners.map((r) => r.jobId?.replace(/_\d+$/, ""))).size).toBe(1);
    expect(new Set(ds.runners.map((r) => r.jobId)).size).toBe(3);
    await ds.wait({ interval: 0.5, timeout: 120 });
    const results = await ds.fetchResults();
    const job = ds.runners[0].jobId!.replace(/_\d+$/, "");
    expect(results[0]).toMatch(new RegExp(`^1 ${job}$`));
    expect(results[1]).toMatch(/^2 \d+$/);
    expect((results[2] as RunnerFailedError).message).toBe("exited with code 4: three is bad");
    expect(results[3]).toMatch(/^4 \d+$/);
    expect(results[4]).toMatch(/^5 \d+$/);
    expect(ds.runners.map((r) => r.state)).toEqual([
      "satisfied",
      "satisfied",
      "failed",
      "satisfied",
      "satisfied",
    ]);
  } finally {
    await ds.close();
    await connection.close();
  }
}, 300_000);
