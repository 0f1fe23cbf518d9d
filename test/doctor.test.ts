/**
 * `remoterun doctor` (node dist/cli/main.js, as a user runs it) and diagnose() over the real sshd:
 * a healthy host, a login shell that talks, a forbidden and a full remoteDir, an unknown host, a
 * Dataset's database as the target. `--json` is parsed; the exit code is 0 unless a check fails.
 *
 * Runs as root; the ssh users are unprivileged test users (rmdoctor has a talking ~/.bashrc of its own).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, Dataset, type Diagnosis, diagnose } from "../src/index.js";
import type { SshdServer } from "./harness/sshd.js";
import { ensureDist, ROOT } from "./helpers/dist.js";
import { sshTestbed } from "./helpers/ssh.js";

const MAIN = join(ROOT, "dist/cli/main.js");
const bed = sshTestbed("rr-doc");
const noisyBed = sshTestbed("rr-doc-noisy", { sshd: { user: "rmdoctor" } });
const BANNER = "Welcome to the cluster: quota 80% used";

let work: string;
let noisyHome: string;

beforeAll(async () => {
  await ensureDist();
  work = mkdtempSync(join(tmpdir(), "rr-doc-"));
  chmodSync(work, 0o755);
  mkdirSync(join(work, "forbidden"), { mode: 0o755 });
  noisyHome = execFileSync("getent", ["passwd", "rmdoctor"], { encoding: "utf8" }).split(":")[5]!;
  writeFileSync(
    join(noisyHome, ".bashrc"),
    [`echo '${BANNER}'`, "echo 'module: intel loaded' >&2", "case $- in *i*) ;; *) return;; esac", ""].join(
      "\n",
    ),
  );
  execFileSync("chown", ["rmdoctor:", join(noisyHome, ".bashrc")]);
}, 120_000);

afterAll(() => {
  if (noisyHome) rmSync(join(noisyHome, ".bashrc"), { force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd = work): Promise<CliResult> {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The destination and options of a server, as a user types them. */
const target = (s: SshdServer) => [
  `${s.user}@${s.host}:${s.port}`,
  "-i",
  s.keyfile,
  "--known-hosts",
  s.knownHostsFile,
];

