/**
 * `proxyJump` through a real second host: the target's sshd lives in its own network namespace,
 * reachable only through the jump host's sshd in another namespace (test/harness/netns.ts). The
 * jump hop's settings (address, port, user, key, known hosts, strict checking) come from an ssh
 * config file given as `configFile` (`-F`), because OpenSSH applies none of the command-line
 * `-i`/`-o` options to a jump hop.
 *
 * How the jump is proved: (1) a direct connection to the target fails ("No route to host": the host
 * namespace has no route to it), (2) every login in the target sshd's log comes from the jump's
 * inner address, (3) code run on the target sees the target's own address among its interfaces.
 *
 * Root only, and never skipped: without network namespaces the harness throws.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../src/connection/connect.js";
import { SshConnection } from "../src/connection/ssh.js";
import type { SshConnectionOptions } from "../src/connection/ssh-options.js";
import { Dataset } from "../src/dataset/index.js";
import { ConnectionError } from "../src/shared/errors.js";
import { type JumpNetwork, startJumpNetwork } from "./harness/netns.js";
import { fromSource } from "./lifecycle/functions.js";

const run = promisify(execFile);

let net: JumpNetwork;
let work: string;
let configFile: string;
const open: { close(): Promise<void> }[] = [];

const JUMP = "rrjump";

/** Options of a connection to the target through the jump host. */
function targetOptions(extra: Partial<SshConnectionOptions> = {}): SshConnectionOptions {
  return {
    host: net.targetAddress,
    port: net.target.port,
    user: net.target.user,
    keyfile: net.target.keyfile,
    knownHostsFile: net.target.knownHostsFile,
    proxyJump: JUMP,
    configFile,
    ...extra,
  };
}

function viaJump(extra: Partial<SshConnectionOptions> = {}): SshConnection {
  const c = new SshConnection(targetOptions(extra));
  open.push(c);
  return c;
}

/** Client addresses of the successful logins an sshd logged. */
function logins(logFile: string): string[] {
  const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
  return [...log.matchAll(/^Accepted publickey for \S+ from (\S+) port \d+/gm)].map((m) => m[1]!);
}

beforeAll(async () => {
  net = await startJumpNetwork();
  work = await mkdtemp(join(tmpdir(), "rr-pj-test-"));
  configFile = join(work, "ssh_config");
  const j = net.jump;
  await writeFile(
    configFile,
    [
      `Host ${JUMP}`,
      `  HostName ${net.jumpAddress}`,
      `  Port ${j.port}`,
      `  User ${j.user}`,
      `  IdentityFile ${j.keyfile}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${j.knownHostsFile}`,
      "  StrictHostKeyChecking yes",
      "  BatchMode yes",
      "  ConnectTimeout 5",
      // the jump host's address, but a port nobody listens on in its namespace
      "Host rrclosedjump",
      `  HostName ${net.jumpAddress}`,
      "  Port 1",
      "  BatchMode yes",
      "  ConnectTimeout 5",
      "",
    ].join("\n"),
  );
  // node must run on the target (same filesystem as here; reached only through the jump)
  const c = viaJump();
  const v = await c.exec("node --version");
  expect(v.stdout).toMatch(/^v\d+\./);
  await c.close();
});

afterAll(async () => {
  try {
    if (net) {
      const cleaner = new SshConnection(targetOptions());
      await cleaner.exec(`rm -rf rr-pj-${process.pid}-*`, { allowFailure: true }).catch(() => {});
      await cleaner.close();
    }
    for (const c of open) await c.close().catch(() => {});
  } finally {
    await net?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }
});

let seq = 0;
const remoteDir = () => `rr-pj-${process.pid}-${++seq}`;

