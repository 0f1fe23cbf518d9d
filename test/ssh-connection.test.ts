/**
 * SshConnection against a real, private sshd (test/harness/sshd.ts): key-only auth on a free
 * high port, strict host-key checking with the harness's known_hosts. No mocks.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../src/connection/connect.js";
import { SshConnection } from "../src/connection/ssh.js";
import type { SshConnectionOptions } from "../src/connection/ssh-options.js";
import { CommandError, ConnectionError, TransferError } from "../src/shared/errors.js";
import { shellQuote } from "../src/shared/quote.js";
import { type SshdServer, startSshd } from "./harness/sshd.js";

let server: SshdServer;
let work: string;
const open: SshConnection[] = [];

function ssh(extra: Partial<SshConnectionOptions> = {}): SshConnection {
  const c = new SshConnection({ ...server.connectionOptions(), ...extra });
  open.push(c);
  return c;
}

beforeAll(async () => {
  server = await startSshd();
  work = await mkdtemp(join(tmpdir(), "rr-ssh-test-"));
});

afterAll(async () => {
  // remote scratch folders live in the test user's home
  const cleaner = server && new SshConnection(server.connectionOptions());
  await cleaner?.exec(`rm -rf rr-test-${process.pid}-*`, { allowFailure: true });
  await cleaner?.close();
  await Promise.all(open.map((c) => c.close()));
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Remote scratch folder (relative to the test user's home), unique per call. */
let seq = 0;
const remoteDir = () => `rr-test-${process.pid}-${++seq}`;

describe("exec", () => {
  it("runs a script from stdin and returns stdout, stderr and the exit code", async () => {
    const c = ssh();
    const r = await c.exec("echo out; echo err >&2; whoami");
    expect(r).toEqual({ stdout: `out\n${server.user}\n`, stderr: "err\n", exitCode: 0 });
    const f = await c.exec("exit 3", { allowFailure: true });
    expect(f.exitCode).toBe(3);
    await expect(c.exec("echo boom >&2; exit 4")).rejects.toMatchObject({
      name: "CommandError",
      exitCode: 4,
      stderr: "boom\n",
    });
  });

  it("treats a script's own exit 255 as a command failure, not a connection failure", async () => {
    const c = ssh();
    const err = await c.exec("exit 255").catch((e) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err.exitCode).toBe(255);
    expect(c.stats.launches).toBe(1); // never re-run
  });

  it("harmless stderr never fails a command; ignoreStderr strips configured noise", async () => {
    const c = ssh({ ignoreStderr: [/^Welcome to /, /^module: loaded /] });
    const r = await c.exec(
      "echo 'Welcome to the cluster' >&2; echo 'module: loaded x' >&2; echo real >&2; echo ok",
    );
    expect(r.stdout).toBe("ok\n");
    expect(r.stderr).toBe("real\n");
  });

  it("cwd: starts in the given folder (created first), quoted", async () => {
    const c = ssh();
    const dir = `${remoteDir()}/it's a "dir" $(x)`;
    await c.exec(`mkdir -p -- ${shellQuote(dir)}`);
    const r = await c.exec("pwd", { cwd: dir });
    expect(r.stdout.trim().endsWith(`/it's a "dir" $(x)`)).toBe(true);
    await expect(c.exec("pwd", { cwd: `${remoteDir()}/missing` })).rejects.toBeInstanceOf(CommandError);
  });
});

/** Deterministic PRNG so that failures reproduce. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hostile pieces; `CANARY` is replaced by a path that must never come into existence. */
const PIECES = [
  "'",
  '"',
  "$(touch CANARY)",
  "`touch CANARY`",
  "; touch CANARY",
  "| touch CANARY",
  "&& touch CANARY &",
  "$HOME",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion is the point
  "${IFS}",
  "\n",
  "\t",
  "\\",
  "\\'",
  "'\\''",
  " ",
  "  ",
  "-",
  "--rsh=x",
  "*",
  "?",
  "[a]",
  "{a,b}",
  "~",
  "!",
  "#",
  "%s",
  "%%",
  "é",
  "日本語",
  "🧪",
  "👩‍🔬",
  "e\u0301",
  "\u200b",
  "\r",
  "a",
  "Z9",
  ">",
  "<",
  "(",
  ")",
];

