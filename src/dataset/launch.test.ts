/**
 * The launch and resolution shell text of launch.ts, run by a real bash: the node check, and the
 * claim that makes a launch happen at most once per token whoever gets there first.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  LAUNCH_REVOKED_EXIT,
  launchRecord,
  launchScript,
  NODE_MISSING_EXIT,
  parseLaunchOutcomes,
  resolveLaunchScript,
} from "./launch.js";

const work = mkdtempSync(join(tmpdir(), "rr-launch-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let seq = 0;

function folder(): string {
  const dir = join(work, `f-${++seq}`);
  mkdirSync(dir);
  return dir;
}

function bash(script: string, cwd = work) {
  return spawnSync("bash", ["-s"], { cwd, input: script, encoding: "utf8" });
}

describe("launchScript node check", () => {
  function launchWith(version: string): { status: number | null; stderr: string } {
    const dir = join(work, `launch-${++seq}`);
    mkdirSync(dir);
    const fake = join(dir, "fake-node.sh");
    // a setup line's chatter first, the version last, as `module load nodejs && node` may print
    writeFileSync(fake, `#!/bin/bash\necho "module chatter"\necho ${version}\n`, { mode: 0o755 });
    const script = launchScript(fake, [{ dir, body: "echo launched", token: "tok" }], true);
    const r = spawnSync("bash", ["-c", script], { cwd: dir, encoding: "utf8" });
    return { status: r.status, stderr: r.stderr };
  }
  it("accepts Node 18 and later", () => {
    expect(launchWith("v18.20.8").status).toBe(0);
    expect(launchWith("v22.1.0").status).toBe(0);
  });
  it("refuses an older node, saying which and why", () => {
    const r = launchWith("v16.20.2");
    expect(r.status).toBe(NODE_MISSING_EXIT);
    expect(r.stderr).toMatch(/node v16\.20\.2 .* is too old: the remote runtime needs Node\.js >= 18/);
  });
  it("refuses a node command that does not start", () => {
    const r = launchWith("");
    expect(r.status).toBe(NODE_MISSING_EXIT);
    expect(r.stderr).toMatch(/cannot start node with/);
  });
});

describe("exactly-once launch", () => {
  const counter = (dir: string) => `echo x >> ${JSON.stringify(join(dir, "count"))}; echo "pid 4242"`;
  const count = (dir: string) =>
    existsSync(join(dir, "count")) ? readFileSync(join(dir, "count"), "utf8").split("\n").length - 1 : 0;

  it("runs the body once, records its output and exit code, privately", () => {
    const dir = folder();
    const r = bash(launchScript("node", [{ dir, body: counter(dir), token: "t1" }], false));
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("@0 pid 4242");
    expect(count(dir)).toBe(1);
    const rec = join(dir, launchRecord("t1"));
    expect(readFileSync(join(rec, "rc"), "utf8").trim()).toBe("0");
    expect(statSync(rec).mode & 0o077).toBe(0);
    expect(statSync(join(rec, "out")).mode & 0o077).toBe(0);
    // The same launch sent again (a retried command) finds its record and does nothing.
    const again = bash(launchScript("node", [{ dir, body: counter(dir), token: "t1" }], false));
    expect(again.status).toBe(LAUNCH_REVOKED_EXIT);
    expect(count(dir)).toBe(1);
  });

  it("a resolution that comes first revokes the launch for good", () => {
    const dir = folder();
    const res = bash(resolveLaunchScript([{ dir, token: "t2" }]));
    expect(parseLaunchOutcomes(res.stdout, 1)).toEqual([{ kind: "never" }]);
    const late = bash(launchScript("node", [{ dir, body: counter(dir), token: "t2" }], false));
    expect(late.status).toBe(LAUNCH_REVOKED_EXIT);
    expect(count(dir)).toBe(0);
    // Asked again, the answer stays the same.
    expect(parseLaunchOutcomes(bash(resolveLaunchScript([{ dir, token: "t2" }])).stdout, 1)).toEqual([
      { kind: "never" },
    ]);
  });

  it("a resolution that comes after reads what the launch recorded", () => {
    const dir = folder();
    bash(launchScript("node", [{ dir, body: `${counter(dir)}; echo "job 0 77"`, token: "t3" }], false));
    const res = bash(resolveLaunchScript([{ dir, token: "t3" }]));
    expect(parseLaunchOutcomes(res.stdout, 1)).toEqual([
      { kind: "launched", exitCode: 0, lines: ["pid 4242", "job 0 77"] },
    ]);
  });

  it("a resolution waits for a launch still going, and sees a failed one fail", async () => {
    const dir = folder();
    const slow = spawn("bash", ["-s"], { cwd: work });
    slow.stdin.end(
      launchScript("node", [{ dir, body: `sleep 1; echo "job 0 5"; exit 3`, token: "t4" }], false),
    );
    while (!existsSync(join(dir, launchRecord("t4")))) await new Promise((r) => setTimeout(r, 20));
    const res = bash(resolveLaunchScript([{ dir, token: "t4" }]));
    expect(parseLaunchOutcomes(res.stdout, 1)).toEqual([
      { kind: "launched", exitCode: 3, lines: ["job 0 5"] },
    ]);
    await new Promise((r) => slow.on("close", r));
  });

  it("a launch that never ends is reported unfinished with what it printed", () => {
    const dir = folder();
    mkdirSync(join(dir, launchRecord("t5")));
    writeFileSync(join(dir, launchRecord("t5"), "out"), "job 0 9\n");
    const res = bash(resolveLaunchScript([{ dir, token: "t5" }], 0.2));
    expect(parseLaunchOutcomes(res.stdout, 1)).toEqual([{ kind: "unfinished", lines: ["job 0 9"] }]);
  });

  it("a folder that is gone never launched; several folders are settled in one command", () => {
    const a = folder();
    const res = bash(
      resolveLaunchScript([
        { dir: join(work, "no such folder"), token: "t6" },
        { dir: a, token: "t6" },
      ]),
    );
    expect(parseLaunchOutcomes(res.stdout, 2)).toEqual([{ kind: "never" }, { kind: "never" }]);
  });

  it("a launch script cut short on its way runs nothing", () => {
    const dir = folder();
    const full = launchScript("node", [{ dir, body: counter(dir), token: "t7" }], false);
    for (const cut of [0.3, 0.6, 0.9]) {
      bash(full.slice(0, Math.floor(full.length * cut)));
      expect(count(dir)).toBe(0);
      expect(existsSync(join(dir, launchRecord("t7")))).toBe(false);
    }
  });
});
