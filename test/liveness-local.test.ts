/**
 * A dead run is noticed on this machine (the local connection, no scheduler): the remote master dies
 * or can no longer write (folder removed, full disk, process group killed, read-only folder) and
 * wait() still returns, with the affected runners failed and the cause in their errors. Also: fetch
 * never takes a damaged record for a result, and every file and folder written is private.
 * Runs as root (tmpfs and read-only bind mounts need it) and fails loudly when it cannot mount.
 */
import { execFile, execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Dataset } from "../src/dataset/index.js";
import { ensureDist, ROOT } from "./helpers/dist.js";
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

const work = mkdtempSync(join(tmpdir(), "rr-live-"));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync("umount", ["-l", m]);
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
});

/** The options of a Dataset named `name` kept in `dir` (its remote folder too, unless `remoteDir`). */
function options(name: string, dir: string, remoteDir = join(dir, "remote")) {
  return { name, skip: false, verbose: 0, dbDir: dir, localDir: join(dir, "local"), remoteDir };
}

let seq = 0;
function make(tag: string, remoteDir?: string) {
  const dir = join(work, `${tag}-${++seq}`);
  mkdirSync(dir, { mode: 0o700 });
  const ds = new Dataset(sleeper, options(tag, dir, remoteDir));
  return { ds, dir, remote: join(remoteDir ?? join(dir, "remote"), ds.folder) };
}

function mount(args: string[]): void {
  // A mount can fail for a moment while another process changes the mount table: tried a few times.
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      execFileSync("mount", args, { stdio: "pipe" });
      return;
    } catch (e) {
      last = e;
      execFileSync("sleep", ["0.2"]);
    }
  }
  // Never skipped quietly: without mounts the test cannot say anything.
  const stderr = String((last as { stderr?: unknown }).stderr ?? "").trim();
  throw new Error(
    `mount ${args.join(" ")} failed (this test needs root): ${(last as Error).message} ${stderr}`,
  );
}

describe("the remote master dies: wait() returns, the runners fail with the cause", () => {
  it("(a) the Dataset folder is deleted mid-run", async () => {
    const { ds, remote } = make("gone-folder");
    ds.appendRuns([0, 1].map((i) => ({ i, ms: 3000 })));
    await ds.run();
    await started(ds);
    // Gone from its path at once. The runs still write into it under its new name, so a recursive
    // delete there could meet new files on a busy machine: it is deleted once they are over.
    renameSync(remote, `${remote}-deleted`);
    await expectAllFailed(ds, /folder removed/);
    expect(ds.liveness.map((l) => [l.state, l.folder])).toEqual([["gone", false]]);
    await ds.close();
    await new Promise((r) => setTimeout(r, 3500));
    rmSync(`${remote}-deleted`, { recursive: true, force: true, maxRetries: 20, retryDelay: 20 });
  });

  it("(b) the disk fills up (a tiny tmpfs as remoteDir)", async () => {
    const fs = join(work, `tmpfs-${++seq}`);
    mkdirSync(fs, { mode: 0o700 });
    mount(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", fs]);
    mounts.push(fs);
    const { ds } = make("full-disk", fs);
    await expectDiskFull(ds);
    execFileSync("umount", [fs]);
    mounts.splice(mounts.indexOf(fs), 1);
  });

  it("(c) the master's process group is killed, upstream and the downstream it would start", async () => {
    const up = make("killed");
    const downDs = new Dataset(follower, options("killed-down", up.dir));
    await launchUpAndDown(up.ds, downDs, 5000);
    await started(up.ds);
    await downDs.isFinished();
    expect(downDs.runners.map((r) => r.state)).toEqual(["submitted", "submitted"]);
    expect(downDs.liveness.map((l) => l.state)).toEqual(["alive"]);
    expect(up.ds.liveness.map((l) => [l.state, l.pid])).toEqual([["alive", masterPid(up.ds)]]);
    process.kill(-masterPid(up.ds), "SIGKILL");
    await expectAllFailed(up.ds, /gone/);
    await expectAllFailed(downDs, /gone/);
    await up.ds.close();
    await downDs.close();
  });

  it("(d) the Dataset folder becomes read-only (a read-only bind mount)", async () => {
    const { ds, remote } = make("read-only");
    // Long enough that the runs are still going when the folder turns read-only, even under load.
    ds.appendRuns([0, 1].map((i) => ({ i, ms: 4000 })));
    await ds.run();
    await started(ds);
    mount(["--bind", remote, remote]);
    mounts.push(remote);
    mount(["-o", "remount,bind,ro", remote]);
    await expectAllFailed(ds, /Read-only file system/);
    execFileSync("umount", [remote]);
    mounts.splice(mounts.indexOf(remote), 1);
    await ds.close();
  });

  it("a master killed alone leaves its runtimes running: they are not taken for dead", async () => {
    const { ds } = make("leader");
    ds.appendRuns([0, 1].map((i) => ({ i, ms: 1500 })));
    await ds.run();
    await started(ds);
    process.kill(masterPid(ds), "SIGKILL"); // the master only, not its process group
    await ds.isFinished();
    expect(ds.liveness.map((l) => l.state)).toEqual(["alive"]);
    await ds.wait({ timeout: 60, interval: 0.2 });
    expect(await ds.fetchResults()).toEqual([{ i: 0 }, { i: 1 }]);
    await ds.close();
  });

  it("a pid now used by another process does not pass for the master", async () => {
    const { ds, remote } = make("reused");
    ds.appendRuns([{ i: 0, ms: 200 }]);
    await ds.run();
    const token = ds.runners[0].token!;
    // The master ends (its lines arrive); then, as if it had died silently: its lines are lost and
    // its pid now belongs to this very test process (a live process with another start time).
    await ds.wait({ timeout: 30, interval: 0.1 });
    const pidFile = join(remote, "state", `${token}.pid`);
    const [, start] = readFileSync(pidFile, "utf8").trim().split(" ");
    writeFileSync(pidFile, `${process.pid} ${start}\n`);
    for (const f of readdirSync(join(remote, "state")))
      if (f.endsWith(".log")) rmSync(join(remote, "state", f));
    // Back in flight by hand (the transition table refuses completed → started to the library).
    ds.runners[0].state = "started";
    await expectAllFailed(ds, /gone/);
    await ds.close();
  });
});

describe("remoterun status", () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, "dist/cli/main.js"), ...args],
        { timeout: 30_000 },
        (e, stdout) => resolve({ code: e ? Number(e.code ?? -1) : 0, stdout }),
      );
    });

  it("says whether each in-flight submission's master is alive or gone", async () => {
    await ensureDist();
    const { ds } = make("cli-status");
    ds.appendRuns([0, 1].map((i) => ({ i, ms: 20_000 })));
    await ds.run();
    const pid = masterPid(ds);
    const token = ds.runners[0].token;
    await ds.close();
    const db = `${ds.dbFile}.json`;
    const alive = await cli(["status", db]);
    expect(alive.code).toBe(0);
    expect(alive.stdout).toContain(`submission ${token} (pid ${pid}): master alive`);
    const json = JSON.parse((await cli(["status", "--json", db])).stdout);
    expect(json.masters).toEqual([{ token, pid, state: "alive", reason: null }]);
    process.kill(-pid, "SIGKILL");
    const gone = await cli(["status", db]);
    expect(gone.stdout).toContain(`submission ${token} (pid ${pid}): master gone — the master process`);
    expect(gone.stdout).toMatch(/^runner-0 +failed +pid:\d+ +.*gone/m);
  });
});

