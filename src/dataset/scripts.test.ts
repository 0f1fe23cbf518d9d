/**
 * The shell text of scripts.ts, run by a real bash with a fake `node` (no scheduler needed): the
 * exit status a scheduler job reports, and the order in which the status command reads its files.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { jobScript, RUNNERS_FAILED_EXIT, STATUS_MARKER, statusScript } from "./scripts.js";

const work = mkdtempSync(join(tmpdir(), "rr-scripts-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let seq = 0;

/** Run a job script whose fake runtime writes these state lines (as runtime.mjs would) and exits `rc`. */
function runJob(states: string[], rc = 0): number | null {
  const dir = join(work, `job-${++seq}`);
  mkdirSync(dir);
  const fake = join(dir, "fake-node.sh");
  const lines = states.map((s, i) => `printf 'tok\\trunner-%s\\t%s\\t1\\n' ${i} ${s} >> state/tok.0.log`);
  writeFileSync(fake, `#!/bin/bash\n${lines.join("\n")}\nexit ${rc}\n`, { mode: 0o755 });
  const script = jobScript({
    header: "#!/bin/bash",
    token: "tok",
    nodeCommand: fake,
    groupExpr: "0",
    groups: 1,
  });
  return spawnSync("bash", ["-c", script], { cwd: dir, encoding: "utf8" }).status;
}

describe("jobScript exit status (what afterok / aftercorr judge)", () => {
  it("0 when its runners succeeded, or when at least one of a packed job's runners did", () => {
    expect(runJob(["started", "completed"])).toBe(0);
    expect(runJob(["started", "completed", "started", "failed"])).toBe(0);
  });
  it("fails when none of its runners succeeded", () => {
    expect(runJob(["started", "failed"])).toBe(RUNNERS_FAILED_EXIT);
    expect(runJob(["failed", "failed"])).toBe(RUNNERS_FAILED_EXIT);
  });
  it("keeps the runtime's own failure status", () => {
    expect(runJob(["started"], 7)).toBe(7);
  });
});

describe("statusScript", () => {
  it("reads the exit lines of the processes before their state lines", () => {
    const dir = join(work, "status");
    mkdirSync(join(dir, "state"), { recursive: true });
    writeFileSync(join(dir, "state", "tok.master.log"), "tok\t@process\t0/2\t0\t1\n");
    writeFileSync(join(dir, "state", "tok.0.log"), "tok\trunner-0\tcompleted\t1\n");
    writeFileSync(join(dir, "state", "tok.1.log"), "tok\trunner-1\tstarted\t1\n");
    const out = spawnSync("bash", ["-c", statusScript([{ dir, token: "tok" }])], { encoding: "utf8" }).stdout;
    const body = out
      .slice(out.indexOf(STATUS_MARKER) + STATUS_MARKER.length)
      .trim()
      .split("\n");
    expect(body).toEqual([
      "@@folder\t0",
      "tok\t@process\t0/2\t0\t1",
      "@@folder\t0",
      "tok\trunner-0\tcompleted\t1",
      "tok\trunner-1\tstarted\t1",
    ]);
  });
});
