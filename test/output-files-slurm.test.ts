/**
 * Output files through a REAL single-node Slurm (test/harness/slurm.ts) over a REAL sshd: runners
 * packed into Slurm jobs each write a file of the SAME name in their own folder (`runDir:
 * "runs/{name}"`), and every file comes back under `<localDir>/<runner>/` with its own content, in
 * one push to submit and one pull to fetch (counted on the connection). Function and script Datasets.
 */
import { lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Computer } from "../src/computer/index.js";
import type { ConnectionStats } from "../src/connection/index.js";
import { SshConnection } from "../src/connection/ssh.js";
import { Dataset, type DatasetOptions } from "../src/index.js";
import { type SlurmCluster, startSlurm } from "./harness/slurm.js";
import { type SshdServer, sshRun, startSshd } from "./harness/sshd.js";

let cluster: SlurmCluster;
let server: SshdServer;
let work: string;
const tag = `${process.pid}-${Date.now().toString(36)}`;
const jobs = new Set<string>();
const connections: SshConnection[] = [];

beforeAll(async () => {
  cluster = await startSlurm();
  expect(cluster.etcLinked, "/etc/slurm/slurm.conf must point at the test cluster").toBe(true);
  work = mkdtempSync(join(tmpdir(), "rr-slurm-recv-"));
  server = await startSshd();
}, 300_000);

afterAll(async () => {
  if (jobs.size && cluster) cluster.exec("scancel", [...jobs]);
  await Promise.all(connections.map((c) => c.close().catch(() => {})));
  if (server) {
    await sshRun(server, `rm -rf rr-slurm-recv-${tag}-*`).catch(() => {});
    await server.stop();
  }
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

let seq = 0;

/** Writes `out/T1.txt` in its working folder: the same name for every runner, its own content. */
const writeOut = new Function(
  "args",
  `return import("node:fs").then((fs) => {
    fs.mkdirSync("out", { recursive: true });
    fs.writeFileSync("out/T1.txt", "runner " + args.x + " job " + process.env.SLURM_JOB_ID);
    return args.x;
  });`,
) as (args: { x: number }) => Promise<number>;

function make<A extends object, R>(fn: ((a: A) => R | Promise<R>) | undefined, options: DatasetOptions) {
  const n = ++seq;
  const connection = new SshConnection(server.connectionOptions());
  connections.push(connection);
  const localDir = join(work, `local-${n}`);
  const ds = new Dataset<A, R>(fn, {
    name: `slrecv${n}-${tag}`,
    skip: false,
    verbose: 0,
    dbDir: join(work, "db"),
    localDir,
    remoteDir: `rr-slurm-recv-${tag}-${n}`,
    connection,
    computer: Computer.slurm(),
    time: 60,
    runDir: "runs/{name}",
    ...options,
  });
  return { ds, connection, localDir };
}

const delta = (a: ConnectionStats, b: ConnectionStats) => ({
  pushes: b.pushes - a.pushes,
  pulls: b.pulls - a.pulls,
});

async function runAndFetch<A extends object, R>(ds: Dataset<A, R>, connection: SshConnection) {
  const s0 = { ...connection.stats };
  await ds.run({ runnersPerJob: 2 });
  for (const r of ds.runners) if (r.jobId) jobs.add(r.jobId.replace(/_\d+$/, ""));
  const s1 = { ...connection.stats };
  await ds.wait({ interval: 0.5, timeout: 120 });
  const s2 = { ...connection.stats };
  const results = await ds.fetchResults();
  const s3 = { ...connection.stats };
  return { results, run: delta(s0, s1), wait: delta(s1, s2), fetch: delta(s2, s3) };
}

describe("output files through Slurm", () => {
  it("a function Dataset: the same file name from every runner comes back, each its own, in one pull", async () => {
    const { ds, connection, localDir } = make(writeOut, { extraFilesRecv: ["out/T1.txt"] });
    ds.appendRuns([0, 1, 2, 3, 4].map((x) => ({ x })));
    const { results, run, wait, fetch } = await runAndFetch(ds, connection);
    expect(results).toEqual([0, 1, 2, 3, 4]);
    expect(run).toEqual({ pushes: 1, pulls: 0 });
    expect(wait).toEqual({ pushes: 0, pulls: 0 });
    expect(fetch).toEqual({ pushes: 0, pulls: 1 });
    for (let x = 0; x < 5; x++) {
      const file = join(localDir, `runner-${x}`, "out", "T1.txt");
      expect(readFileSync(file, "utf8")).toMatch(new RegExp(`^runner ${x} job \\d+$`));
      expect(lstatSync(file).mode & 0o777).toBe(0o600);
    }
    await ds.close();
  });

  it("a script Dataset: out/T1.txt from every runner, each with its own content, in one pull", async () => {
    const { ds, connection, localDir } = make(undefined, {
      script: "mkdir -p out\nprintf 'script %s\\n' #x# > out/T1.txt\necho ok #x#\n",
      extraFilesRecv: ["out/*.txt", "missing-*.dat"],
    });
    ds.appendRuns([1, 2, 3].map((x) => ({ x })));
    const { results, run, fetch } = await runAndFetch(ds, connection);
    expect(results).toEqual(["ok 1", "ok 2", "ok 3"]);
    expect(run.pushes).toBe(1);
    expect(fetch).toEqual({ pushes: 0, pulls: 1 });
    for (const x of [1, 2, 3])
      expect(readFileSync(join(localDir, `runner-${x - 1}`, "out", "T1.txt"), "utf8")).toBe(`script ${x}\n`);
    await ds.close();
  });
});
