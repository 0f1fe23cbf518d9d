/**
 * A real single-node Slurm (munged + slurmctld + slurmd, Debian's slurm-wlm 22.05) for the test
 * suite, started WITHOUT systemd. Must run as root: slurmd has to setuid to the submitting user.
 *
 * Design (parallel safety)
 * ------------------------
 * Slurm's ports (6817/6818) and /etc/slurm/slurm.conf are machine-global, so there is ONE test
 * cluster per machine, in a well-known folder (default /tmp/remoterun-slurm, override with
 * REMOTERUN_SLURM_DIR or `options.dir`), shared by every test file and every concurrent vitest run:
 *
 *  - start/stop run under a lock (an atomically created folder `<dir>/lock` holding the owner's pid;
 *    a lock whose owner is dead, or older than 2 minutes, is broken).
 *  - Under the lock, startSlurm() checks each daemon by its pid file (pid alive AND /proc/PID/exe is
 *    the expected binary, see below), starts only the missing ones, and waits until `scontrol ping`
 *    is UP and the node is idle/mixed/allocated. A healthy running cluster is simply reused.
 *  - Each startSlurm() takes a lease: a file `<dir>/leases/<pid>-<uuid>`. stop() drops the lease and
 *    stops the daemons only when no lease of a LIVE process is left (leases of dead processes are
 *    pruned), so the last user turns the lights off. REMOTERUN_SLURM_KEEP=1 leaves it running
 *    (handy while iterating: the next start is then instant). stopSlurm() stops regardless of leases
 *    (for a global teardown or manual cleanup).
 *  - When the daemons are (re)started from scratch, the state and spool folders are wiped first,
 *    so no job of an earlier (crashed) run comes back; job ids then restart at 1.
 *  - If the config this harness would write differs from the one a running cluster uses (other
 *    options, or another checkout's harness), the cluster is restarted when nobody else holds a
 *    lease; otherwise it is joined as it is, with a warning.
 *  - If a port is held by something that is not this cluster (another engineer's slurmctld, a
 *    system one), start fails loudly, naming the port; pick others with options.ctldPort/slurmdPort.
 *  - /etc/slurm/slurm.conf (read by users reached via `ssh user@127.0.0.1 sbatch ...`, who do not
 *    get $SLURM_CONF) is symlinked to our config only if it is absent or already points at it;
 *    `etcLinked` says whether it does. stop() removes the link only if it is ours.
 *
 * Timings measured on the project's machine (2 cores, Debian 12, Slurm 22.05.8)
 * ---------------------------------------------------------------------------
 *  - cold start (munged + slurmctld + slurmd, node idle): ~0.15-0.3 s; joining a running one: ms.
 *    Stopping: each daemon needs ~2 s after SIGTERM; all three are signalled at once (~2 s).
 *  - trivial job submit -> COMPLETED: ~0.3-1.1 s. With batch_sched_delay=0 and sched_min_interval=0
 *    jobs are started by the 1-s background/backfill cycle (bf_interval=1), so ~1 s is the floor
 *    of the worst case; nothing in slurm.conf makes it shorter.
 *  - `--time` has MINUTE resolution: "0:05", "00:00:05" and "1" all become TimeLimit=00:01:00.
 *    slurmctld checks time limits every 30 s (PERIODIC_TIMEOUT, compiled in, no knob), so a job
 *    with --time=1 reaches TIMEOUT 60-90 s after it started (88.6 s measured once). The shortest
 *    reliable time limit is therefore --time=1 (one minute), enforced within 60-90 s.
 *    For fast tests, expireTimeLimit(jobId) (root: `scontrol update JobId=N EndTime=now`) makes a
 *    running job hit its limit at the next 30-s check: JobState=TIMEOUT Reason=TimeLimit, 0-30 s.
 *  - CPUs: the node is declared with max(nproc, 32) CPUs (SlurmdParameters=config_overrides keeps
 *    slurmd from draining a node that has fewer real cores). An array of 200 trivial tasks took
 *    49 s with CPUs=nproc=2, 9.7 s with 16, 7 s with 32, 5 s with 64: the scheduler starts a
 *    batch of tasks per 1-s cycle, bounded by free CPUs. Override with options.cpus or
 *    REMOTERUN_SLURM_CPUS.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface StartSlurmOptions {
  /** Cluster folder (default $REMOTERUN_SLURM_DIR or /tmp/remoterun-slurm). */
  dir?: string;
  /** slurmctld port (default 6817). */
  ctldPort?: number;
  /** slurmd port (default 6818). */
  slurmdPort?: number;
  /** CPUs of the node (default $REMOTERUN_SLURM_CPUS or max(nproc, 32)). */
  cpus?: number;
  /** Symlink /etc/slurm/slurm.conf to the test config when free (default true). */
  linkEtc?: boolean;
  /** apt-get install slurm-wlm munge when the binaries are missing (default true). */
  install?: boolean;
  /** How long to wait for the daemons / the node (default 60 s). */
  timeoutMs?: number;
}

