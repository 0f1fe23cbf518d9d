/**
 * Crash injection, short version (the long one is `npm run soak`): a driver killed with SIGKILL at
 * seeded random moments of append → run → wait → fetch, and on purpose inside the launch window
 * (runners recorded `transferred`, the launch command not yet answered), then resumed by a new
 * process, loses nothing and runs nothing twice; its database stays readable after every kill.
 * Locally and over the real sshd. The seed is printed; REMOTERUN_CRASH_SEED replays its plan.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomSeed, runCampaign, type Summary, summaryLines, verdict } from "./crash/harness.mjs";
import { type SshdServer, startSshd } from "./harness/sshd.js";
import { ensureDist } from "./helpers/dist.js";

const seed = Number(process.env.REMOTERUN_CRASH_SEED ?? randomSeed());
if (!Number.isInteger(seed) || seed < 0)
  throw new Error(
    `REMOTERUN_CRASH_SEED must be a non-negative integer, not ${process.env.REMOTERUN_CRASH_SEED}`,
  );
let server: SshdServer | undefined;
let local: Summary;
let ssh: Summary;

beforeAll(async () => {
  await ensureDist();
  server = await startSshd();
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`crash injection: seed ${seed} (REMOTERUN_CRASH_SEED=${seed} replays the plan)`);
  // Both sides at once: two drivers at a time keep the test short; the kills land where they land.
  [local, ssh] = await Promise.all([
    runCampaign({ where: "local", seed, kills: 16, windowKills: 5, killsPerTrial: [3, 5] }),
    runCampaign({
      where: "ssh",
      ssh: server.connectionOptions() as unknown as Record<string, unknown>,
      seed: seed + 1,
      kills: 15,
      windowKills: 5,
      killsPerTrial: [3, 5],
    }),
  ]);
  for (const s of [local, ssh]) for (const line of summaryLines(s)) log(line);
}, 170_000);

afterAll(async () => {
  await server?.stop();
});

function expectSound(s: Summary) {
  const detail = summaryLines(s).join("\n");
  expect(s.problems, detail).toEqual([]);
  expect(verdict(s), detail).toBe(verdict({ kills: s.kills, lost: 0, runTwice: 0, wrong: 0, unreadable: 0 }));
}

describe("a driver killed at any moment and resumed", () => {
  it("made at least 30 kills, 10 of them inside the launch window", () => {
    expect(local.kills + ssh.kills).toBeGreaterThanOrEqual(30);
    expect(local.windowKills + ssh.windowKills).toBeGreaterThanOrEqual(10);
    expect(local.windowKills).toBeGreaterThan(0);
    expect(ssh.windowKills).toBeGreaterThan(0);
  });

  it("locally: loses nothing, runs nothing twice, keeps a readable database", () => {
    expectSound(local);
  });

  it("over SSH: loses nothing, runs nothing twice, keeps a readable database", () => {
    expectSound(ssh);
  });
});
