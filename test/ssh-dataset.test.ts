/**
 * A Dataset over a real sshd: constant SSH launches per phase, hostile strings as args and folder
 * names, typed connection errors that leave the database intact, and a missing remote node.
 */
import { spawnSync } from "node:child_process";
import { existsSync, truncateSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SshConnection } from "../src/connection/index.js";
import { Dataset } from "../src/dataset/index.js";
import { ConnectionError, RemoteEnvironmentError, RemoterunError } from "../src/shared/errors.js";
import { sshTestbed } from "./helpers/ssh.js";

const sshd = sshTestbed("rr-ds");
const { ssh, dirs } = sshd;

const identity = (args: Record<string, unknown>) => args;

describe("SSH launches per phase", () => {
  async function phases(n: number) {
    const connection = ssh();
    const ds = new Dataset(identity, {
      name: `launch${n}`,
      skip: false,
      verbose: 0,
      connection,
      ...dirs(`launch${n}`),
    });
    ds.appendRuns(Array.from({ length: n }, (_, i) => ({ i })));
    const count = async (f: () => Promise<unknown>) => {
      const before = connection.stats.launches;
      await f();
      return connection.stats.launches - before;
    };
    const run = await count(() => ds.run());
    await ds.wait({ interval: 0.1, timeout: 60 });
    const status = await count(() => ds.isFinished());
    const fetch = await count(() => ds.fetchResults());
    expect(ds.results).toEqual(Array.from({ length: n }, (_, i) => ({ i })));
    await ds.close();
    return { run, status, fetch };
  }

  it("are the same for 5 and 200 runners, and at most 3 per phase", async () => {
    const small = await phases(5);
    const large = await phases(200);
    expect(large).toEqual(small);
    for (const v of Object.values(small)) expect(v).toBeLessThanOrEqual(3);
    expect(small.run).toBeGreaterThan(0); // the phases did talk to the server
  });
});

/** Random strings full of what breaks naive quoting. */
function hostileStrings(count: number, canary: string, seed = 7): string[] {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const pieces = [
    "'",
    '"',
    "\\",
    "$",
    "`",
    "$(touch CANARY)",
    "`touch CANARY`",
    "; touch CANARY",
    "| touch CANARY",
    "&& touch CANARY",
    "\n",
    "\t",
    " ",
    "*",
    "?",
    "~",
    "#",
    "!",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that must stay inert
    "${HOME}",
    "%s",
    "-n",
    "--",
    "é",
    "ü",
    "日本",
    "🚀",
    "e\u0301",
    "\u200b",
    "a",
    "Z",
    "0",
    "{a,b}",
    "[x]",
    ">",
    "<",
    "\r",
  ].map((p) => p.replaceAll("CANARY", canary));
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(rnd() * 8);
    return Array.from({ length: n }, () => pieces[Math.floor(rnd() * pieces.length)]).join("");
  });
}

describe("hostile strings", () => {
  it("arrive byte-exact as args, and nothing in them is ever executed", async () => {
    const d = dirs("quote");
    // In /tmp so that the test user could create it if anything ever ran it.
    const canary = join("/tmp", `rr-canary-${process.pid}-${basename(d.dbDir)}`);
    const strings = hostileStrings(220, canary);
    const ds = new Dataset(({ s, t }: { s: string; t: string[] }) => ({ s, t, n: s.length }), {
      name: "quote",
      skip: false,
      verbose: 0,
      connection: ssh(),
      ...d,
    });
    ds.appendRuns(strings.map((s, i) => ({ s, t: [s, strings[(i + 1) % strings.length]] })));
    await ds.run();
    await ds.wait({ interval: 0.1, timeout: 60 });
    await ds.fetchResults();
    ds.results.forEach((r, i) => {
      expect(r).toEqual({
        s: strings[i],
        t: [strings[i], strings[(i + 1) % strings.length]],
        n: strings[i].length,
      });
    });
    expect(existsSync(canary)).toBe(false);
    await ds.close();
  });

  it("work in remoteDir and runDir names (spaces, quotes, $, backticks, unicode)", async () => {
    const d = dirs("paths");
    const canary = join("/tmp", `rr-canary2-${process.pid}-${basename(d.dbDir)}`);
    const weird = [
      `dir with spaces 'single' "double"`,
      `dollar $HOME and $(touch ${canary})`,
      `back \`touch ${canary}\` tick`,
      "ünïcödé 日本 🚀",
      "semi; colon & amp | pipe",
    ];
    const connection = ssh();
    for (const [k, name] of weird.entries()) {
      const remoteDir = `${d.remoteDir}/${name}`;
      const ds = new Dataset(({ k }: { k: number }) => ({ k, cwd: process.cwd() }), {
        name: `paths${k}`,
        skip: false,
        verbose: 0,
        connection,
        ...d,
        localDir: join(d.localDir, name),
        remoteDir,
        runDir: `run ${name}`,
      });
      ds.appendRun({ k });
      await ds.run();
      await ds.wait({ interval: 0.1, timeout: 30 });
      await ds.fetchResults();
      const r = ds.results[0] as { k: number; cwd: string };
      expect(r.k).toBe(k);
      expect(r.cwd.endsWith(`/${remoteDir}/run ${name}`)).toBe(true);
      await ds.close();
    }
    expect(existsSync(canary)).toBe(false);
  });
});

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 1));
    });
  });
}