function hostileStrings(
  n: number,
  seed: number,
  canary: string,
  opts: { fileName?: boolean } = {},
): string[] {
  const rnd = prng(seed);
  const out = new Set<string>();
  while (out.size < n) {
    const k = 1 + Math.floor(rnd() * 6);
    let s = "";
    for (let i = 0; i < k; i++) s += PIECES[Math.floor(rnd() * PIECES.length)].replaceAll("CANARY", canary);
    if (opts.fileName) {
      s = s.replaceAll("/", "∕"); // a name component: no '/'
      if (s === "." || s === ".." || Buffer.byteLength(s) > 200) continue;
    }
    if (rnd() < 0.2) s = `-${s}`;
    out.add(s);
  }
  return [...out];
}

describe("quoting: any byte arrives intact and nothing is executed", () => {
  let canaryDir: string;
  const canaries = () => readdirSync(canaryDir);

  beforeAll(async () => {
    canaryDir = join(work, "canary");
    await mkdir(canaryDir);
    // writable by the remote test user, or a payload that did run could not leave a trace
    const { chmod } = await import("node:fs/promises");
    await chmod(work, 0o755);
    await chmod(canaryDir, 0o777);
  });

  it("the canary works: an unquoted payload does leave a trace (positive control)", async () => {
    const c = ssh();
    await c.exec(`x=$(touch ${join(canaryDir, "control")})`);
    expect(canaries()).toEqual(["control"]);
    await rm(join(canaryDir, "control"));
  });

  it("(a) 250 strings as file contents written by a remote script and read back byte-exact", async () => {
    const c = ssh();
    const strings = hostileStrings(250, 1, join(canaryDir, "A"));
    const dir = remoteDir();
    const script = [
      `mkdir -p -- ${shellQuote(dir)} && cd -- ${shellQuote(dir)} || exit 1`,
      ...strings.map((s, i) => `printf '%s' ${shellQuote(s)} > f${i}`),
    ].join("\n");
    await c.exec(script);
    const back = await c.exec(
      `cd -- ${shellQuote(dir)} && for i in $(seq 0 ${strings.length - 1}); do base64 -w0 f$i; echo; done`,
    );
    const decoded = back.stdout
      .trimEnd()
      .split("\n")
      .map((b) => Buffer.from(b, "base64").toString("utf8"));
    expect(decoded).toEqual(strings);
    expect(canaries()).toEqual([]);
  });

  it("(b) 250 strings as printf arguments arrive byte-exact", async () => {
    const c = ssh();
    const strings = hostileStrings(250, 2, join(canaryDir, "B"));
    const r = await c.exec(`printf '%s\\0' ${strings.map(shellQuote).join(" ")}`);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(strings);
    expect(canaries()).toEqual([]);
  });

  for (const transport of ["rsync", "scp"] as const) {
    it(`(c) 200 hostile file names pushed and pulled back byte-exact with ${transport}`, async () => {
      const c = ssh({ transport });
      const names = hostileStrings(200, transport === "rsync" ? 3 : 4, join(canaryDir, "C"), {
        fileName: true,
      });
      // some in nested folders whose names are hostile too
      const files = names.map((n, i) => (i % 10 === 0 ? `sub dir 'x' $(y)/${n}` : n));
      const local = join(work, `names-${transport}`);
      for (const [i, f] of files.entries()) {
        await mkdir(dirname(join(local, f)), { recursive: true });
        await writeFile(join(local, f), `content ${i}: ${f}`);
      }
      const remote = `${remoteDir()}/deep/er root`;
      await c.push(local, remote, files);
      // the far side holds exactly these names
      const listed = await c.exec(`cd -- ${shellQuote(remote)} && find . -type f -print0`);
      const remoteNames = listed.stdout
        .split("\0")
        .slice(0, -1)
        .map((p) => p.slice(2));
      expect(remoteNames.sort()).toEqual([...files].sort());
      const back = join(work, `back-${transport}`);
      await c.pull(remote, back, [...files, "never-existed.txt", "sub dir 'x' $(y)/missing"]);
      for (const [i, f] of files.entries()) {
        expect(await readFile(join(back, f), "utf8")).toBe(`content ${i}: ${f}`);
      }
      expect(existsSync(join(back, "never-existed.txt"))).toBe(false);
      expect(canaries()).toEqual([]);
    });
  }
});

async function makeFiles(dir: string, n: number): Promise<string[]> {
  const files = Array.from({ length: n }, (_, i) => `d${i % 7}/file ${i}.txt`);
  for (const f of files) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await writeFile(join(dir, f), `payload ${f}`);
  }
  return files;
}

