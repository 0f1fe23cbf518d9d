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
