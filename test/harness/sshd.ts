/**
 * A private, throw-away OpenSSH server for integration tests (no systemd, no mocks).
 *
 * `startSshd()` makes its own folder (host key, client key, authorized_keys, known_hosts,
 * sshd_config), picks a free high port on 127.0.0.1, starts `/usr/sbin/sshd -D -f CONFIG -E LOG`
 * and waits until the port accepts connections. Only public-key authentication is enabled, so the
 * server is exactly "a non-default port with key-only auth".
 *
 * As root, the login user is a dedicated unprivileged account `rmtest` (created on demand; safe
 * when several test runs create it at the same time). As an ordinary user, sshd runs as that user
 * and the login user is that user (an unprivileged sshd cannot switch users).
 *
 * `node` must be on the login user's non-interactive PATH for lifecycle tests. On this machine kind
 * it is /usr/bin/node already; when it is not, the harness symlinks the running node into
 * /usr/local/bin (root only, only if that name is free) and checks `ssh user@host node --version`.
 *
 * `listenAddress` and `netns` place the server elsewhere: on another local address, or inside a
 * network namespace (`ip netns exec NS sshd ...`, see test/harness/netns.ts), where it may be
 * unreachable from the test process; readiness is then read from sshd's log ("Server listening").
 *
 * Failure is loud: any step that fails throws with the tail of sshd's log. Tests never skip.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const SSHD = "/usr/sbin/sshd";
const ADDR = "127.0.0.1";
export const TEST_USER = "rmtest";

/** What connect()/SshConnection accept; kept structural so the harness does not import src. */
export interface SshdConnectionOptions {
  host: string;
  port: number;
  user: string;
  keyfile: string;
  knownHostsFile: string;
}

export interface SshdServer {
  host: string;
  port: number;
  user: string;
  /** Private key authorised on this server (mode 0600, owned by the current user). */
  keyfile: string;
  /** known_hosts holding this server's host key as `[127.0.0.1]:PORT`. */
  knownHostsFile: string;
  pid: number;
  dir: string;
  logFile: string;
  connectionOptions(): SshdConnectionOptions;
  /** A fresh key pair that this server does NOT accept; returns the private key path. */
  makeUnauthorizedKey(): Promise<string>;
  /** An empty known_hosts file (to provoke host-key failures with strict checking). */
  makeEmptyKnownHosts(): Promise<string>;
  /** Kill the per-connection sshd children (every live session drops) but keep listening. */
  dropConnections(): Promise<number>;
  /** Last lines of sshd's log, for failure messages. */
  logTail(lines?: number): string;
  /** Kill sshd and its session children by PID (checked through /proc/PID/exe); remove the folder. */
  stop(): Promise<void>;
}

export interface StartSshdOptions {
  /** Check that `ssh user@host node --version` works (default true). */
  checkNode?: boolean;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /** Address to listen on (default 127.0.0.1); known_hosts and connectionOptions() follow it. */
  listenAddress?: string;
  /**
   * Run sshd inside this existing network namespace (`ip netns exec NS`, root only). The port is
   * then not probed from here (it may be unreachable); sshd's "Server listening" log line is awaited.
   * Combine with `checkNode: false` when the address is unreachable from the test process.
   */
  netns?: string;
  /**
   * Log in as this dedicated test user instead of `rmtest` (root only; created on demand the same
   * way). For tests that change the user's own files (a talking ~/.bashrc, say) without touching
   * the user that other test files share.
   */
  user?: string;
}