export interface CmdResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Run as this user (through `runuser -u USER --`), with HOME/USER/LOGNAME set to theirs. */
  user?: string;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

export interface SlurmCluster {
  /** Path of slurm.conf. */
  conf: string;
  /** Cluster folder. */
  dir: string;
  partition: string;
  node: string;
  /** World-writable sticky scratch folder that any test user may submit from. */
  jobDir: string;
  /** Environment to give Slurm clients. */
  env: { SLURM_CONF: string };
  /** Whether /etc/slurm/slurm.conf points at `conf`. */
  etcLinked: boolean;
  /** True when all daemons were already running and healthy. */
  reused: boolean;
  /** Milliseconds startSlurm() took. */
  startMs: number;
  /** `squeue -a` of every job of the cluster (for diagnostics). */
  squeue(): string;
  /** Run a command with SLURM_CONF set, optionally as another user. Never throws on exit code. */
  exec(cmd: string, args: string[], opts?: ExecOptions): CmdResult;
  /** Make a running job exceed its time limit now: TIMEOUT at slurmctld's next 30-s check. */
  expireTimeLimit(jobId: string | number): void;
  /** Release this lease; the last live lease cancels all jobs and stops the daemons. */
  stop(): Promise<void>;
}

const NODE = "localhost";
const PARTITION = "debug";
const BIN = {
  munged: "/usr/sbin/munged",
  slurmctld: "/usr/sbin/slurmctld",
  slurmd: "/usr/sbin/slurmd",
};
const ETC_CONF = "/etc/slurm/slurm.conf";
const MUNGE_KEY = "/etc/munge/munge.key";

