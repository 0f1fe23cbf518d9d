// Crash-injection soak: kill the driver with SIGKILL hundreds of times (locally and over a private
// sshd), resume it each time, and count what was lost, run twice, wrong, or left unreadable.
// `npm run soak` builds first. The last line printed is the verdict:
//   kills: N, lost: 0, run twice: 0, wrong: 0, unreadable: 0
// and the exit code is non-zero when any count is (or when the harness met another problem).
//
//   node scripts/soak.mjs [--kills N] [--seed S] [--where local|ssh|both] [--runners R]
//                         [--window-kills W] [--keep]
// or the environment: SOAK_KILLS (default 300), SOAK_SEED (default: a fresh one, printed),
// SOAK_WHERE (default both: half the kills on each side), SOAK_RUNNERS (runners per Dataset,
// default 100), SOAK_WINDOW_KILLS (at least this many kills inside the launch window, default a
// fifth of the kills; 0 aims no kill there: only chance puts one there). --keep keeps the files of
// the trials when one of them showed a problem.
// A seed replays the plan (where each kill is aimed, its delay, whether it hits the process group);
// kills land in real time, so not every interleaving comes back the same.
// The SSH side starts the test sshd of test/harness/sshd.ts (as root it logs in as the `rmtest`
// user); set SOAK_SSH to connect() options as JSON to use another server instead.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { transform } from "esbuild";
import { ROOT, randomSeed, runCampaign, summaryLines, total, verdict } from "../test/crash/harness.mjs";

const { values } = parseArgs({
  options: {
    kills: { type: "string" },
    seed: { type: "string" },
    where: { type: "string" },
    runners: { type: "string" },
    "window-kills": { type: "string" },
    keep: { type: "boolean" },
  },
});
const env = process.env;
const kills = Number(values.kills ?? env.SOAK_KILLS ?? 300);
const seed = Number(values.seed ?? env.SOAK_SEED ?? randomSeed());
const where = values.where ?? env.SOAK_WHERE ?? "both";
const runners = Number(values.runners ?? env.SOAK_RUNNERS ?? 100);
if (!Number.isInteger(kills) || kills < 1) fail(`--kills must be a positive integer, not ${kills}`);
if (!Number.isInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer, not ${seed}`);
if (!["local", "ssh", "both"].includes(where)) fail(`--where must be local, ssh or both, not ${where}`);
if (!Number.isInteger(runners) || runners < 1) fail(`--runners must be a positive integer, not ${runners}`);
const windowText = values["window-kills"] ?? env.SOAK_WINDOW_KILLS;
const windowKills = windowText === undefined ? Math.ceil(kills / 5) : Number(windowText);
if (!Number.isInteger(windowKills) || windowKills < 0 || windowKills > kills)
  fail(`--window-kills must be an integer from 0 to the number of kills, not ${windowText}`);

function fail(message) {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(2);
}

const sides = where === "both" ? ["local", "ssh"] : [where];
const log = (line) => process.stdout.write(`${line}\n`);
log(
  `soak: seed ${seed}, ${kills} kill(s) ${where === "both" ? "split between local and ssh" : `on ${where}`}`,
);

/** The test sshd, from its TypeScript source (test/harness/sshd.ts uses Node built-ins only). */
async function startTestSshd() {
  const dir = mkdtempSync(join(tmpdir(), "rr-soak-"));
  const source = await import("node:fs").then((fs) =>
    fs.readFileSync(join(ROOT, "test/harness/sshd.ts"), "utf8"),
  );
  const { code } = await transform(source, {
    loader: "ts",
    format: "esm",
    platform: "node",
    target: "node20",
  });
  const file = join(dir, "sshd.mjs");
  writeFileSync(file, code, { mode: 0o600 });
  try {
    return await import(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const summaries = [];
let server;
try {
  for (const [k, side] of sides.entries()) {
    const share =
      k === sides.length - 1
        ? kills - Math.floor(kills / sides.length) * k
        : Math.floor(kills / sides.length);
    let ssh;
    if (side === "ssh") {
      if (env.SOAK_SSH) ssh = JSON.parse(env.SOAK_SSH);
      else {
        const { startSshd } = await startTestSshd();
        server = await startSshd();
        ssh = server.connectionOptions();
      }
    }
    const s = await runCampaign({
      where: side,
      ssh,
      seed: seed + k,
      kills: share,
      windowKills: Math.ceil((windowKills * share) / kills),
      aimWindow: windowKills > 0,
      runners,
      keep: values.keep === true,
      log,
    });
    for (const line of summaryLines(s)) log(line);
    summaries.push(s);
  }
} finally {
  // The harness's sshd child and timers do not hold the event loop: hold it until sshd is gone.
  const hold = setInterval(() => {}, 1000);
  await server?.stop();
  clearInterval(hold);
}

const all = total(summaries);
for (const p of all.problems) log(`problem: ${p}`);
log(verdict(all));
process.exit(all.lost + all.runTwice + all.wrong + all.unreadable > 0 || all.problems.length ? 1 : 0);