describe("processes launched per operation do not grow with the number of files", () => {
  for (const transport of ["rsync", "scp"] as const) {
    it(`${transport}: push, exec and pull of 5 and of 200 files launch the same number of processes (<= 3)`, async () => {
      const perOp: Record<number, number[]> = {};
      for (const n of [5, 200]) {
        const c = ssh({ transport });
        const local = join(work, `stats-${transport}-${n}`);
        const files = await makeFiles(local, n);
        const remote = remoteDir();
        const counts: number[] = [];
        let before = c.stats.launches;
        await c.push(local, remote, files);
        counts.push(c.stats.launches - before);
        before = c.stats.launches;
        const r = await c.exec(`find ${shellQuote(remote)} -type f | wc -l`);
        expect(Number(r.stdout.trim())).toBe(n);
        counts.push(c.stats.launches - before);
        before = c.stats.launches;
        await c.pull(remote, join(work, `stats-back-${transport}-${n}`), files);
        counts.push(c.stats.launches - before);
        expect(existsSync(join(work, `stats-back-${transport}-${n}`, files[n - 1]))).toBe(true);
        expect(c.stats).toMatchObject({ execs: 1, pushes: 1, pulls: 1 });
        perOp[n] = counts;
      }
      expect(perOp[5]).toEqual(perOp[200]);
      for (const k of perOp[200]) expect(k).toBeLessThanOrEqual(3);
    });
  }

  it("an empty file list launches nothing", async () => {
    const c = ssh();
    await c.push(work, remoteDir(), []);
    await c.pull(remoteDir(), join(work, "empty-pull"), []);
    expect(c.stats.launches).toBe(0);
  });
});

describe("transports honour port and keyfile (key-only server on a non-default port)", () => {
  for (const transport of ["rsync", "scp"] as const) {
    it(`${transport}: a fresh connection authenticates with the given key and port, and fails without them`, async () => {
      expect(server.port).not.toBe(22);
      const local = join(work, `honour-${transport}`);
      const files = await makeFiles(local, 3);
      // no exec first: the transport itself must open the connection
      const good = ssh({ transport });
      await good.push(local, remoteDir(), files);
      expect(good.stats.execs).toBe(0);

      const stranger = await server.makeUnauthorizedKey();
      const badKey = ssh({ transport, keyfile: stranger, maxRetries: 0 });
      const e1 = await badKey.push(local, remoteDir(), files).catch((e) => e);
      expect(e1).toBeInstanceOf(ConnectionError);
      expect(e1.reason).toBe("auth");

      const badPort = ssh({ transport, port: await closedPort(), maxRetries: 0 });
      const e2 = await badPort.pull(remoteDir(), join(work, "x"), files).catch((e) => e);
      expect(e2).toBeInstanceOf(ConnectionError);
      expect(e2.reason).toBe("refused");
    });
  }

  it("pull of a remote root that does not exist is a silent no-op", async () => {
    for (const transport of ["rsync", "scp"] as const) {
      const c = ssh({ transport });
      const dest = join(work, `missing-root-${transport}`);
      await c.pull(`${remoteDir()}/no/such/root`, dest, ["a", "b/c"]);
      expect(readdirSync(dest)).toEqual([]);
    }
  });
});

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 1));
    });
  });
}

async function failure(p: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const t0 = Date.now();
  try {
    await p;
    return { error: undefined, ms: Date.now() - t0 };
  } catch (error) {
    return { error, ms: Date.now() - t0 };
  }
}