describe("connection failures", () => {
  const fast = { timeout: 3, maxRetries: 1, retryDelayMs: 100 };
  // connect timeout x attempts + backoff + process start-up slack
  const bound = (fast.timeout * (fast.maxRetries + 1) + 2) * 1000;

  async function failsThenResumes(tag: string, bad: Record<string, unknown>, reason: string) {
    const d = dirs(tag);
    const fn = ({ x }: { x: number }) => x * 3;
    const ds = new Dataset(fn, {
      name: tag,
      skip: false,
      verbose: 0,
      connection: ssh({ ...fast, ...bad }),
      ...d,
    });
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    const t0 = Date.now();
    const error = await ds.run().then(
      () => undefined,
      (e) => e,
    );
    expect(Date.now() - t0).toBeLessThan(bound);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe(reason);
    await ds.close();
    // The database is intact, and a later run() over a good connection picks up.
    const again = new Dataset(fn, { name: tag, verbose: 0, connection: ssh(), ...d });
    expect(again.restored).toBe(true);
    expect(again.runners.map((r) => r.args)).toEqual([{ x: 1 }, { x: 2 }]);
    const { submitted } = await again.run();
    expect(submitted).toEqual(["runner-0", "runner-1"]);
    await again.wait({ interval: 0.1, timeout: 30 });
    await again.fetchResults();
    expect(again.results).toEqual([3, 6]);
    await again.close();
  }

  it("wrong port → refused", async () => {
    await failsThenResumes("port", { port: await closedPort() }, "refused");
  });

  it("wrong user → auth", async () => {
    await failsThenResumes("user", { user: "nobody-here" }, "auth");
  });

  it("unknown host key with host-key checking on → host-key", async () => {
    await failsThenResumes(
      "hostkey",
      { knownHostsFile: await sshd.server.makeEmptyKnownHosts() },
      "host-key",
    );
  });

  it("a connection killed mid-transfer → typed error; the database is intact and a later run() picks up", async () => {
    const d = dirs("midxfer");
    const big = join(d.dbDir, "big.bin");
    writeFileSync(big, "");
    truncateSync(big, 1024 ** 3); // 1 GiB, sparse locally, sent in full
    const fn = ({ x }: { x: number }) => x + 100;
    const opts = { name: "midxfer", verbose: 0, ...d, extraFilesSend: [big] };
    const ds = new Dataset(fn, { ...opts, skip: false, connection: ssh({ maxRetries: 0, timeout: 5 }) });
    ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
    const t0 = Date.now();
    const pending = ds.run().then(
      () => undefined,
      (e) => e,
    );
    // Drop the connections once the transfer is under way: the far side's rsync is receiving.
    const receiving = () =>
      spawnSync("pgrep", ["-u", sshd.server.user, "-f", "^rsync --server"]).status === 0;
    let dropped = 0;
    for (let i = 0; i < 300 && dropped === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (ds.runners[0].state === "staged" && receiving()) dropped = await sshd.server.dropConnections();
    }
    expect(dropped).toBeGreaterThan(0);
    const error = await pending;
    expect(error).toBeInstanceOf(RemoterunError);
    expect(["ERR_TRANSFER", "ERR_CONNECTION_DROPPED"]).toContain((error as RemoterunError).code);
    // Bounded (connect timeout × attempts), with room for a loaded machine: it never hangs.
    expect(Date.now() - t0).toBeLessThan(45_000);
    await ds.close();
    const again = new Dataset(fn, { ...opts, extraFilesSend: [], connection: ssh() });
    expect(again.runners.map((r) => r.state).every((s) => s === "staged" || s === "created")).toBe(true);
    await again.run();
    await again.wait({ interval: 0.1, timeout: 30 });
    await again.fetchResults();
    expect(again.results).toEqual([101, 102, 103]);
    await again.close();
  }, 60_000);
});

