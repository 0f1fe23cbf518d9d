/**
 * A dead run is noticed over a real sshd (login user `rmtest`, an unprivileged account when the tests
 * run as root, so permissions apply): the remote master dies or can no longer write (folder removed,
 * full disk, process group killed, folder made read-only) and wait() still returns, with the affected
 * runners failed and the cause in their errors. And every file and folder written on either side,
 * with either transport, is private to the user.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dataset } from "../src/dataset/index.js";
import {
  expectAllFailed,
  expectDiskFull,
  follower,
  launchUpAndDown,
  masterPid,
  runUpAndDown,
  sleeper,
  started,
} from "./helpers/liveness.js";
import { sshTestbed } from "./helpers/ssh.js";

const mounts: string[] = [];
const sshd = sshTestbed("rr-live", {
  beforeRemove() {
    for (const m of mounts) {
      try {
        execFileSync("umount", ["-l", m]);
      } catch {}
    }
  },
});
const { ssh, dirs } = sshd;

describe("the remote master dies (over SSH): wait() returns, the runners fail with the cause", () => {
  it("(a) the Dataset folder is deleted mid-run", async () => {
    const connection = ssh();
    const d = dirs("folder");
    const ds = new Dataset(sleeper, { name: "folder", skip: false, verbose: 0, connection, ...d });
    ds.appendRuns([0, 1].map((i) => ({ i, ms: 3000 })));
    await ds.run();
    await started(ds);
    // Gone at once (the runs still write into it, so a recursive delete can meet new files), then
    // deleted under another name.
    const dir = `'${d.remoteDir}/${ds.folder}'`;
    await connection.exec(`mv -- ${dir} ${dir}-deleted && { rm -rf -- ${dir}-deleted 2>/dev/null; true; }`);
    await expectAllFailed(ds, /folder removed/);
    await ds.close();
  });

  it("(b) the disk fills up (a tiny tmpfs as remoteDir)", async (ctx) => {
    const fs = mkdtempSync(join(tmpdir(), "rr-live-tmpfs-"));
    sshd.scratch(fs);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", fs], { stdio: "pipe" });
      mounts.push(fs);
      if (process.getuid?.() === 0) execFileSync("chown", [`${sshd.server.user}:`, fs]);
    } catch (e) {
      if (process.env.CI === "true") throw new Error(`cannot mount a tmpfs: ${(e as Error).message}`);
      ctx.skip();
    }
    const connection = ssh();
    const d = dirs("full");
    const ds = new Dataset(sleeper, {
      name: "full",
      skip: false,
      verbose: 0,
      connection,
      ...d,
      remoteDir: fs,
    });
    await expectDiskFull(ds);
    execFileSync("umount", [fs]);
    mounts.splice(mounts.indexOf(fs), 1);
  });

  it("(c) the master's process group is killed, with the downstream Dataset it would start", async () => {
    const connection = ssh();
    const d = dirs("killed");
    const up = new Dataset(sleeper, { name: "killed", skip: false, verbose: 0, connection, ...d });
    const down = new Dataset(follower, { name: "killed-down", skip: false, verbose: 0, connection, ...d });
    await launchUpAndDown(up, down, 5000);
    await started(up);
    await down.isFinished();
    expect(down.runners.map((r) => r.state)).toEqual(["submitted", "submitted"]);
    expect(up.liveness.map((l) => [l.state, l.pid])).toEqual([["alive", masterPid(up)]]);
    await connection.exec(`kill -9 -- -${masterPid(up)}`);
    await expectAllFailed(up, /gone/);
    await expectAllFailed(down, /gone/);
    await up.close();
    await down.close();
  });

  it("(d) the Dataset folder is made read-only mid-run (chmod 0500)", async () => {
    const connection = ssh();
    const d = dirs("readonly");
    const ds = new Dataset(sleeper, { name: "readonly", skip: false, verbose: 0, connection, ...d });
    ds.appendRuns([0, 1].map((i) => ({ i, ms: 1500 })));
    await ds.run();
    await started(ds);
    const remote = `'${d.remoteDir}/${ds.folder}'`;
    await connection.exec(`chmod 0500 -- ${remote}`);
    await expectAllFailed(ds, /Permission denied|permission denied|EACCES/);
    await connection.exec(`chmod 0700 -- ${remote}`);
    await ds.close();
  });
});

describe("privacy over SSH", () => {
  for (const transport of ["rsync", "scp"] as const) {
    it(`every file and folder written on both sides is private (${transport})`, async () => {
      const connection = ssh({ transport });
      const d = dirs(`private-${transport}`);
      const up = new Dataset(sleeper, { name: "private", skip: false, verbose: 0, connection, ...d });
      const down = new Dataset(follower, { name: "private-down", skip: false, verbose: 0, connection, ...d });
      await runUpAndDown(up, down);

      // the far side: remoteDir (made by the transfer) and everything under it
      const found = await connection.exec(`find '${d.remoteDir}' -printf '%m %y %P\\n'`);
      const remote = found.stdout
        .trim()
        .split("\n")
        .map((l) => l.split(" "));
      expect(remote.some(([, , p]) => /submit-.*\.log$/.test(p))).toBe(true);
      expect(remote.some(([, , p]) => /^private-down-.*\/submit-.*\.log$/.test(p))).toBe(true);
      expect(remote.some(([, , p]) => p.endsWith(".pid"))).toBe(true);
      expect(remote.filter(([m]) => Number.parseInt(m, 8) & 0o077)).toEqual([]);
      expect(remote.filter(([m, t]) => t === "d" && m !== "700")).toEqual([]);

      // this side: the database folder, staging and fetched files
      const local: [string, number, boolean][] = [];
      const walk = (dir: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          local.push([p, statSync(p).mode & 0o777, e.isDirectory()]);
          if (e.isDirectory()) walk(p);
        }
      };
      walk(d.dbDir);
      expect(local.some(([p]) => p.endsWith(".result.json"))).toBe(true);
      expect(local.filter(([, m]) => m & 0o077)).toEqual([]);
      expect(local.filter(([, m, dir]) => dir && m !== 0o700)).toEqual([]);
    });

    it(`a pull makes the folders it needs private, and nothing for files that do not come (${transport})`, async () => {
      const connection = ssh({ transport });
      const d = dirs(`pullmodes-${transport}`);
      await connection.exec(`mkdir -p '${d.remoteDir}/a/b' && echo x > '${d.remoteDir}/a/b/f'`);
      const dest = join(d.dbDir, "fresh");
      await connection.pull(d.remoteDir, dest, ["a/b/f", "c/d/missing"]);
      expect(readdirSync(dest)).toEqual(["a"]);
      for (const p of [dest, join(dest, "a"), join(dest, "a", "b")])
        expect([p, statSync(p).mode & 0o777]).toEqual([p, 0o700]);
    });
  }
});
