/**
 * Errors that name their cause, over the real sshd (test/harness/sshd.ts): an unknown host, a
 * remoteDir the ssh user may not create, a full remote disk (a tiny tmpfs), a login shell whose
 * ~/.bashrc talks on stdout and stderr, a ProxyJump hop whose host key is unknown. Each message
 * holds the words of the line that explains it (not rsync's last line), the whole stderr is kept.
 *
 * Runs as root: the ssh user is an unprivileged test user (rmtest; rmnoisy for the talking shell,
 * so that no other test file meets its ~/.bashrc), so that folder permissions bite.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type SshConnection } from "../src/connection/index.js";
import { Dataset } from "../src/index.js";
import { ConnectionError, TransferError } from "../src/shared/errors.js";
import { type JumpNetwork, startJumpNetwork } from "./harness/netns.js";
import { sshTestbed } from "./helpers/ssh.js";

const bed = sshTestbed("rr-cause");
const noisyBed = sshTestbed("rr-cause-noisy", { sshd: { user: "rmnoisy" } });
const bareBed = sshTestbed("rr-cause-bare", { sshd: { user: "rmnorsync" } });
const transports = ["rsync", "scp"] as const;

let work: string;
let src: string;
let forbidden: string;
let noisyHome: string;
let bareHome: string;
const BANNER = "Disk quota: 10 GB of 20 GB used on /home (motd: maintenance on Friday)";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rr-cause-"));
  chmodSync(work, 0o755);
  src = join(work, "src");
  mkdirSync(src);
  writeFileSync(join(src, "a.txt"), "alpha\n");
  writeFileSync(join(src, "big.bin"), Buffer.alloc(256 * 1024, 7));
  // root's folder, readable by all, writable by root only: the ssh user cannot create in it
  forbidden = join(work, "forbidden");
  mkdirSync(forbidden, { mode: 0o755 });
  chmodSync(forbidden, 0o755);

  noisyHome = execFileSync("getent", ["passwd", "rmnoisy"], { encoding: "utf8" }).split(":")[5]!;
  // As on many clusters: the ~/.bashrc of a non-interactive ssh session prints (bash reads it for
  // every command sshd starts), on stdout and on stderr, before its interactive-only part.
  writeFileSync(
    join(noisyHome, ".bashrc"),
    [`echo '${BANNER}'`, "echo 'module: gcc/12 loaded' >&2", "case $- in *i*) ;; *) return;; esac", ""].join(
      "\n",
    ),
  );
  execFileSync("chown", ["rmnoisy:", join(noisyHome, ".bashrc")]);

  // A host without rsync: the login shell's PATH holds only what a tar transfer needs.
  bareHome = execFileSync("getent", ["passwd", "rmnorsync"], { encoding: "utf8" }).split(":")[5]!;
  const bin = join(bareHome, "rr-bin");
  rmSync(bin, { recursive: true, force: true });
  mkdirSync(bin);
  for (const p of ["bash", "mkdir", "tar", "rm", "cat", "chmod"]) symlinkSync(`/usr/bin/${p}`, join(bin, p));
  writeFileSync(join(bareHome, ".bashrc"), `export PATH=${bin}\ncase $- in *i*) ;; *) return;; esac\n`);
  execFileSync("chown", ["-R", "rmnorsync:", bin, join(bareHome, ".bashrc")]);
});

afterAll(() => {
  if (noisyHome) rmSync(join(noisyHome, ".bashrc"), { force: true });
  if (bareHome) {
    rmSync(join(bareHome, ".bashrc"), { force: true });
    rmSync(join(bareHome, "rr-bin"), { recursive: true, force: true });
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The error a promise rejects with (fails the test when it resolves). */
async function thrown(p: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  const r = await p.then(
    () => null,
    (e: unknown) => e as Error & Record<string, unknown>,
  );
  if (r === null) throw new Error("expected a rejection");
  return r;
}

describe("an unknown host", () => {
  it.each(transports)(
    "push over %s: 'Could not resolve hostname', not rsync's code 255",
    async (transport) => {
      const c = bed.ssh({ host: "nonexistent.invalid", transport, maxRetries: 0 });
      const e = await thrown(c.push(src, "x", ["a.txt"]));
      expect(e).toBeInstanceOf(ConnectionError);
      expect(e.reason).toBe("unreachable");
      expect(e.message).toContain("Could not resolve hostname nonexistent.invalid");
      expect(e.message).not.toMatch(/code 255|unexpectedly closed/);
      expect(e.causeLine).toMatch(/^ssh: Could not resolve hostname/);
      expect(e.advice).toMatch(/spelling/);
    },
  );

  it("exec says the same", async () => {
    const e = await thrown(bed.ssh({ host: "nonexistent.invalid", maxRetries: 0 }).exec("true"));
    expect(e).toBeInstanceOf(ConnectionError);
    expect(e.message).toContain("Could not resolve hostname nonexistent.invalid");
  });
});

