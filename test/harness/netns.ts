/**
 * Extra "hosts" for tests: Linux network namespaces joined by veth pairs, each with its own sshd
 * (test/harness/sshd.ts run through `ip netns exec`). Files and users are shared with the test
 * process; only the network is separate. Root only; failure is loud (never a skip).
 *
 * startJumpNetwork() builds a bastion layout in which the target can be reached ONLY through the
 * jump host:
 *
 *     test process (host ns)         namespace J ("jump")              namespace T ("target")
 *     B+1 ──────── veth ──────────── B+2   sshd (jump)
 *                                    B+5 ──────── veth ─────────────── B+6   sshd (target)
 *
 * B is a /29 block of 10.213.0.0/16 chosen at random per run. The host namespace holds the route
 * `unreachable B/29`: it claims the block (a second run that picks the same block gets EEXIST and
 * picks another) and it is the host's only route to T's link, so a direct connection to B+6 fails
 * at once with "No route to host" and no packet ever leaves through the default route. The more
 * specific connected route B/30 of the first veth keeps J reachable. T itself has no route beyond
 * its own link to J. So every connection that reaches T's sshd was made by a process inside J —
 * T's sshd log names J's inner address B+5 as the client.
 *
 * Cleanup (destroy): kill both sshds and their session children by PID, `ip netns del` both
 * namespaces (which removes the veths inside them and so their peers), delete the host-side veth if
 * still there and the unreachable route. A state file per network (under the temp folder) names
 * everything made; networks left by a killed run (its pid is gone) are swept at the next start,
 * and a process "exit" hook tears down what a crashed test left up.
 */
import { execFile, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type SshdServer, startSshd } from "./sshd.js";

const run = promisify(execFile);
const STATE_DIR = join(tmpdir(), "rr-netns");

/** Everything one network made, enough to tear it down from another process. */
interface NetState {
  pid: number;
  namespaces: string[];
  hostVeth: string;
  route: string;
  sshdPids: number[];
  /** The sshds' folders (keys, config, log). */
  dirs: string[];
}