describe("remote environment", () => {
  it("a remote without node gives RemoteEnvironmentError at submit time", async () => {
    const d = dirs("nonode");
    const ds = new Dataset(identity, {
      name: "nonode",
      skip: false,
      verbose: 0,
      connection: ssh({ node: "/nonexistent/node" }),
      ...d,
    });
    ds.appendRun({ a: 1 });
    const error = await ds.run().then(
      () => undefined,
      (e) => e,
    );
    expect(error).toBeInstanceOf(RemoteEnvironmentError);
    expect((error as Error).message).toMatch(/node/);
    expect(ds.runners[0].state).not.toBe("submitted");
    await ds.close();
  });

  it("the node command may be a setup line", async () => {
    const d = dirs("nodeline");
    const ds = new Dataset(identity, {
      name: "nodeline",
      skip: false,
      verbose: 0,
      connection: ssh({ node: "export GREETING=hi && node" }),
      ...d,
    });
    ds.appendRun({ a: 1 });
    await ds.run();
    await ds.wait({ interval: 0.1, timeout: 30 });
    await ds.fetchResults();
    expect(ds.results).toEqual([{ a: 1 }]);
    await ds.close();
  });

  it("the Dataset never mutates the connection options or object it was given", async () => {
    const options = { ...sshd.server.connectionOptions(), sshOptions: { ServerAliveInterval: "5" } };
    const copy = structuredClone(options);
    const d = dirs("nomutate");
    const ds = new Dataset(identity, {
      name: "nomutate",
      skip: false,
      verbose: 0,
      connection: options,
      ...d,
    });
    ds.appendRun({ a: 2 });
    await ds.run({ remoteDir: `${d.remoteDir}-tmp` });
    await ds.wait({ interval: 0.1, timeout: 30 });
    expect(options).toEqual(copy);
    await ds.connection.close();
    await ds.close();
  });
});

describe("privacy", () => {
  for (const transport of ["rsync", "scp"] as const) {
    it(`staged files, results and folders are private to the user on both sides (${transport})`, async () => {
      const d = dirs(`private-${transport}`);
      const connection = ssh({ transport });
      const ds = new Dataset(identity, { name: "private", skip: false, verbose: 0, connection, ...d });
      ds.appendRun({ secret: 1 });
      await ds.run();
      await ds.wait({ interval: 0.1, timeout: 30 });
      await ds.fetchResults();
      const remote = `${d.remoteDir}/${ds.folder}`;
      const modes = await connection.exec(
        `cd -- '${remote}' && stat -c '%a %n' . runtime-*/function.mjs runtime-*/runtime.mjs runner-0.result.json results/*.jsonl state/*.log`,
      );
      for (const line of modes.stdout.trim().split("\n")) {
        const [mode, name] = line.split(" ");
        expect(`${name} ${mode}`).toBe(`${name} ${name === "." ? "700" : "600"}`);
      }
      const { statSync, readdirSync } = await import("node:fs");
      const local = join(d.localDir, ds.folder);
      expect(statSync(local).mode & 0o777).toBe(0o700);
      for (const f of readdirSync(local)) expect([f, statSync(join(local, f)).mode & 0o077]).toEqual([f, 0]);
      await ds.close();
    });
  }
});

describe("closing", () => {
  it("close() ends the SSH connection the Dataset made from options, but not one it was given", async () => {
    const d = dirs("close");
    const made = new Dataset(identity, {
      name: "closemade",
      skip: false,
      verbose: 0,
      connection: sshd.server.connectionOptions(),
      ...d,
    });
    made.appendRun({ a: 1 });
    await made.run();
    await made.wait({ interval: 0.1, timeout: 30 });
    const control = (made.connection as SshConnection).controlDir;
    expect(control).not.toBeNull();
    await made.close();
    expect((made.connection as SshConnection).controlDir).toBeNull();
    expect(existsSync(control!)).toBe(false);

    const given = ssh();
    const borrowed = new Dataset(identity, {
      name: "closegiven",
      skip: false,
      verbose: 0,
      connection: given,
      ...d,
    });
    borrowed.appendRun({ a: 2 });
    await borrowed.run();
    await borrowed.close();
    expect((given as SshConnection).controlDir).not.toBeNull();
  });

  it("close() after hardReset() neither throws nor recreates the database", async () => {
    const d = dirs("closereset");
    const ds = new Dataset(identity, {
      name: "closereset",
      skip: false,
      verbose: 0,
      connection: ssh(),
      ...d,
    });
    ds.appendRun({ a: 3 });
    await ds.hardReset();
    await ds.close();
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(d.dbDir).filter((f) => f.includes("closereset"))).toEqual([]);
  });
});
