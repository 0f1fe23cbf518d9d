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