describe("the target is reachable only through the jump host", () => {
  it("a direct connection fails: the test's network has no route to the target", async () => {
    const direct = new SshConnection({ ...targetOptions(), proxyJump: undefined, maxRetries: 0, timeout: 3 });
    open.push(direct);
    const t0 = Date.now();
    const err = await direct.exec("true").catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.reason).toBe("unreachable");
    expect(err.stderr).toMatch(/No route to host/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("exec through the jump runs on the target; the target's sshd saw the jump as its client", async () => {
    const before = logins(net.target.logFile).length;
    const c = viaJump();
    expect(c.sshArgs().slice(0, 2)).toEqual(["-F", configFile]);
    expect(c.sshArgs()).toContain("-J");
    const r = await c.exec("whoami; hostname -I");
    const [user, addrs] = r.stdout.trim().split("\n");
    expect(user).toBe(net.target.user);
    // inside namespace T the only non-loopback address is the target's own
    expect(addrs!.trim().split(/\s+/)).toEqual([net.targetAddress]);
    const after = logins(net.target.logFile);
    expect(after.length).toBe(before + 1);
    expect(new Set(after)).toEqual(new Set([net.jumpInnerAddress]));
    // and the jump host's sshd saw us, from the host side of its link
    expect(logins(net.jump.logFile)).toContain(net.hostAddress);
    // later commands share the master: no new login anywhere
    await c.exec("true");
    await c.exec("true");
    expect(logins(net.target.logFile).length).toBe(before + 1);
  });

  it("testConnection() reports the target's node", async () => {
    const report = await viaJump().testConnection();
    expect(report.ok).toBe(true);
    expect(report.node?.version).toMatch(/^v\d+\./);
  });
});

describe.each(["rsync", "scp"] as const)("%s transport through the jump", (transport) => {
  const files: Record<string, Buffer> = {
    "a.txt": Buffer.from("alpha\n"),
    "sub/dir/b.bin": Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256)),
    "sub/it's c.txt": Buffer.from("gamma ünïcode\n"),
  };
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  it("push then pull, each as the FIRST contact of a fresh connection (its own ssh makes the jump)", async () => {
    const local = join(work, `${transport}-src`);
    for (const [f, data] of Object.entries(files)) {
      await mkdir(join(local, f, ".."), { recursive: true });
      await writeFile(join(local, f), data);
    }
    const remote = remoteDir();
    const loginsBefore = logins(net.target.logFile).length;

    // push: no exec before it, so the transport's own ssh (rsync -e / ssh|tar) must jump
    const pusher = viaJump({ transport, maxRetries: 0 });
    await pusher.push(local, remote, Object.keys(files));
    expect(pusher.stats.execs).toBe(0);
    expect(logins(net.target.logFile).length).toBe(loginsBefore + 1);

    // the files are on the target, byte for byte
    const check = viaJump();
    const sums = await check.exec(`cd ${remote} && sha256sum a.txt sub/dir/b.bin "sub/it's c.txt"`);
    const got = Object.fromEntries(
      sums.stdout
        .trim()
        .split("\n")
        .map((l) => [l.slice(66), l.slice(0, 64)]),
    );
    expect(got).toEqual(Object.fromEntries(Object.entries(files).map(([f, b]) => [f, sha(b)])));

    // pull on another fresh connection, again as its first contact
    const back = join(work, `${transport}-back`);
    const puller = viaJump({ transport, maxRetries: 0 });
    await puller.pull(remote, back, [...Object.keys(files), "missing.txt"]);
    expect(puller.stats.execs).toBe(0);
    for (const [f, data] of Object.entries(files)) expect(sha(await readFile(join(back, f)))).toBe(sha(data));
    expect(existsSync(join(back, "missing.txt"))).toBe(false);

    // every login on the target came from the jump host
    const all = logins(net.target.logFile);
    expect(all.length).toBe(loginsBefore + 3);
    expect(new Set(all)).toEqual(new Set([net.jumpInnerAddress]));
  });
});