export interface JumpNetwork {
  /** The jump host's sshd, in namespace J, listening on `jumpAddress` (reachable from here). */
  jump: SshdServer;
  /** The target's sshd, in namespace T, listening on `targetAddress` (NOT reachable from here). */
  target: SshdServer;
  /** This process's address on the host–J link. */
  hostAddress: string;
  /** J's address on the host–J link (where its sshd listens). */
  jumpAddress: string;
  /** J's address on the J–T link: the client address of every connection that reaches T. */
  jumpInnerAddress: string;
  /** T's address (on the J–T link only). */
  targetAddress: string;
  jumpNs: string;
  targetNs: string;
  /** Run argv inside a namespace of this network (`ip netns exec`). */
  exec(ns: string, argv: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Idempotent; safe after a partial start. */
  destroy(): Promise<void>;
}

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run("ip", args, { timeout: 10_000 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** Throws with a clear message when this machine cannot make network namespaces. */
async function checkCapable(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error("network namespaces need root: run the ProxyJump tests as root");
  }
  await ip("-V").catch((e) => {
    throw new Error(`iproute2 (the ip command) is needed for network namespaces: ${(e as Error).message}`);
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

function isSshd(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === realpathSync("/usr/sbin/sshd");
  } catch {
    return false;
  }
}

/** Synchronous teardown (also used by the exit hook and the stale sweep). Errors are ignored. */
function teardownSync(s: NetState): void {
  for (const pid of s.sshdPids) {
    if (isSshd(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  // Session children of the killed listeners die with their connections; killing every process
  // still inside the namespaces makes sure nothing keeps them alive.
  for (const ns of s.namespaces) {
    const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8", timeout: 5000 }).stdout ?? "";
    for (const p of pids.split(/\s+/).filter(Boolean)) {
      if (isSshd(Number(p))) {
        try {
          process.kill(Number(p), "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
    spawnSync("ip", ["netns", "del", ns], { stdio: "ignore", timeout: 5000 });
  }
  spawnSync("ip", ["link", "del", s.hostVeth], { stdio: "ignore", timeout: 5000 });
  spawnSync("ip", ["route", "del", "unreachable", s.route], { stdio: "ignore", timeout: 5000 });
  for (const d of s.dirs ?? []) rmSync(d, { recursive: true, force: true });
}

/** Remove networks whose creating process is gone (a run killed before its afterAll). */
function sweepStale(): void {
  if (!existsSync(STATE_DIR)) return;
  for (const f of readdirSync(STATE_DIR)) {
    const file = join(STATE_DIR, f);
    try {
      const s = JSON.parse(readFileSync(file, "utf8")) as NetState;
      if (alive(s.pid)) continue;
      teardownSync(s);
      rmSync(file, { force: true });
    } catch {
      /* another run is sweeping or writing it */
    }
  }
}

const liveStates = new Map<string, NetState>();
let hooked = false;
function track(file: string, s: NetState): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(s));
  liveStates.set(file, s);
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const [f, st] of liveStates) {
        teardownSync(st);
        rmSync(f, { force: true });
      }
    });
  }
}

/** Claim a free /29 of 10.213.0.0/16 with an `unreachable` route; returns its base address parts. */
async function claimBlock(): Promise<{ prefix: string; base: number; route: string }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const third = Math.floor(Math.random() * 256);
    const base = Math.floor(Math.random() * 32) * 8;
    const prefix = `10.213.${third}`;
    const routes = await ip("-4", "route", "show", "table", "all");
    const addrs = await ip("-4", "addr");
    if (routes.includes(`${prefix}.`) || addrs.includes(`${prefix}.`)) continue; // keep away from others
    const route = `${prefix}.${base}/29`;
    try {
      await ip("route", "add", "unreachable", route);
      return { prefix, base, route };
    } catch (e) {
      if (/File exists/.test((e as Error).message)) continue; // claimed by a parallel run
      throw e;
    }
  }
  throw new Error("could not claim a free /29 in 10.213.0.0/16 after 50 attempts");
}

export async function startJumpNetwork(): Promise<JumpNetwork> {
  await checkCapable();
  sweepStale();
  const tag = Math.random().toString(36).slice(2, 8).padEnd(6, "0");
  const jumpNs = `rr${tag}-jump`;
  const targetNs = `rr${tag}-target`;
  const hostVeth = `rr${tag}h`;
  const stateFile = join(STATE_DIR, `${tag}.json`);

  const { prefix, base, route } = await claimBlock();
  const state: NetState = { pid: process.pid, namespaces: [], hostVeth, route, sshdPids: [], dirs: [] };
  track(stateFile, state);
  const servers: SshdServer[] = [];
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    for (const s of servers) await s.stop().catch(() => {});
    teardownSync(state);
    liveStates.delete(stateFile);
    rmSync(stateFile, { force: true });
  };

  const addr = (n: number) => `${prefix}.${base + n}`;
  const hostAddress = addr(1);
  const jumpAddress = addr(2);
  const jumpInnerAddress = addr(5);
  const targetAddress = addr(6);
  const exec = async (ns: string, argv: string[]) => {
    try {
      return await run("ip", ["netns", "exec", ns, ...argv], { timeout: 20_000 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`in ${ns}: ${argv.join(" ")} failed: ${err.stderr?.trim() || err.message}`);
    }
  };

  try {
    for (const ns of [jumpNs, targetNs]) {
      await ip("netns", "add", ns);
      state.namespaces.push(ns);
      track(stateFile, state);
      await ip("-n", ns, "link", "set", "lo", "up");
    }
    // host <-> J
    await ip("link", "add", hostVeth, "type", "veth", "peer", "name", `rr${tag}j0`, "netns", jumpNs);
    await ip("addr", "add", `${hostAddress}/30`, "dev", hostVeth);
    await ip("link", "set", hostVeth, "up");
    await ip("-n", jumpNs, "addr", "add", `${jumpAddress}/30`, "dev", `rr${tag}j0`);
    await ip("-n", jumpNs, "link", "set", `rr${tag}j0`, "up");
    // J <-> T (made inside J, its peer sent straight into T: the host never holds these links)
    await ip(
      "-n",
      jumpNs,
      "link",
      "add",
      `rr${tag}j1`,
      "type",
      "veth",
      "peer",
      "name",
      `rr${tag}t0`,
      "netns",
      targetNs,
    );
    await ip("-n", jumpNs, "addr", "add", `${jumpInnerAddress}/30`, "dev", `rr${tag}j1`);
    await ip("-n", jumpNs, "link", "set", `rr${tag}j1`, "up");
    await ip("-n", targetNs, "addr", "add", `${targetAddress}/30`, "dev", `rr${tag}t0`);
    await ip("-n", targetNs, "link", "set", `rr${tag}t0`, "up");

    const jump = await startSshd({ netns: jumpNs, listenAddress: jumpAddress });
    servers.push(jump);
    state.sshdPids.push(jump.pid);
    state.dirs.push(jump.dir);
    track(stateFile, state);
    // The target is unreachable from here by design: its node check runs through the jump (tests).
    const target = await startSshd({ netns: targetNs, listenAddress: targetAddress, checkNode: false });
    servers.push(target);
    state.sshdPids.push(target.pid);
    state.dirs.push(target.dir);
    track(stateFile, state);

    return {
      jump,
      target,
      hostAddress,
      jumpAddress,
      jumpInnerAddress,
      targetAddress,
      jumpNs,
      targetNs,
      exec,
      destroy,
    };
  } catch (e) {
    await destroy();
    throw new Error(`could not build the jump network (${jumpNs}, ${targetNs}): ${(e as Error).message}`);
  }
}