describe("connection failures are typed and bounded in time", () => {
  const fast = { timeout: 3, maxRetries: 2, retryDelayMs: 100 };
  // bound: (connect timeout + backoff) for every attempt, plus slack
  const bound = (fast.timeout * 1000 + 400) * (fast.maxRetries + 1) + 2000;

  it("wrong port → refused, after the configured retries", async () => {
    const c = ssh({ ...fast, port: await closedPort() });
    const { error, ms } = await failure(c.exec("true"));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe("refused");
    expect(c.stats.launches).toBe(fast.maxRetries + 1);
    expect(ms).toBeLessThan(bound);
  });

  it("wrong user → auth, not retried", async () => {
    const c = ssh({ ...fast, user: "rr-no-such-user" });
    const { error, ms } = await failure(c.exec("true"));
    expect((error as ConnectionError).reason).toBe("auth");
    expect(c.stats.launches).toBe(1);
    expect(ms).toBeLessThan(bound);
  });

  it("unauthorised key → auth", async () => {
    const c = ssh({ ...fast, keyfile: await server.makeUnauthorizedKey() });
    const { error } = await failure(c.exec("true"));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe("auth");
  });

  it("unknown host key with strict checking (empty known_hosts) → host-key", async () => {
    const c = ssh({ ...fast, knownHostsFile: await server.makeEmptyKnownHosts() });
    const { error, ms } = await failure(c.exec("true"));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe("host-key");
    expect(c.stats.launches).toBe(1);
    expect(ms).toBeLessThan(bound);
  });

  it("changed host key → host-key", async () => {
    const wrong = join(work, "wrong_known_hosts");
    const other = await server.makeUnauthorizedKey(); // any ed25519 public key that is not the host's
    const pub = readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    await writeFile(wrong, `[127.0.0.1]:${server.port} ${pub}\n`);
    const c = ssh({ ...fast, knownHostsFile: wrong });
    const { error } = await failure(c.exec("true"));
    expect((error as ConnectionError).reason).toBe("host-key");
  });

  it("strictHostKeyChecking 'accept-new' trusts a first-seen key; ssh's warning is not returned", async () => {
    const kh = await server.makeEmptyKnownHosts();
    const c = ssh({ knownHostsFile: kh, strictHostKeyChecking: "accept-new" });
    const r = await c.exec("echo hi");
    expect(r).toEqual({ stdout: "hi\n", stderr: "", exitCode: 0 });
    expect(readFileSync(kh, "utf8")).toContain("ssh-ed25519");
  });

  it("unresolvable host → unreachable", async () => {
    const c = ssh({ ...fast, host: "rr-no-such-host.invalid", maxRetries: 0 });
    const { error } = await failure(c.exec("true"));
    expect((error as ConnectionError).reason).toBe("unreachable");
  });

  it("session killed mid-command → dropped, never re-run", async () => {
    const c = ssh(fast);
    await c.exec("true"); // master up
    const before = c.stats.launches;
    const marker = `${remoteDir()}.runs`;
    const run = failure(c.exec(`echo x >> ${shellQuote(marker)}; sleep 30`));
    await new Promise((r) => setTimeout(r, 700));
    expect(await server.dropConnections()).toBeGreaterThan(0);
    const { error, ms } = await run;
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe("dropped");
    expect(ms).toBeLessThan(bound);
    expect(c.stats.launches - before).toBe(1);
    const c2 = ssh();
    expect((await c2.exec(`cat ${shellQuote(marker)}`)).stdout).toBe("x\n");
  });

  it("exec time limit → CommandError within the limit", async () => {
    const c = ssh();
    const { error, ms } = await failure(c.exec("sleep 30", { timeoutMs: 800 }));
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).message).toMatch(/timed out after 800 ms/);
    expect(ms).toBeLessThan(800 + 3000);
  });

  it("transfer time limit on a big file → TransferError within the limit", async () => {
    const local = join(work, "big");
    await mkdir(local, { recursive: true });
    const { truncate } = await import("node:fs/promises");
    await writeFile(join(local, "big.bin"), "");
    await truncate(join(local, "big.bin"), 4 * 1024 ** 3); // sparse 4 GiB
    for (const transport of ["rsync", "scp"] as const) {
      const c = ssh({ transport, commandTimeout: 700 });
      const { error, ms } = await failure(c.push(local, remoteDir(), ["big.bin"]));
      expect(error).toBeInstanceOf(TransferError);
      expect(ms).toBeLessThan(700 + 3000);
    }
  });

  it("server stopped mid-transfer → typed error within timeout × retries", async () => {
    const other = await startSshd({ checkNode: false });
    try {
      const local = join(work, "big2");
      await mkdir(local, { recursive: true });
      const { truncate } = await import("node:fs/promises");
      await writeFile(join(local, "big.bin"), "");
      await truncate(join(local, "big.bin"), 4 * 1024 ** 3);
      const c = new SshConnection({ ...other.connectionOptions(), ...fast });
      open.push(c);
      const t = failure(c.push(local, remoteDir(), ["big.bin"]));
      await new Promise((r) => setTimeout(r, 700));
      await other.stop();
      const { error, ms } = await t;
      expect(error).toBeInstanceOf(ConnectionError);
      expect(ms).toBeLessThan(bound);
    } finally {
      await other.stop();
    }
  });
});