describe("a Dataset through the jump", () => {
  it("runs its function on the target, which sees the target's address", async () => {
    const connection = viaJump();
    const dbDir = await mkdtemp(join(work, "ds-"));
    const ds = new Dataset(
      // source text: vitest would rewrite the dynamic import of a function written here
      fromSource(`async ({ i }) => {
        const os = await import("node:os");
        const addresses = Object.values(os.networkInterfaces())
          .flat()
          .filter((a) => a.family === "IPv4" && !a.internal)
          .map((a) => a.address);
        return { i, addresses };
      }`),
      {
        name: "proxyjump",
        connection,
        dbDir,
        localDir: join(dbDir, "local"),
        remoteDir: remoteDir(),
        skip: false,
        verbose: 0,
      },
    );
    try {
      ds.appendRuns([{ i: 1 }, { i: 2 }, { i: 3 }]);
      await ds.run();
      await ds.wait({ interval: 0.1, timeout: 60 });
      await ds.fetchResults();
      expect(ds.results).toEqual([1, 2, 3].map((i) => ({ i, addresses: [net.targetAddress] })));
    } finally {
      await ds.close();
    }
    expect(new Set(logins(net.target.logFile))).toEqual(new Set([net.jumpInnerAddress]));
  });
});

describe("configFile and proxyJump are part of the connection's description", () => {
  it("toJSON() keeps them; a connection rebuilt from it reaches the target through the jump", async () => {
    const spec = viaJump().toJSON();
    expect(spec).toMatchObject({ kind: "ssh", host: net.targetAddress, proxyJump: JUMP, configFile });
    const again = connect(JSON.parse(JSON.stringify(spec)));
    open.push(again);
    const r = await again.exec("hostname -I");
    expect(r.stdout.trim()).toBe(net.targetAddress);
  });
});

describe("failures of the jump hop are ConnectionErrors, in time", () => {
  it("without configFile the jump hop gets none of -i/-o: it cannot verify the jump's host key", async () => {
    const c = viaJump({
      configFile: undefined,
      proxyJump: `${net.jump.user}@${net.jumpAddress}:${net.jump.port}`,
      maxRetries: 0,
    });
    const err = await c.exec("true").catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    // ssh discards the hop's own stderr under ControlPersist; the connection reads it once more
    // without the master, so the error names it
    expect(err.reason).toBe("host-key");
    expect(err.message).toMatch(/ProxyJump hop .* failed: host key verification failed \(.*host key/i);
    // the hidden reason, seen without a control master: the hop ignored -o UserKnownHostsFile
    const plain = await run("ssh", [
      ...["-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none"],
      ...["-o", `UserKnownHostsFile=${net.target.knownHostsFile} ${net.jump.knownHostsFile}`],
      ...["-i", net.target.keyfile, "-i", net.jump.keyfile, "-p", String(net.target.port)],
      ...[
        "-J",
        `${net.jump.user}@${net.jumpAddress}:${net.jump.port}`,
        `${net.target.user}@${net.targetAddress}`,
      ],
      "true",
    ]).catch((e: { stderr: string }) => e);
    expect(plain.stderr).toMatch(/Host key verification failed/);
  });

  it("a jump host that refuses the connection", async () => {
    const c = viaJump({ proxyJump: "rrclosedjump", maxRetries: 0, commandTimeout: 20_000 });
    const t0 = Date.now();
    const err = await c.exec("true").catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.reason).toBe("refused");
    expect(err.message).toContain(`ProxyJump hop rrclosedjump failed: connection refused`);
    expect(err.message).toContain(`port 1: Connection refused`);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("a jump host that never answers: ConnectTimeout of the config file ends it", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s)); // accepts, never speaks
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const cfg = join(work, "ssh_config_silent");
    const silentHost = ["Host rrsilentjump", "  HostName 127.0.0.1", `  Port ${port}`, "  BatchMode yes"];
    await writeFile(
      cfg,
      `${await readFile(configFile, "utf8")}${[...silentHost, "  ConnectTimeout 2", ""].join("\n")}`,
    );
    try {
      const c = viaJump({ configFile: cfg, proxyJump: "rrsilentjump", maxRetries: 0, timeout: 2 });
      const t0 = Date.now();
      const err = await c.exec("true", { timeoutMs: 20_000 }).catch((e) => e);
      const elapsed = Date.now() - t0;
      expect(err).toBeInstanceOf(ConnectionError);
      expect(["timeout", "dropped"]).toContain(err.reason);
      expect(elapsed).toBeGreaterThanOrEqual(1500);
      expect(elapsed).toBeLessThan(10_000);
      expect(sockets.length).toBeGreaterThan(0); // the jump hop did reach the silent server
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