describe("a remoteDir the ssh user may not create", () => {
  it.each(transports)("push over %s: mkdir's 'Permission denied'", async (transport) => {
    const c = bed.ssh({ transport, maxRetries: 0 });
    const target = join(forbidden, `sub-${transport}`);
    const e = await thrown(c.push(src, target, ["a.txt"]));
    expect(e).toBeInstanceOf(TransferError);
    expect(e.kind).toBe("permission");
    expect(e.message).toContain(`mkdir: cannot create directory '${target}': Permission denied`);
    expect(e.message).not.toContain("protocol data stream");
    expect(e.stderr).toContain("Permission denied");
    // nothing was run from the archive: the shell stopped at the failed mkdir
    expect(e.stderr).not.toMatch(/No such file or directory|command not found/);
    expect(existsSync(target)).toBe(false);
  });

  it("a Dataset whose remoteDir is forbidden fails its run() with the cause", async () => {
    const ds = new Dataset(undefined, {
      script: "echo #x#\n",
      name: "forbidden",
      skip: false,
      verbose: 0,
      connection: bed.ssh({ maxRetries: 0 }),
      ...bed.dirs("forbidden"),
      remoteDir: join(forbidden, "ds"),
    });
    ds.appendRun({ x: 1 });
    const e = await thrown(ds.run());
    await ds.close();
    expect(e.message).toContain("Permission denied");
    expect(e.message).toContain(join(forbidden, "ds"));
  });
});

describe("a full remote disk", () => {
  let tiny: string;
  beforeAll(() => {
    tiny = join(work, "tiny");
    mkdirSync(tiny);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=1777", "tmpfs", tiny]);
  });
  afterAll(() => {
    if (tiny) execFileSync("umount", [tiny]);
  });

  it("is mounted and too small for the file", () => {
    expect(readFileSync("/proc/mounts", "utf8")).toContain(` ${tiny} tmpfs `);
  });

  it.each(transports)("push over %s: 'No space left on device', not code 11", async (transport) => {
    const c = bed.ssh({ transport, maxRetries: 0 });
    const e = await thrown(c.push(src, join(tiny, transport), ["a.txt", "big.bin"]));
    expect(e).toBeInstanceOf(TransferError);
    expect(e.kind).toBe("no-space");
    expect(e.message).toMatch(/no space left/i);
    if (transport === "rsync") expect(e.message).toContain("No space left on device");
    else expect(e.message).toMatch(/tar: \.\/big\.bin: Wrote only \d+ of \d+ bytes/);
    expect(e.message).not.toContain("error in file IO (code 11)");
    await c.exec(`rm -rf -- '${join(tiny, transport)}'`);
  });
});

describe("a login shell whose ~/.bashrc prints on stdout and stderr", () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  beforeAll(() => {
    process.on("warning", onWarning);
  });
  afterAll(() => {
    process.off("warning", onWarning);
  });

  it("control: plain rsync through that shell fails as users see it", () => {
    const s = noisyBed.server;
    const ssh = `ssh -p ${s.port} -i ${s.keyfile} -o UserKnownHostsFile=${s.knownHostsFile} -o BatchMode=yes -l ${s.user}`;
    let stderr = "";
    try {
      execFileSync("rsync", ["-t", "-e", ssh, join(src, "a.txt"), `${s.host}:control.txt`], {
        stdio: "pipe",
      });
    } catch (e) {
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(stderr).toMatch(/protocol version mismatch -- is your shell clean\?/);
  });

  it("testConnection() reports the banner, and node is node", async () => {
    const c = noisyBed.ssh();
    const r = await c.testConnection();
    expect(r.ok).toBe(true);
    expect(r.node?.path).toMatch(/^\/.*node$/);
    expect(r.node?.version).toMatch(/^v\d+\.\d+\.\d+$/);
    expect(r.shellOutput?.stdout).toBe(`${BANNER}\n`);
    expect(r.shellOutput?.stderr).toContain("module: gcc/12 loaded");
    // the command's own output and stderr carry none of it
    const out = await c.exec("echo ours; echo err >&2");
    expect(out).toMatchObject({ stdout: "ours\n", stderr: "err\n" });
  });

  it("rsync as the first contact: files still move (with tar); one warning per host, naming ~/.bashrc", async () => {
    const c = noisyBed.ssh({ transport: "rsync", maxRetries: 0 }) as SshConnection;
    const remote = `rr-cause-noisy-${process.pid}-first`;
    await c.push(src, remote, ["a.txt"]);
    expect(c.stats.execs).toBe(0);
    expect(c.activeTransport).toBe("scp");
    const back = join(work, "noisy-back-1");
    await c.pull(remote, back, ["a.txt", "missing.txt"]);
    expect(readFileSync(join(back, "a.txt"), "utf8")).toBe("alpha\n");
    const mine = warnings.filter((w) => w.message.includes(c.label));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.message).toContain("~/.bashrc");
    expect(mine[0]!.message).toMatch(/tar/);
    expect((mine[0] as Error & { code?: string }).code).toBe("REMOTERUN_RSYNC_FALLBACK");
  });

  it("after a command saw the banner, transfers go through tar at once", async () => {
    const c = noisyBed.ssh({ transport: "rsync" }) as SshConnection;
    await c.exec("true");
    expect(c.shellOutput?.stdout).toBe(`${BANNER}\n`);
    expect(c.activeTransport).toBe("scp");
    const before = c.stats.launches;
    await c.push(src, `rr-cause-noisy-${process.pid}-second`, ["a.txt", "big.bin"]);
    expect(c.stats.launches - before).toBe(2); // local tar + ssh: no failed rsync first
    const r = await c.exec(`wc -c < rr-cause-noisy-${process.pid}-second/big.bin`);
    expect(r.stdout.trim()).toBe(String(256 * 1024));
  });

  it.each(transports)("a function Dataset over %s gets its results", async (transport) => {
    const ds = new Dataset(({ x }: { x: number }) => x * 7, {
      name: `noisy-${transport}`,
      skip: false,
      verbose: 0,
      connection: noisyBed.ssh({ transport }),
      ...noisyBed.dirs(transport),
    });
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    await ds.run();
    await ds.wait({ interval: 0.1, timeout: 60 });
    expect(await ds.fetchResults()).toEqual([7, 14]);
    await ds.close();
  });
});