describe("fetch never takes a damaged record for a result", () => {
  it("a cut or edited collected line falls back to the runner's own file; both damaged: failed", async () => {
    const { ds, remote, dir } = make("damaged");
    ds.appendRuns([0, 1, 2, 3].map((i) => ({ i, ms: 0 })));
    await ds.run();
    await ds.wait({ timeout: 30, interval: 0.1 });
    const token = ds.runners[0].token!;
    const files = readdirSync(join(remote, "results")).filter((f) => f.startsWith(token));
    for (const f of files) {
      const file = join(remote, "results", f);
      const lines = readFileSync(file, "utf8").split("\n");
      const edited = lines.map((l) => {
        if (l.includes('"runner-0"')) return l.slice(0, l.length - 5); // cut short (a full disk)
        if (l.includes('"runner-1"')) return l.replace('"result"', '"resu1t"'); // no result any more
        if (l.includes('"runner-2"')) return l.replace(/\}$/, ""); // cut short; its file damaged too
        return l;
      });
      writeFileSync(file, edited.join("\n"));
    }
    writeFileSync(join(remote, "runner-2.result.json"), '{"token":"x","na');
    await ds.fetchResults();
    expect(ds.results.slice(0, 2)).toEqual([{ i: 0 }, { i: 1 }]);
    expect(ds.results[3]).toEqual({ i: 3 });
    // local copies of what came back, under the runners' file names
    const local = join(dir, "local", ds.folder);
    expect(
      readdirSync(local)
        .filter((f) => /\.(result|error)\.json$/.test(f))
        .sort(),
    ).toEqual([
      "runner-0.result.json",
      "runner-1.result.json",
      "runner-2.result.json",
      "runner-3.result.json",
    ]);
    expect(ds.runners[2].state).toBe("failed");
    expect(ds.errors[2]?.fullError).toMatch(/damaged/);
    await ds.close();
  });
});

describe("privacy", () => {
  it("every file and folder written, locally and on the far side, is private to the user", async () => {
    const up = make("private");
    // a file of the user's, readable by all, sent beside the runs: its copies are private
    const shared = join(work, `shared-${seq}.txt`);
    writeFileSync(shared, "data", { mode: 0o644 });
    const extra = new Dataset(sleeper, { ...options("private-extra", up.dir), extraFilesSend: [shared] });
    extra.appendRun({ i: 9, ms: 0 });
    await extra.run();
    await extra.wait({ timeout: 30, interval: 0.1 });
    await extra.close();
    const downDs = new Dataset(follower, options("private-down", up.dir));
    await runUpAndDown(up.ds, downDs);
    const seen = walkModes(up.dir);
    expect(seen.some(([p]) => p.endsWith(".log") && p.includes("submit-"))).toBe(true);
    expect(seen.some(([p]) => p.endsWith(".pid"))).toBe(true);
    expect(seen.filter(([p]) => p.endsWith(basename(shared))).length).toBe(2); // staged and sent
    expect(seen.filter(([, mode]) => mode & 0o077)).toEqual([]);
    expect(seen.filter(([, mode, dir]) => dir && (mode & 0o777) !== 0o700).map(([p]) => p)).toEqual([]);
  });
});

/** [path, mode, isDirectory] of everything under `root`. */
function walkModes(root: string): [string, number, boolean][] {
  const out: [string, number, boolean][] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push([p, statSync(p).mode & 0o7777, e.isDirectory()]);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}
