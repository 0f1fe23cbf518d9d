/**
 * refresh() when the scheduler says a job has finished but the runner's own final state line is not
 * there (yet): a grace period before the runner counts as failed, because a shared filesystem may
 * show the line late. Real bash and a real (exited) process stand in for the job.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Computer } from "../computer/index.js";
import { LocalConnection } from "../connection/local.js";
import { serializer } from "../remote/serial.mjs";
import { Runner } from "../runner/index.js";
import type { DatasetInternals } from "./internals.js";
import type { Placement } from "./records.js";
import { refresh, UNREPORTED_GRACE_MS } from "./tracking.js";

const work = mkdtempSync(join(tmpdir(), "rr-tracking-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function setup(tag: string) {
  const remoteRoot = join(work, tag);
  mkdirSync(join(remoteRoot, "ds-1", "state"), { recursive: true });
  // a job that has come and gone: its pid no longer exists
  const pid = String(spawnSync("bash", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim());
  const runner = new Runner(
    { runArgs: {}, temporaryRunArgs: {} },
    {
      index: 0,
      name: "runner-0",
      identity: "x",
      args: {},
      runArgs: {},
      state: "submitted",
      stateTime: 0,
      token: "tok",
      jobId: pid,
    },
    (t) => JSON.parse(t),
  );
  const placements = new Map<string, Placement>([["runner-0", { localRoot: work, remoteRoot, slot: 0 }]]);
  const ds: DatasetInternals<Record<string, unknown>, unknown> = {
    name: "ds",
    folder: "ds-1",
    connection: new LocalConnection(),
    scheduler: Computer.bash(),
    script: undefined,
    codec: serializer("json"),
    runners: [runner],
    placements,
    unreported: new Map(),
    saveRunners: () => {},
    log: () => {},
  };
  return { ds, runner, stateFile: join(remoteRoot, "ds-1", "state", "tok.0.log") };
}

describe("a finished job whose runner has not reported", () => {
  it("stays in flight during the grace period, then fails with a clear reason", async () => {
    const { ds, runner } = setup("silent");
    await refresh(ds);
    expect(runner.state).toBe("submitted");
    expect(ds.unreported.has("runner-0")).toBe(true);
    // as if the grace period had passed
    ds.unreported.set("runner-0", Date.now() - UNREPORTED_GRACE_MS - 1);
    await refresh(ds);
    expect(runner.state).toBe("failed");
    expect(runner.errorText).toMatch(/ended \(EXITED\) without the runner reporting a result/);
    expect(ds.unreported.has("runner-0")).toBe(false);
  });

  it("takes the runner's own line when it shows up late", async () => {
    const { ds, runner, stateFile } = setup("late");
    await refresh(ds);
    expect(runner.state).toBe("submitted");
    writeFileSync(stateFile, `tok\trunner-0\tstarted\t1\ntok\trunner-0\tcompleted\t2\n`);
    ds.unreported.set("runner-0", Date.now() - UNREPORTED_GRACE_MS - 1);
    await refresh(ds);
    expect(runner.state).toBe("completed");
    expect(ds.unreported.has("runner-0")).toBe(false);
  });
});