describe("a host without rsync", () => {
  it("rsync's 'command not found' is named, and the files move with tar", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const c = bareBed.ssh({ transport: "rsync", maxRetries: 0 }) as SshConnection;
      const remote = `rr-cause-bare-${process.pid}-1`;
      await c.push(src, remote, ["a.txt"]);
      expect(c.activeTransport).toBe("scp");
      const back = join(work, "bare-back");
      await c.pull(remote, back, ["a.txt"]);
      expect(readFileSync(join(back, "a.txt"), "utf8")).toBe("alpha\n");
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      const mine = warnings.filter((w) => w.message.includes(c.label));
      expect(mine).toHaveLength(1);
      expect(mine[0]!.message).toContain(
        "rsync is missing on the far side (bash: line 1: rsync: command not found)",
      );
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("with a transfer error that is not about rsync, no fallback: the cause is named", async () => {
    const c = bareBed.ssh({ transport: "rsync", maxRetries: 0 }) as SshConnection;
    const e = await thrown(c.push(src, join(forbidden, "bare"), ["a.txt"]));
    // rsync is missing and the folder is forbidden: mkdir fails first, and says so
    expect(e).toBeInstanceOf(TransferError);
    expect(e.message).toContain("Permission denied");
  });
});

describe("a ProxyJump hop whose host key is unknown", () => {
  let net: JumpNetwork;
  let configFile: string;
  beforeAll(async () => {
    net = await startJumpNetwork();
    const j = net.jump;
    const empty = join(work, "empty_known_hosts");
    writeFileSync(empty, "");
    configFile = join(work, "ssh_config");
    writeFileSync(
      configFile,
      [
        "Host rrjump",
        `  HostName ${net.jumpAddress}`,
        `  Port ${j.port}`,
        `  User ${j.user}`,
        `  IdentityFile ${j.keyfile}`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${empty}`,
        "  StrictHostKeyChecking yes",
        "  BatchMode yes",
        "  ConnectTimeout 5",
        "",
      ].join("\n"),
    );
  }, 60_000);
  afterAll(async () => {
    await net?.destroy();
  });

  const target = (transport: "rsync" | "scp") =>
    connect({
      host: net.targetAddress,
      port: net.target.port,
      user: net.target.user,
      keyfile: net.target.keyfile,
      knownHostsFile: net.target.knownHostsFile,
      proxyJump: "rrjump",
      configFile,
      transport,
      maxRetries: 0,
    });

  it("exec: the hop's own words, not 'connection dropped'", async () => {
    const c = target("rsync");
    try {
      const e = await thrown(c.exec("true"));
      expect(e).toBeInstanceOf(ConnectionError);
      expect(e.reason).toBe("host-key");
      expect(e.message).toContain("ProxyJump hop rrjump failed");
      expect(e.message).toContain(`No ED25519 host key is known for [${net.jumpAddress}]:${net.jump.port}`);
      expect(e.message).not.toContain("connection dropped");
      expect(e.stderr).toContain("Host key verification failed");
    } finally {
      await c.close();
    }
  });

  it.each(transports)("a push over %s as the first contact says the same", async (transport) => {
    const c = target(transport);
    try {
      const e = await thrown(c.push(src, "x", ["a.txt"]));
      expect(e).toBeInstanceOf(ConnectionError);
      expect(e.reason).toBe("host-key");
      expect(e.message).toContain(`No ED25519 host key is known for [${net.jumpAddress}]:${net.jump.port}`);
    } finally {
      await c.close();
    }
  });
});
