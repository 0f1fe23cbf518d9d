/**
 * The liveness part of the status command (rr_live in scripts.ts), run by a real bash against real
 * processes: a live master, a zombie, a pid recorded with another start time, a group whose leader
 * is gone, a downstream folder (pid file in its upstream's folder), a removed folder.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DIAG_MARKER, detachMaster, LIVE_MARKER, STATUS_MARKER, statusScript } from "./scripts.js";
import { parseLiveLines } from "./status.js";

const work = mkdtempSync(join(tmpdir(), "rr-liveness-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
});
let seq = 0;

/** A Dataset folder `<root>/<name>` with a state folder. */
function folder(root: string, name = "ds"): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "state"), { recursive: true });
  return dir;
}

function check(folders: { dir: string; token: string; pid?: string }[]) {
  const out = spawnSync("bash", ["-c", statusScript(folders, undefined, true)], { encoding: "utf8" }).stdout;
  const after = out.slice(out.indexOf(STATUS_MARKER));
  return parseLiveLines(after, folders, LIVE_MARKER, DIAG_MARKER);
}

/** A process in its own group (like a detached master), and its start time as the launch reads it. */
function groupLeader(script: string): { pid: number; child: ChildProcess } {
  const child = spawn("bash", ["-c", script], { detached: true, stdio: "ignore" });
  children.push(child);
  return { pid: child.pid!, child };
}

function startOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

describe("rr_live", () => {
  it("the launch records the master's pid and start time; alive while it runs, gone after", async () => {
    const root = join(work, `launch-${++seq}`);
    const dir = folder(root);
    writeFileSync(join(dir, "submit-tok.sh"), "sleep 1\n");
    const launched = spawnSync("bash", ["-c", detachMaster("tok")], { cwd: dir, encoding: "utf8" }).stdout;
    const pid = Number(/^pid (\d+)$/m.exec(launched)?.[1]);
    const [recorded, start] = readFileSync(join(dir, "state", "tok.pid"), "utf8")
      .trim()
      .split(" ");
    expect(Number(recorded)).toBe(pid);
    expect(start).toMatch(/^\d+$/);
    expect(check([{ dir, token: "tok" }]).get(0)).toMatchObject({ state: "alive", pid, folder: true });
    const t0 = Date.now();
    while (check([{ dir, token: "tok" }]).get(0)?.state !== "gone" && Date.now() - t0 < 10_000)
      await new Promise((r) => setTimeout(r, 100));
    const gone = check([{ dir, token: "tok" }]).get(0)!;
    expect(gone.state).toBe("gone");
    expect(gone.reason).toMatch(/master process \(pid \d+\) of submission tok is gone/);
  });

  it("a recorded pid whose start time differs (reused) or that was already dead at launch is gone", () => {
    const root = join(work, `reused-${++seq}`);
    const dir = folder(root);
    const { pid } = groupLeader("sleep 30");
    writeFileSync(join(dir, "state", "tok.pid"), `${pid} ${Number(startOf(pid)) - 1}\n`);
    expect(check([{ dir, token: "tok" }]).get(0)?.state).toBe("gone");
    writeFileSync(join(dir, "state", "tok.pid"), `${pid} \n`);
    expect(check([{ dir, token: "tok" }]).get(0)?.state).toBe("gone");
    writeFileSync(join(dir, "state", "tok.pid"), `${pid} ${startOf(pid)}\n`);
    expect(check([{ dir, token: "tok" }]).get(0)?.state).toBe("alive");
  });

  it("a group whose leader is gone but whose members run is alive; gone with its last member", async () => {
    const root = join(work, `group-${++seq}`);
    const dir = folder(root);
    // the leader forks a member then ends: the member keeps the group alive
    const { pid } = groupLeader("sleep 30 & exit 0");
    const start = startOf(pid);
    writeFileSync(join(dir, "state", "tok.pid"), `${pid} ${start}\n`);
    await new Promise((r) => setTimeout(r, 300)); // the leader has exited
    expect(check([{ dir, token: "tok" }]).get(0)?.state).toBe("alive");
    process.kill(-pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 300));
    expect(check([{ dir, token: "tok" }]).get(0)?.state).toBe("gone");
  });

  it("a zombie (dead, never reaped) is not a live master", async () => {
    const root = join(work, `zombie-${++seq}`);
    const dir = folder(root);
    // `sleep 0.2` ends and stays a zombie: its parent, now `sleep 30`, never reaps it
    const child = spawn("bash", ["-c", "sleep 0.2 & echo $!; exec sleep 30"], {
      detached: true,
      stdio: ["ignore", "pipe", "ignore"],
    });
    children.push(child);
    const zombie = Number(await new Promise<string>((r) => child.stdout!.once("data", (b) => r(String(b)))));
    writeFileSync(join(dir, "state", "tok.pid"), `${zombie} ${startOf(zombie)}\n`);
    expect(check([{ dir, token: "tok" }]).get(0)?.state).toBe("alive");
    const t0 = Date.now();
    while (!/^Z/.test(readFileSync(`/proc/${zombie}/stat`, "utf8").split(") ")[1]) && Date.now() - t0 < 5000)
      await new Promise((r) => setTimeout(r, 50));
    expect(check([{ dir, token: "tok" }]).get(0)?.state).toBe("gone");
  });

  it("a downstream folder finds the pid file in its upstream's folder (same token)", () => {
    const root = join(work, `down-${++seq}`);
    const up = folder(root, "up");
    const down = folder(root, "down");
    const { pid } = groupLeader("sleep 30");
    writeFileSync(join(up, "state", "tok.pid"), `${pid} ${startOf(pid)}\n`);
    const seen = check([{ dir: down, token: "tok" }]).get(0)!;
    expect(seen).toMatchObject({ state: "alive", pid });
  });

  it("a removed folder is gone whatever its master does; diagnostics name the cause", () => {
    const root = join(work, `removed-${++seq}`);
    const dir = folder(root);
    const { pid } = groupLeader("sleep 30");
    const seen = check([{ dir: join(root, "nope"), token: "tok", pid: String(pid) }]).get(0)!;
    expect(seen.state).toBe("gone");
    expect(seen.folder).toBe(false);
    expect(seen.reason).toMatch(/folder removed: .*nope no longer exists/);
    // no pid file and no pid at all: nothing can be said
    expect(check([{ dir, token: "other" }]).get(0)?.state).toBe("unknown");
    // the tail of the submission log comes with a gone master
    writeFileSync(join(dir, "submit-tok.log"), "line 1\nError: EACCES: permission denied, open 'x'\n");
    writeFileSync(join(dir, "state", "tok.pid"), "999999999 1\n");
    expect(check([{ dir, token: "tok" }]).get(0)?.logTail).toMatch(/line 1\nError: EACCES/);
  });
});
