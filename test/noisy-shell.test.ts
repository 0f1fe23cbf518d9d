/**
 * A remote shell that talks: rc files that print on stdout and stderr at every shell start, the
 * last line without a newline (`echo -n`, a prompt, a title escape). Commands, both transports,
 * script and function Datasets and the connection report still read only what remoterun wrote.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dataset } from "../src/index.js";
import { sshTestbed } from "./helpers/ssh.js";

// BASH_ENV is read by every non-interactive bash but the one sshd starts (that one reads ~/.bashrc):
// here it makes the shells of remoterun's own scripts talk. A ~/.bashrc that talks, which breaks
// rsync, is in test/cause-errors.test.ts (a test user of its own).
const sshd = sshTestbed("rr-noisy", { sshd: { extraConfig: ["AcceptEnv BASH_ENV"] } });
let folder: string;
let rc: string;

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), "rr-noisy-rc-"));
  chmodSync(folder, 0o777); // the test user's rc file notes each session here
  rc = join(folder, "rc.sh");
  // Once per session, in the shell sshd starts (the user's own scripts then run quietly).
  writeFileSync(
    rc,
    [
      '[ -n "$RR_NOISY" ] && return',
      "export RR_NOISY=1",
      `echo >> ${folder}/sourced`,
      "echo 'Welcome to the cluster!'",
      "echo 'module: gcc loaded' >&2",
      "printf '\\033]0;title\\007no newline'",
      "",
    ].join("\n"),
  );
  chmodSync(rc, 0o644);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const noisy = (transport: "rsync" | "scp") => sshd.ssh({ transport, sshOptions: [`SetEnv=BASH_ENV=${rc}`] });
const wait = { interval: 0.1, timeout: 60 };

describe("a remote shell whose rc files print", () => {
  it("commands and the connection report read only what the command printed", async () => {
    const c = noisy("rsync");
    const r = await c.exec("echo ours");
    expect(r.stdout).toBe("ours\n");
    const report = await c.testConnection();
    expect(Number.isFinite(report.clockOffsetMs)).toBe(true);
    // Control: the rc file did run (and print) in these sessions.
    expect(readFileSync(join(folder, "sourced"), "utf8").length).toBeGreaterThan(0);
  });

  it.each(["rsync", "scp"] as const)("a function Dataset over %s gets its results", async (transport) => {
    const ds = new Dataset(({ x }: { x: number }) => x * 3, {
      name: `noisy-fn-${transport}`,
      skip: false,
      verbose: 0,
      connection: noisy(transport),
      ...sshd.dirs(`fn-${transport}`),
    });
    ds.appendRuns([{ x: 1 }, { x: 2 }], { runDir: "a" });
    ds.appendRun({ x: 5 }, { runDir: "b" });
    await ds.run();
    await ds.wait(wait);
    expect(await ds.fetchResults()).toEqual([3, 6, 15]);
    await ds.close();
  });

  it.each(["rsync", "scp"] as const)(
    "a script Dataset over %s gets every runner's output",
    async (transport) => {
      const ds = new Dataset(undefined, {
        script: "echo $(( #x# * 2 ))\n",
        name: `noisy-script-${transport}`,
        skip: false,
        verbose: 0,
        connection: noisy(transport),
        ...sshd.dirs(`script-${transport}`),
      });
      ds.appendRun({ x: 1 }, { runDir: "a" });
      ds.appendRun({ x: 4 }, { runDir: "b" });
      await ds.run();
      await ds.wait(wait);
      expect(await ds.fetchResults()).toEqual(["2", "8"]);
      await ds.close();
    },
  );
});