describe("testConnection", () => {
  it("reports node, schedulers, latency and a small clock offset in one exec", async () => {
    const c = ssh();
    await c.exec("true"); // warm master: the report then times a multiplexed round trip
    const before = c.stats.launches;
    const r = await c.testConnection();
    expect(c.stats.launches - before).toBe(1);
    expect(r.ok).toBe(true);
    expect(r.host).toBe(`${server.user}@127.0.0.1:${server.port}`);
    expect(r.node?.version).toBe(process.version);
    expect(r.node?.path).toMatch(/node$/);
    for (const k of ["sbatch", "qsub", "bsub"] as const) expect(typeof r.schedulers[k]).toBe("boolean");
    expect(Number.isFinite(r.latencyMs)).toBe(true);
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(Number.isFinite(r.clockOffsetMs)).toBe(true);
    expect(Math.abs(r.clockOffsetMs)).toBeLessThan(250); // same clock on loopback
  });

  it("uses the configured node command, and reports null when it is missing", async () => {
    const viaSetup = await ssh({ node: `export RR_X=1 && ${process.execPath}` }).testConnection();
    expect(viaSetup.node?.version).toBe(process.version);
    const missing = await ssh({ node: "/nonexistent/node" }).testConnection();
    expect(missing.node).toBeNull();
  });
});

/** Processes whose command line mentions the folder (a control master started there). */
function processesMentioning(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(dir)) found.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return found;
}

describe("control master", () => {
  it("many commands share one master; close() leaves no master process and no socket folder", async () => {
    const c = ssh();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.exec(`echo ${i}`)));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    const dir = c.controlDir!;
    expect(existsSync(join(dir, "cm"))).toBe(true);
    expect((await import("node:fs")).statSync(dir).mode & 0o777).toBe(0o700);
    expect(processesMentioning(dir).length).toBeGreaterThan(0);
    const before = c.stats.launches;
    await c.close();
    expect(c.stats.launches - before).toBe(1); // ssh -O exit
    expect(existsSync(dir)).toBe(false);
    for (let i = 0; i < 50 && processesMentioning(dir).length > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(processesMentioning(dir)).toEqual([]);
    await c.close(); // idempotent
    expect(c.stats.launches - before).toBe(1);
    // still usable: a new private folder and master
    expect((await c.exec("echo again")).stdout).toBe("again\n");
    expect(c.controlDir).not.toBe(dir);
  });

  it("a process that forgets close() exits promptly and leaves no socket folder", async () => {
    const { build } = await import("esbuild");
    const entry = join(work, "forget.mjs");
    await build({
      stdin: {
        contents: `import { SshConnection } from ${JSON.stringify(join(process.cwd(), "src/connection/ssh.ts"))};
          const c = new SshConnection(JSON.parse(process.argv[2]));
          const r = await c.exec("echo hi");
          process.stdout.write(JSON.stringify({ out: r.stdout, dir: c.controlDir }));`,
        resolveDir: process.cwd(),
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: entry,
      logLevel: "silent",
    });
    const { execFile } = await import("node:child_process");
    const t0 = Date.now();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [entry, JSON.stringify(server.connectionOptions())],
        { timeout: 20_000 },
        (e, out) => (e ? reject(e) : resolve(out)),
      ),
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    const { out, dir } = JSON.parse(stdout);
    expect(out).toBe("hi\n");
    expect(existsSync(dir)).toBe(false);
    for (let i = 0; i < 50 && processesMentioning(dir).length > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(processesMentioning(dir)).toEqual([]);
  });
});

describe("connect() and options", () => {
  it("connect({host,...}) gives an SshConnection that never mutates or keeps the caller's object", async () => {
    const opts = Object.freeze({
      ...server.connectionOptions(),
      sshOptions: Object.freeze(["Compression=no"]),
    });
    const copy = JSON.parse(JSON.stringify(opts));
    const c = connect(opts);
    open.push(c as SshConnection);
    expect(c).toBeInstanceOf(SshConnection);
    expect((await c.exec("echo ok")).stdout).toBe("ok\n");
    expect(JSON.parse(JSON.stringify(opts))).toEqual(copy);
    expect(Object.isFrozen((c as SshConnection).options)).toBe(true);
    expect(c.toJSON()).toEqual({
      kind: "ssh",
      host: "127.0.0.1",
      user: server.user,
      port: server.port,
      keyfile: server.keyfile,
      knownHostsFile: server.knownHostsFile,
      sshOptions: ["Compression=no"],
      timeout: 10,
      maxRetries: 2,
      transport: "rsync",
    });
  });

  it("connect('user@host:port') shorthand reaches the server", async () => {
    const c = connect(`${server.user}@127.0.0.1:${server.port}`) as SshConnection;
    expect(c.options).toMatchObject({ host: "127.0.0.1", user: server.user, port: server.port });
  });
});
