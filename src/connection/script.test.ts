import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBash } from "./local.js";
import { readEnvelope, wrapScript } from "./script.js";

const run = async (script: string, cwd?: string) => {
  const r = await runBash(wrapScript(script, cwd));
  const env = readEnvelope(r.stderr, r.stdout);
  return { ...r, stdout: env.stdout, env };
};

describe("script envelope", () => {
  it("reports start and the script's own status, 255 included, and strips its markers", async () => {
    const r = await run("echo out; echo err >&2; exit 255");
    expect(r.exitCode).toBe(255);
    expect(r.stdout).toBe("out\n");
    expect(r.env).toEqual({
      started: true,
      status: 255,
      stderr: "err\n",
      stdout: "out\n",
      shell: { stdout: "", stderr: "" },
    });
  });

  it("survives exec, EXIT traps and stderr without a final newline", async () => {
    expect((await run("trap 'echo bye' EXIT; exec false")).env).toMatchObject({ status: 1, started: true });
    const r = await run("printf partial >&2");
    expect(r.env).toMatchObject({ started: true, status: 0, stderr: "partial", stdout: "" });
  });

  it("passes the script byte for byte (no expansion, no early end, no trailing newline needed)", async () => {
    const tricky =
      "printf '%s' \"$HOME\" '`x`' '$(y)'\n__REMOTERUN_EOF_0__\ncat <<'EOF'\n$z \\\nEOF\nprintf end";
    const r = await run(tricky);
    expect(r.stdout).toBe(`${process.env.HOME}\`x\`$(y)$z \\\nend`);
    expect(r.env.stderr).toContain("__REMOTERUN_EOF_0__"); // a command-not-found, not a delimiter
  });

  it("starts in cwd or fails before running anything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rr it's "));
    expect((await run("pwd", dir)).stdout).toBe(`${dir}\n`);
    const r = await run("echo ran", join(dir, "missing"));
    expect(r.stdout).toBe("");
    expect(r.exitCode).toBe(1);
    rmSync(dir, { recursive: true, force: true });
  });

  it("without markers nothing started", () => {
    expect(readEnvelope("ssh: connect to host x port 1: Connection refused\n")).toEqual({
      started: false,
      status: null,
      stderr: "ssh: connect to host x port 1: Connection refused\n",
      stdout: "",
      shell: null,
    });
  });

  it("drops what rc files print on stdout before the script, with or without a final newline", async () => {
    const noisy = mkdtempSync(join(tmpdir(), "rr-noise-"));
    const rc = join(noisy, "rc.sh");
    writeFileSync(rc, "echo 'Welcome!'; printf 'no newline at end'\n");
    // BASH_ENV is read by every non-interactive bash, as a noisy rc file is on a cluster.
    const r = await runBash(`BASH_ENV=${rc}; export BASH_ENV\n${wrapScript("echo one; printf two")}`);
    expect(r.stdout).toMatch(/Welcome!\nno newline at end/);
    expect(readEnvelope(r.stderr, r.stdout).stdout).toBe("one\ntwo");
    rmSync(noisy, { recursive: true, force: true });
  });

  it("tells what the login shell printed by itself (before the envelope) from the inner shell's noise", async () => {
    // The outer shell here stands for the login shell: what it prints before the envelope is its own.
    const r = await runBash(
      `echo 'Disk quota: 10 GB of 20 GB'; printf 'no newline'; echo 'module: gcc' >&2\n${wrapScript("echo one")}`,
    );
    const env = readEnvelope(r.stderr, r.stdout);
    expect(env.shell).toEqual({ stdout: "Disk quota: 10 GB of 20 GB\nno newline", stderr: "module: gcc\n" });
    expect(env.stdout).toBe("one\n");
    expect(env.stderr).toBe("");
  });
});