export async function startSshd(options: StartSshdOptions = {}): Promise<SshdServer> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server`);
  const addr = options.listenAddress ?? ADDR;
  const isRoot = process.getuid?.() === 0;
  if (options.user !== undefined && !isRoot) {
    throw new Error(`startSshd({ user: ${options.user} }) needs root (it creates that user)`);
  }
  const user = isRoot ? (options.user ?? TEST_USER) : userInfo().username;
  if (isRoot) {
    await ensureTestUser(user);
    await run("mkdir", ["-p", "/run/sshd"]);
    await chmod("/run/sshd", 0o755);
  }

  const dir = await mkdtemp(join(tmpdir(), "rr-sshd-"));
  // sshd reads authorized_keys as the target user: the folder must be traversable.
  await chmod(dir, 0o755);
  const hostKey = join(dir, "host_ed25519");
  const keyfile = join(dir, "client_ed25519");
  await keygen(hostKey, "rr-it-host");
  await keygen(keyfile, "rr-it-client");
  const authorizedKeys = join(dir, "authorized_keys");
  await writeFile(authorizedKeys, await readFile(`${keyfile}.pub`), { mode: 0o644 });
  await chmod(authorizedKeys, 0o644);
  const hostPub = (await readFile(`${hostKey}.pub`, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
  const configFile = join(dir, "sshd_config");
  const logFile = join(dir, "sshd.log");
  const knownHostsFile = join(dir, "known_hosts");

  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    await writeFile(
      configFile,
      sshdConfig({ port, addr, dir, hostKey, authorizedKeys, extra: options.extraConfig }),
    );
    await writeFile(knownHostsFile, `[${addr}]:${port} ${hostPub}\n`);
    await rm(logFile, { force: true });
    try {
      await run(SSHD, ["-t", "-f", configFile]);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`sshd rejects its config: ${(e as { stderr?: string }).stderr ?? e}`);
    }
    const sshdArgv = [SSHD, "-D", "-f", configFile, "-E", logFile];
    // `ip netns exec` enters the namespace and execs sshd: the child's pid is sshd's own.
    const argv = options.netns ? ["ip", "netns", "exec", options.netns, ...sshdArgv] : sshdArgv;
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", detached: true });
    child.unref();
    try {
      if (options.netns) await waitForLog(logFile, child, 5000);
      else await waitForPort(addr, port, child, 5000);
    } catch (e) {
      lastError = e;
      await killChild(child);
      const log = tail(logFile);
      if (/Address already in use|Cannot bind any address/i.test(log)) continue; // port clash: retry
      await rm(dir, { recursive: true, force: true });
      throw new Error(
        `sshd did not start on ${addr}:${port}: ${(e as Error).message}\n--- sshd.log ---\n${log}`,
      );
    }
    const server = makeServer({ addr, dir, port, user, keyfile, knownHostsFile, logFile, child });
    if (options.checkNode !== false) {
      try {
        await ensureRemoteNode(server);
      } catch (e) {
        await server.stop();
        throw e;
      }
    }
    return server;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`sshd could not find a free port after 5 attempts: ${String(lastError)}`);
}

function sshdConfig(p: {
  port: number;
  addr: string;
  dir: string;
  hostKey: string;
  authorizedKeys: string;
  extra?: string[];
}) {
  return [
    `Port ${p.port}`,
    `ListenAddress ${p.addr}`,
    `HostKey ${p.hostKey}`,
    `PidFile ${join(p.dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${p.authorizedKeys}`,
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "PermitRootLogin no",
    "AllowTcpForwarding yes",
    "X11Forwarding no",
    "PrintMotd no",
    // the defaults (10:30:100, 10 sessions) drop parallel test connections
    "MaxStartups 100:30:200",
    "MaxSessions 100",
    "LogLevel INFO",
    "Subsystem sftp internal-sftp",
    ...(p.extra ?? []),
    "",
  ].join("\n");
}

function makeServer(p: {
  addr: string;
  dir: string;
  port: number;
  user: string;
  keyfile: string;
  knownHostsFile: string;
  logFile: string;
  child: ChildProcess;
}): SshdServer {
  const pid = p.child.pid!;
  let stopped = false;
  return {
    host: p.addr,
    port: p.port,
    user: p.user,
    keyfile: p.keyfile,
    knownHostsFile: p.knownHostsFile,
    pid,
    dir: p.dir,
    logFile: p.logFile,
    connectionOptions: () => ({
      host: p.addr,
      port: p.port,
      user: p.user,
      keyfile: p.keyfile,
      knownHostsFile: p.knownHostsFile,
    }),
    async makeUnauthorizedKey() {
      const file = join(p.dir, `stranger_${Math.random().toString(36).slice(2, 8)}`);
      await keygen(file, "rr-it-stranger");
      return file;
    },
    async makeEmptyKnownHosts() {
      const file = join(p.dir, `empty_known_hosts_${Math.random().toString(36).slice(2, 8)}`);
      await writeFile(file, "");
      return file;
    },
    async dropConnections() {
      const kids = await sshdChildren(pid);
      for (const k of kids) signal(k, "SIGKILL");
      return kids.length;
    },
    logTail: (lines = 20) => tail(p.logFile, lines),
    async stop() {
      if (stopped) return;
      stopped = true;
      const kids = isSshd(pid) ? await sshdChildren(pid) : [];
      for (const k of kids) signal(k, "SIGKILL");
      if (isSshd(pid)) await killChild(p.child);
      // A dying session process may still write its last log line into the folder: wait for them to
      // be gone, and let rm retry if a file appears while it empties the folder (ENOTEMPTY).
      for (let i = 0; i < 100 && kids.some((k) => existsSync(`/proc/${k}`)); i++) await sleep(20);
      await rm(p.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    },
  };
}

async function keygen(file: string, comment: string): Promise<void> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  await chmod(file, 0o600);
}

/** Bind port 0, read the port the kernel chose, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, ADDR, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Poll `ready` until it holds; fail early if sshd exits, or after `timeoutMs` saying `what`. */
async function waitUntil(
  ready: () => boolean | Promise<boolean>,
  child: ChildProcess,
  timeoutMs: number,
  what: string,
): Promise<void> {
  let exited: string | null = null;
  child.once("exit", (code, sig) => {
    exited = `sshd exited with ${sig ?? `code ${code}`}`;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(exited);
    if (await ready()) return;
    await sleep(20);
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

function waitForPort(host: string, port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  return waitUntil(() => canConnect(host, port), child, timeoutMs, `port ${port} did not accept connections`);
}

/** Wait for sshd's "Server listening on ADDR port N." line (it logs it once the socket listens). */
function waitForLog(logFile: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  return waitUntil(
    () => /^Server listening on /m.test(tail(logFile, 50)),
    child,
    timeoutMs,
    'sshd did not log "Server listening"',
  );
}

function isSshd(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === realpathSync(SSHD);
  } catch {
    return false;
  }
}

/** Per-connection sshd processes forked by the listener `pid` (and their own sshd children). */
async function sshdChildren(pid: number): Promise<number[]> {
  const all: Array<{ pid: number; ppid: number }> = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      all.push({ pid: Number(name), ppid });
    } catch {
      /* gone */
    }
  }
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const parent = frontier.pop()!;
    for (const p of all) {
      if (p.ppid === parent && isSshd(p.pid)) {
        found.push(p.pid);
        frontier.push(p.pid);
      }
    }
  }
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signal(child.pid!, "SIGTERM");
  const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), 3000).unref());
  if ((await Promise.race([gone, timer])) === "late") {
    signal(child.pid!, "SIGKILL");
    await gone;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no sshd log)";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Create the test user if missing, make sure it is not locked and owns its home. Serialised within
 * this process (one promise) and across processes (a mkdir lock), since concurrent useradd calls
 * race on /etc/passwd and on the home folder.
 */
const usersReady = new Map<string, Promise<void>>();
function ensureTestUser(user: string): Promise<void> {
  let ready = usersReady.get(user);
  if (!ready) {
    ready = withLock(join(tmpdir(), "rr-test-user.lock"), () => setupUser(user)).catch((e) => {
      usersReady.delete(user);
      throw e;
    });
    usersReady.set(user, ready);
  }
  return ready;
}

async function withLock<T>(lock: string, work: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 30_000) await rmdir(lock).catch(() => {}); // left by a killed run
      if (i > 600) throw new Error(`lock ${lock} held for too long`);
      await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    await rmdir(lock).catch(() => {});
  }
}

async function setupUser(user: string): Promise<void> {
  let lastErr = "";
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      if (!(await userExists(user))) {
        await run("useradd", ["-m", "-s", "/bin/bash", user]).catch((e) => {
          lastErr = String(e.stderr ?? e);
        });
        continue;
      }
      const { stdout } = await run("getent", ["shadow", user]);
      if ((stdout.split(":")[1] ?? "").startsWith("!")) {
        // useradd leaves the account locked; with UsePAM no sshd then refuses even key logins.
        await run("usermod", ["-p", "*", user]);
        continue;
      }
      const [uid, gid, home] = (await run("getent", ["passwd", user])).stdout
        .split(":")
        .filter((_, i) => [2, 3, 5].includes(i));
      const st = await stat(home).catch(() => null);
      if (!st) {
        await run("mkdir", ["-p", home]);
        await run("chown", [`${uid}:${gid}`, home]);
      } else if (st.uid !== Number(uid)) {
        // a home left by an earlier, interrupted creation of the same (dedicated) test user
        await run("chown", ["-R", `${uid}:${gid}`, home]);
      }
      return;
    } catch (e) {
      lastErr = String((e as { stderr?: string }).stderr ?? e);
    }
    await sleep(50 + Math.random() * 150);
  }
  throw new Error(`could not create an unlocked test user ${user}: ${lastErr}`);
}

async function userExists(user: string): Promise<boolean> {
  try {
    await run("id", ["-u", user]);
    return true;
  } catch {
    return false;
  }
}

function sshArgs(s: SshdServer, command: string): string[] {
  return [
    "-p",
    String(s.port),
    "-i",
    s.keyfile,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    `UserKnownHostsFile=${s.knownHostsFile}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "ControlMaster=no",
    "-o",
    "ControlPath=none",
    `${s.user}@${s.host}`,
    command,
  ];
}

/** Run a command as the test user through plain ssh (no control master); used by the harness. */
export async function sshRun(s: SshdServer, command: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run("ssh", sshArgs(s, command), { timeout: 20_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ssh ${s.user}@${s.host}:${s.port} ${command} failed: ${err.stderr ?? err.message}`);
  }
}

async function ensureRemoteNode(s: SshdServer): Promise<void> {
  try {
    await sshRun(s, "node --version");
    return;
  } catch (first) {
    const isRoot = process.getuid?.() === 0;
    const target = "/usr/local/bin/node";
    if (!isRoot || existsSync(target)) {
      throw new Error(`${(first as Error).message}\n--- sshd.log ---\n${s.logTail()}`);
    }
    // Make the running node reachable on the default non-interactive PATH.
    await symlink(process.execPath, target).catch(() => {});
    await sshRun(s, "node --version").catch((e) => {
      throw new Error(`${(e as Error).message}\n--- sshd.log ---\n${s.logTail()}`);
    });
  }
}