export function defaultSlurmDir(): string {
  return process.env.REMOTERUN_SLURM_DIR || "/tmp/remoterun-slurm";
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function run(cmd: string, args: string[], opts: ExecOptions & { env?: NodeJS.ProcessEnv } = {}): CmdResult {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    encoding: "utf8",
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    input: opts.input,
    timeout: opts.timeoutMs ?? 30_000,
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  const err = r.error ? `${r.error.message}\n` : "";
  return { status: r.status, stdout: r.stdout ?? "", stderr: err + (r.stderr ?? "") };
}

function tail(file: string, lines = 25): string {
  try {
    const all = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    return `--- ${file} (last ${Math.min(lines, all.length)} lines) ---\n${all.slice(-lines).join("\n")}`;
  } catch {
    return `--- ${file}: (missing) ---`;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Debian's /usr/sbin/slurmctld is an alternatives symlink to slurmctld-wlm: compare resolved paths. */
function realBinary(bin: string): string {
  try {
    return fs.realpathSync(bin);
  } catch {
    return bin;
  }
}

/** The pid in `pidFile` if that process is alive and runs `bin`. */
function daemonPid(pidFile: string, bin: string): number | undefined {
  const pid = readPid(pidFile);
  if (pid === undefined || !pidAlive(pid)) return undefined;
  try {
    const exe = fs.readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
    return exe === realBinary(bin) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function stopDaemon(pidFile: string, bin: string): Promise<void> {
  const pid = daemonPid(pidFile, bin);
  if (pid !== undefined) {
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(50);
    if (pidAlive(pid)) process.kill(pid, "SIGKILL");
  }
  fs.rmSync(pidFile, { force: true });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "0.0.0.0", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function nproc(): number {
  const r = run("nproc", []);
  const n = Number.parseInt(r.stdout.trim(), 10);
  return Number.isInteger(n) && n > 0 ? n : os.availableParallelism();
}

function realMemoryMb(): number {
  const m = /MemTotal:\s+(\d+)\s+kB/.exec(fs.readFileSync("/proc/meminfo", "utf8"));
  const kb = m ? Number(m[1]) : os.totalmem() / 1024;
  // RealMemory must not exceed the real memory, or the node drains.
  return Math.floor((kb / 1024) * 0.9);
}

interface Layout {
  dir: string;
  conf: string;
  jobDir: string;
  mungeDir: string;
  mungeSock: string;
  logDir: string;
  stateDir: string;
  spoolDir: string;
  leaseDir: string;
  lockDir: string;
  pid: { munged: string; slurmctld: string; slurmd: string };
}

function layout(dir: string): Layout {
  const mungeDir = path.join(dir, "munge");
  return {
    dir,
    conf: path.join(dir, "slurm.conf"),
    jobDir: path.join(dir, "jobs"),
    mungeDir,
    mungeSock: path.join(mungeDir, "munge.socket.2"),
    logDir: path.join(dir, "log"),
    stateDir: path.join(dir, "state"),
    spoolDir: path.join(dir, "spool"),
    leaseDir: path.join(dir, "leases"),
    lockDir: path.join(dir, "lock"),
    pid: {
      munged: path.join(mungeDir, "munged.pid"),
      slurmctld: path.join(dir, "slurmctld.pid"),
      slurmd: path.join(dir, "slurmd.pid"),
    },
  };
}

function configText(L: Layout, o: { ctldPort: number; slurmdPort: number; cpus: number }): string {
  const overrides = o.cpus > nproc() ? "SlurmdParameters=config_overrides\n" : "";
  return `# Written by remoterun's test harness (test/harness/slurm.ts); rewritten on each start.
ClusterName=remoterun
SlurmctldHost=${NODE}
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${o.ctldPort}
SlurmdPort=${o.slurmdPort}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${L.mungeSock}
StateSaveLocation=${L.stateDir}
SlurmdSpoolDir=${L.spoolDir}/slurmd-%n
SlurmctldPidFile=${L.pid.slurmctld}
SlurmdPidFile=${L.pid.slurmd}
SlurmctldLogFile=${L.logDir}/slurmctld.log
SlurmdLogFile=${L.logDir}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${L.logDir}/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# default batch_sched_delay=3 makes every batch job wait up to 3 s for the scheduler tick
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# keep finished jobs visible to 'scontrol show job' for 10 min (no sacct without slurmdbd)
MinJobAge=600
MaxArraySize=10001
MaxJobCount=100000
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
# time limits: SIGTERM, then SIGKILL 2 s later; no grace beyond the limit
KillWait=2
OverTimeLimit=0
${overrides}NodeName=${NODE} CPUs=${o.cpus} RealMemory=${realMemoryMb()} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
`;
}

// ---------------------------------------------------------------------------- lock and leases

async function withLock<T>(L: Layout, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 180_000;
  const owner = path.join(L.lockDir, "owner");
  for (;;) {
    try {
      fs.mkdirSync(L.lockDir);
      fs.writeFileSync(owner, `${process.pid}\n`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = readPid(owner);
      let age = 0;
      try {
        age = Date.now() - fs.statSync(L.lockDir).mtimeMs;
      } catch {
        continue; // just released
      }
      const stale =
        (pid !== undefined && !pidAlive(pid)) || (pid === undefined && age > 10_000) || age > 120_000;
      if (stale) {
        fs.rmSync(L.lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`slurm harness: lock ${L.lockDir} held by pid ${pid} for too long`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(L.lockDir, { recursive: true, force: true });
  }
}

/** Live leases; those of dead processes are removed. */
function liveLeases(L: Layout): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(L.leaseDir);
  } catch {
    return [];
  }
  return names.filter((n) => {
    const pid = Number.parseInt(n.split("-")[0] ?? "", 10);
    if (Number.isInteger(pid) && pidAlive(pid)) return true;
    fs.rmSync(path.join(L.leaseDir, n), { force: true });
    return false;
  });
}

// ---------------------------------------------------------------------------- daemons

function clientEnv(L: Layout): NodeJS.ProcessEnv {
  return { ...process.env, SLURM_CONF: L.conf };
}

function ensurePackages(install: boolean): void {
  const missing = [BIN.munged, BIN.slurmctld, BIN.slurmd, "/usr/bin/sbatch"].filter((b) => !fs.existsSync(b));
  if (missing.length === 0) return;
  if (!install)
    throw new Error(`slurm harness: missing ${missing.join(", ")} (apt-get install slurm-wlm munge)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const args = ["install", "-y", "-qq", "slurm-wlm", "munge"];
  let r = run("apt-get", args, { env, timeoutMs: 600_000 });
  if (r.status !== 0) {
    run("apt-get", ["update", "-qq"], { env, timeoutMs: 300_000 });
    r = run("apt-get", args, { env, timeoutMs: 600_000 });
  }
  if (r.status !== 0) throw new Error(`slurm harness: apt-get install slurm-wlm munge failed:\n${r.stderr}`);
}

/** Start a daemon that forks into the background; its output goes to a file, never to a pipe. */
function spawnDaemon(cmd: string, args: string[], env: NodeJS.ProcessEnv, outFile: string): CmdResult {
  const fd = fs.openSync(outFile, "a");
  try {
    const r = spawnSync(cmd, args, { env, stdio: ["ignore", fd, fd], timeout: 30_000 });
    return { status: r.status, stdout: "", stderr: r.error ? r.error.message : "" };
  } finally {
    fs.closeSync(fd);
  }
}

function failure(L: Layout, what: string): Error {
  const logs = [
    tail(path.join(L.mungeDir, "munged.log"), 10),
    tail(path.join(L.logDir, "daemons.out"), 10),
    tail(path.join(L.logDir, "slurmctld.log")),
    tail(path.join(L.logDir, "slurmd.log")),
  ];
  return new Error(`slurm harness: ${what}\n${logs.join("\n")}`);
}

async function waitFor(check: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}

async function startMunge(L: Layout, timeoutMs: number): Promise<void> {
  if (!fs.existsSync(MUNGE_KEY) || fs.statSync(MUNGE_KEY).size === 0) {
    fs.mkdirSync(path.dirname(MUNGE_KEY), { recursive: true });
    const r = run("mungekey", ["--create", `--keyfile=${MUNGE_KEY}`, "--force"]);
    if (r.status !== 0) fs.writeFileSync(MUNGE_KEY, randomUUID().repeat(32));
  }
  run("chown", ["munge:munge", MUNGE_KEY]);
  fs.chmodSync(MUNGE_KEY, 0o600);
  // munged wants its folder owned by munge and not group/world writable.
  run("chown", ["munge:munge", L.mungeDir]);
  fs.chmodSync(L.mungeDir, 0o755);
  fs.rmSync(L.mungeSock, { force: true });
  fs.rmSync(`${L.mungeSock}.lock`, { force: true });
  const r = spawnDaemon(
    "runuser",
    [
      "-u",
      "munge",
      "--",
      BIN.munged,
      `--socket=${L.mungeSock}`,
      `--pid-file=${L.pid.munged}`,
      `--log-file=${path.join(L.mungeDir, "munged.log")}`,
      `--seed-file=${path.join(L.mungeDir, "munged.seed")}`,
      `--key-file=${MUNGE_KEY}`,
    ],
    process.env,
    path.join(L.logDir, "daemons.out"),
  );
  if (r.status !== 0) throw failure(L, `munged failed to start (exit ${r.status}) ${r.stderr}`);
  if (!(await waitFor(() => fs.existsSync(L.mungeSock), timeoutMs)))
    throw failure(L, "munged socket missing");
  const cred = run("munge", ["-n", "-S", L.mungeSock]);
  const un = run("unmunge", ["-S", L.mungeSock], { input: cred.stdout });
  if (cred.status !== 0 || un.status !== 0)
    throw failure(L, `munge self-test failed: ${cred.stderr}${un.stderr}`);
}

function ctldUp(L: Layout): boolean {
  const r = run("scontrol", ["ping"], { env: clientEnv(L), timeoutMs: 10_000 });
  return /is UP/.test(r.stdout);
}

function nodeState(L: Layout): string {
  return run("sinfo", ["-h", "-n", NODE, "-o", "%T"], { env: clientEnv(L), timeoutMs: 10_000 }).stdout.trim();
}

const READY = /^(idle|mixed|allocated|completing)/;

function healthy(L: Layout): boolean {
  return (
    daemonPid(L.pid.munged, BIN.munged) !== undefined &&
    daemonPid(L.pid.slurmctld, BIN.slurmctld) !== undefined &&
    daemonPid(L.pid.slurmd, BIN.slurmd) !== undefined &&
    ctldUp(L) &&
    READY.test(nodeState(L))
  );
}

function cancelAllJobs(L: Layout): void {
  if (daemonPid(L.pid.slurmctld, BIN.slurmctld) === undefined) return;
  const env = clientEnv(L);
  const ids = run("squeue", ["-h", "-a", "-o", "%A"], { env }).stdout.split(/\s+/).filter(Boolean);
  if (ids.length > 0) run("scancel", ids, { env });
}

async function stopDaemons(L: Layout): Promise<void> {
  // Stopping slurmd leaves running jobs alive: cancel the cluster's jobs first.
  cancelAllJobs(L);
  if (daemonPid(L.pid.slurmctld, BIN.slurmctld) !== undefined) {
    const env = clientEnv(L);
    await waitFor(() => run("squeue", ["-h", "-a", "-o", "%A"], { env }).stdout.trim() === "", 10_000, 200);
  }
  // Each daemon needs ~2 s to exit after SIGTERM; signal all three at once (~2 s instead of ~6 s).
  const daemons = [
    [L.pid.slurmd, BIN.slurmd],
    [L.pid.slurmctld, BIN.slurmctld],
    [L.pid.munged, BIN.munged],
  ] as const;
  const pids: number[] = [];
  for (const [pidFile, bin] of daemons) {
    const pid = daemonPid(pidFile, bin);
    if (pid !== undefined) {
      process.kill(pid, "SIGTERM");
      pids.push(pid);
    }
  }
  await waitFor(() => pids.every((p) => !pidAlive(p)), 10_000);
  for (const p of pids) if (pidAlive(p)) process.kill(p, "SIGKILL");
  await waitFor(() => pids.every((p) => !pidAlive(p)), 2_000);
  for (const [pidFile] of daemons) fs.rmSync(pidFile, { force: true });
  unlinkEtc(L);
}

function unlinkEtc(L: Layout): void {
  try {
    if (fs.readlinkSync(ETC_CONF) === L.conf) fs.rmSync(ETC_CONF, { force: true });
  } catch {
    // not a link, or absent: not ours
  }
}

function linkEtc(L: Layout): boolean {
  fs.mkdirSync(path.dirname(ETC_CONF), { recursive: true });
  let current: string | undefined;
  try {
    current = fs.readlinkSync(ETC_CONF);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return false; // a regular file: not ours
  }
  if (current === L.conf) return true;
  if (current !== undefined) {
    // a dangling link (its cluster folder is gone) is taken over; a live foreign one is not
    if (fs.existsSync(ETC_CONF)) return false;
    fs.rmSync(ETC_CONF, { force: true });
  }
  try {
    fs.symlinkSync(L.conf, ETC_CONF);
    return true;
  } catch {
    return false;
  }
}

async function assertPortFree(L: Layout, port: number): Promise<void> {
  if (await portFree(port)) return;
  throw failure(
    L,
    `port ${port} is in use by a process that is not this cluster's daemon (another slurmctld/slurmd?)` +
      " — stop it or pass other ports (ctldPort/slurmdPort)",
  );
}

async function bringUp(
  L: Layout,
  timeoutMs: number,
  ports: { ctldPort: number; slurmdPort: number },
): Promise<void> {
  const env = clientEnv(L);
  if (daemonPid(L.pid.munged, BIN.munged) === undefined) await startMunge(L, timeoutMs);

  if (daemonPid(L.pid.slurmctld, BIN.slurmctld) === undefined) {
    // Fresh controller: drop old state so no job of an earlier run comes back.
    await stopDaemon(L.pid.slurmd, BIN.slurmd);
    await assertPortFree(L, ports.ctldPort);
    fs.rmSync(L.stateDir, { recursive: true, force: true });
    fs.rmSync(L.spoolDir, { recursive: true, force: true });
    fs.mkdirSync(L.stateDir, { recursive: true });
    fs.mkdirSync(path.join(L.spoolDir, `slurmd-${NODE}`), { recursive: true });
    fs.chmodSync(L.spoolDir, 0o755);
    const r = spawnDaemon(BIN.slurmctld, ["-f", L.conf], env, path.join(L.logDir, "daemons.out"));
    if (r.status !== 0) throw failure(L, `slurmctld exited ${r.status} ${r.stderr}`);
  }
  if (!(await waitFor(() => ctldUp(L), timeoutMs, 50))) throw failure(L, "slurmctld is not UP");

  if (daemonPid(L.pid.slurmd, BIN.slurmd) === undefined) {
    await assertPortFree(L, ports.slurmdPort);
    // -N: the node is called 'localhost' in slurm.conf, whatever `hostname` says.
    const r = spawnDaemon(BIN.slurmd, ["-f", L.conf, "-N", NODE], env, path.join(L.logDir, "daemons.out"));
    if (r.status !== 0) throw failure(L, `slurmd exited ${r.status} ${r.stderr}`);
  }
  let resumed = false;
  let state = "";
  const ok = await waitFor(
    () => {
      state = nodeState(L);
      if (READY.test(state)) return true;
      if (!resumed && /drain|down/.test(state) && daemonPid(L.pid.slurmd, BIN.slurmd) !== undefined) {
        resumed = true;
        run("scontrol", ["update", `NodeName=${NODE}`, "State=RESUME"], { env });
      }
      return false;
    },
    timeoutMs,
    100,
  );
  if (!ok) {
    const show = run("scontrol", ["show", "node", NODE], { env }).stdout;
    throw failure(L, `node ${NODE} not ready (state '${state}')\n${show}`);
  }
}

// ---------------------------------------------------------------------------- public API

/** Start (or join) the machine's test Slurm cluster. Throws with log tails when it cannot. */
export async function startSlurm(options: StartSlurmOptions = {}): Promise<SlurmCluster> {
  const t0 = Date.now();
  if (process.getuid?.() !== 0)
    throw new Error("slurm harness: must run as root (slurmd setuids to job users)");
  const L = layout(path.resolve(options.dir ?? defaultSlurmDir()));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const ports = { ctldPort: options.ctldPort ?? 6817, slurmdPort: options.slurmdPort ?? 6818 };
  const cpus = options.cpus ?? (Number(process.env.REMOTERUN_SLURM_CPUS) || Math.max(nproc(), 32));

  fs.mkdirSync(L.dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(L.dir, 0o755);
  const lease = path.join(L.leaseDir, `${process.pid}-${randomUUID()}`);

  let reused = false;
  let etcLinked = false;
  await withLock(L, async () => {
    ensurePackages(options.install ?? true);
    for (const d of [L.logDir, L.mungeDir, L.leaseDir, L.jobDir]) fs.mkdirSync(d, { recursive: true });
    fs.chmodSync(L.logDir, 0o755);
    fs.chmodSync(L.jobDir, 0o1777); // scratch dir any test user may submit from

    const text = configText(L, { ...ports, cpus });
    let old = "";
    try {
      old = fs.readFileSync(L.conf, "utf8");
    } catch {
      // first start
    }
    let write = old !== text;
    if (write && daemonPid(L.pid.slurmctld, BIN.slurmctld) !== undefined) {
      if (liveLeases(L).length > 0) {
        // In use by another test file / checkout with other options: join it as it is.
        console.warn(`slurm harness: joining the cluster in ${L.dir}, which runs with another configuration`);
        write = false;
      } else {
        await stopDaemons(L);
      }
    }
    if (write) fs.writeFileSync(L.conf, text, { mode: 0o644 });

    reused = healthy(L);
    if (!reused) {
      try {
        await bringUp(L, timeoutMs, ports);
      } catch (e) {
        // leave nothing half-started behind unless someone else is using the cluster
        if (liveLeases(L).length === 0) await stopDaemons(L);
        throw e;
      }
    }
    etcLinked = options.linkEtc === false ? false : linkEtc(L);
    fs.writeFileSync(lease, `${process.pid}\n`);
  });

  const env = { SLURM_CONF: L.conf };
  let stopped = false;
  const cluster: SlurmCluster = {
    conf: L.conf,
    dir: L.dir,
    partition: PARTITION,
    node: NODE,
    jobDir: L.jobDir,
    env,
    etcLinked,
    reused,
    startMs: Date.now() - t0,
    squeue: () =>
      run("squeue", ["-a", "-r", "-o", "%.12i %.9u %.10T %.20r %j"], { env: clientEnv(L) }).stdout,
    exec: (cmd, args, opts = {}) => execAs(L, cmd, args, opts),
    expireTimeLimit: (jobId) => {
      const r = run("scontrol", ["update", `JobId=${jobId}`, "EndTime=now"], { env: clientEnv(L) });
      if (r.status !== 0) throw new Error(`scontrol update JobId=${jobId} EndTime=now failed: ${r.stderr}`);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await withLock(L, async () => {
        fs.rmSync(lease, { force: true });
        if (liveLeases(L).length > 0 || process.env.REMOTERUN_SLURM_KEEP === "1") return;
        await stopDaemons(L);
      });
    },
  };
  return cluster;
}

/** Stop the cluster in `dir` whatever its leases say (global teardown, manual cleanup). */
export async function stopSlurm(dir: string = defaultSlurmDir()): Promise<void> {
  const L = layout(path.resolve(dir));
  if (!fs.existsSync(L.dir)) return;
  await withLock(L, async () => {
    await stopDaemons(L);
    fs.rmSync(L.leaseDir, { recursive: true, force: true });
  });
}

function userInfo(user: string): { uid: number; gid: number; home: string } | undefined {
  const r = run("getent", ["passwd", user]);
  const f = r.stdout.trim().split(":");
  if (r.status !== 0 || f.length < 6) return undefined;
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "/" };
}

function execAs(L: Layout, cmd: string, args: string[], opts: ExecOptions): CmdResult {
  const env: NodeJS.ProcessEnv = clientEnv(L);
  if (opts.user === undefined) return run(cmd, args, { ...opts, env });
  const u = userInfo(opts.user);
  if (!u) return { status: 1, stdout: "", stderr: `no such user ${opts.user}` };
  Object.assign(env, { HOME: u.home, USER: opts.user, LOGNAME: opts.user });
  return run("runuser", ["-u", opts.user, "--", cmd, ...args], { ...opts, env });
}

/**
 * Make sure a local test user exists and can log in with a key (useradd leaves the account locked
 * with '!', which sshd with UsePAM=no refuses): `useradd -m USER`, `usermod -p '*' USER`. Idempotent
 * and safe to call concurrently. Returns uid, gid and home.
 */
export function ensureTestUser(user = "rmtest"): { uid: number; gid: number; home: string } {
  let u = userInfo(user);
  if (!u) {
    const r = run("useradd", ["-m", "-s", "/bin/bash", user]);
    u = userInfo(user);
    if (!u) throw new Error(`useradd ${user} failed: ${r.stderr}`);
  }
  const shadow = run("getent", ["shadow", user]).stdout.split(":")[1] ?? "";
  if (shadow.startsWith("!")) run("usermod", ["-p", "*", user]);
  return u;
}