const check = (d: Diagnosis, name: string) => {
  const c = d.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name} in ${JSON.stringify(d.checks.map((x) => x.name))}`);
  return c;
};

describe("remoterun doctor", () => {
  it("a healthy host: every check ok, exit 0", async () => {
    const r = await cli(["doctor", ...target(bed.server), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as Diagnosis;
    expect(d.ok).toBe(true);
    expect(d.host).toBe(`${bed.server.user}@${bed.server.host}:${bed.server.port}`);
    expect(d.checks.map((c) => c.name)).toEqual([
      "connection",
      "shell-stdout",
      "shell-stderr",
      "rsync-local",
      "rsync-remote",
      "remote-dir",
      "disk",
      "transfer",
      "node",
      "schedulers",
      "clock",
    ]);
    for (const c of d.checks) expect(c.status, `${c.name}: ${c.summary}`).toBe("ok");
    expect(check(d, "rsync-remote").summary).toMatch(/rsync\s+version \d/);
    expect(check(d, "node").summary).toContain(process.version); // same node here and there
    expect(check(d, "transfer").summary).toMatch(/and back with rsync$/);
    expect(check(d, "disk").summary).toMatch(/free of/);
  });

  it("human output: one line per check and a summary", async () => {
    const r = await cli(["doctor", ...target(bed.server)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {2}\s+connection\s+logged in to/m);
    expect(r.stdout).toMatch(/^ok {2}\s+clock\s+/m);
    expect(r.stdout).toMatch(/no problem found/);
  });

  it("a login shell that talks: warnings that name ~/.bashrc and the banner, transfers still work, exit 0", async () => {
    const r = await cli(["doctor", ...target(noisyBed.server), "--json"]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as Diagnosis;
    expect(check(d, "shell-stdout")).toMatchObject({ status: "warn", detail: `${BANNER}\n` });
    expect(check(d, "shell-stdout").summary).toContain(BANNER);
    expect(check(d, "shell-stdout").advice).toContain("~/.bashrc");
    expect(check(d, "shell-stderr").status).toBe("warn");
    expect(check(d, "shell-stderr").detail).toContain("module: intel loaded");
    expect(check(d, "transfer")).toMatchObject({ status: "ok" });
    expect(check(d, "transfer").summary).toMatch(/tar over ssh/);
    // the banner is never taken for node
    expect(check(d, "node").summary).toMatch(/^node v\d+\.\d+\.\d+ at \//);
    // The switch to tar is said once, as the command's own line (not Node's warning format).
    expect(r.stderr).toMatch(/^warning: .*rsync cannot be used.*~\/\.bashrc/m);
    expect(r.stderr).not.toMatch(/\(node:\d+\)|RemoterunWarning/);
  });

  it("a remoteDir the ssh user may not write: fail, exit 4", async () => {
    const dir = join(work, "forbidden", "runs");
    const r = await cli(["doctor", ...target(bed.server), "--remote-dir", dir, "--json"]);
    expect(r.code).toBe(4);
    const d = JSON.parse(r.stdout) as Diagnosis;
    expect(d.ok).toBe(false);
    expect(check(d, "remote-dir")).toMatchObject({ status: "fail" });
    expect(check(d, "remote-dir").summary).toContain("permission denied");
    expect(d.checks.some((c) => c.name === "transfer")).toBe(false);
  });

  it("a full remoteDir: the disk check fails, exit 4", async () => {
    const tiny = join(work, "tiny");
    mkdirSync(tiny);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=1777", "tmpfs", tiny]);
    try {
      const r = await cli(["doctor", ...target(bed.server), "--remote-dir", tiny, "--json", "--no-transfer"]);
      expect(r.code).toBe(4);
      const d = JSON.parse(r.stdout) as Diagnosis;
      expect(check(d, "disk")).toMatchObject({ status: "fail" });
      expect(check(d, "disk").summary).toMatch(/too little space to run: \d+ KiB free of 64 KiB/);
      expect(check(d, "remote-dir").status).toBe("ok");
    } finally {
      execFileSync("umount", [tiny]);
    }
  });

  it("an unknown host: the connection fails with ssh's words, exit 4 (human output)", async () => {
    const r = await cli(["doctor", "nonexistent.invalid"]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^FAIL\s+connection\s+.*Could not resolve hostname nonexistent\.invalid/m);
    expect(r.stdout).toMatch(/→ check the spelling/);
    expect(r.stdout).toMatch(/1 problem\(s\) found/);
  });

  it("a Dataset's database as the target: its connection and remoteDir", async () => {
    const dirs = bed.dirs("ds");
    const ds = new Dataset(undefined, {
      script: "echo #x#\n",
      name: "doctored",
      skip: false,
      verbose: 0,
      connection: bed.ssh(),
      ...dirs,
    });
    ds.appendRun({ x: 1 });
    ds.save();
    const file = ds.dbFile;
    await ds.close();
    const r = await cli(["doctor", file, "--json"]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as Diagnosis;
    expect(d.host).toBe(`${bed.server.user}@${bed.server.host}:${bed.server.port}`);
    expect(check(d, "remote-dir").summary).toContain(dirs.remoteDir);
    // Named as other commands name it, from its folder: the Dataset, not a host called "doctored".
    const byName = await cli(["doctor", "doctored", "--json", "--no-transfer"], dirs.dbDir);
    expect(byName.code, byName.stderr).toBe(0);
    expect((JSON.parse(byName.stdout) as Diagnosis).host).toBe(d.host);
  });

  it('localhost is this machine without ssh, as connect("localhost")', async () => {
    const r = await cli(["doctor", "localhost", "--remote-dir", work, "--json"]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as Diagnosis;
    expect(d.host).toBe("localhost");
    expect(check(d, "connection").status).toBe("ok");
    expect(r.stdout).not.toMatch(/port 22/);
  });

  it("bad input is a usage error", async () => {
    const r = await cli(["doctor", "somehost", "--port", "http"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--port");
    const none = await cli(["doctor"], mkdtempSync(join(work, "empty-")));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no \*\.remoterun\.json database .* or the host to diagnose/);
  });
});

describe("diagnose()", () => {
  it("works on a connection object and refuses what is not one", async () => {
    const d = await diagnose(bed.ssh(), { transfer: false });
    expect(d.ok).toBe(true);
    expect(d.checks.some((c) => c.name === "transfer")).toBe(false);
    await expect(diagnose({} as never)).rejects.toThrow(/invalid connection/);
    // the local connection: no shell, rsync or clock checks
    const local = await diagnose(connect(), { remoteDir: work, transfer: true });
    expect(local.kind).toBe("local");
    expect(local.checks.map((c) => c.name)).toEqual([
      "connection",
      "remote-dir",
      "disk",
      "transfer",
      "node",
      "schedulers",
    ]);
    expect(local.checks.find((c) => c.name === "transfer")?.summary).toMatch(/with cp$/);
    await expect(diagnose(bed.ssh(), { remoteDir: "" })).rejects.toThrow(/invalid options.remoteDir/);
  });
});
