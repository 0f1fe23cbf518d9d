/**
 * Each fault stays with its runner, and each runner's output is its own: runners that call
 * process.exit(), SIGKILL their own process, run out of heap, throw from a timer or loop past their
 * timeout fail alone, each with its own cause, while the runners sharing their process complete;
 * what runners print goes to their own stdout/stderr, not to the submission log. Locally and over a
 * real sshd.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Connection, connect } from "../src/connection/index.js";
import { Dataset } from "../src/dataset/index.js";
import { RunnerFailedError, WaitTimeoutError } from "../src/shared/errors.js";
import { shellQuote } from "../src/shared/quote.js";
import { type SshdServer, startSshd } from "./harness/sshd.js";

/** The heap every runtime process of the faulty Datasets gets (one of their runners exceeds it). */
const HEAP_MB = 64;

/** Ten runners: five of them break their process each in its own way, five are well-behaved. */
const MODES = ["ok", "exit", "kill", "oom", "timer", "loop", "ok", "ok", "ok", "ok"] as const;
const CAUSES: Record<string, string> = {
  exit: "Error: process.exit(0) called by the function",
  kill: "Error: the runner's process was killed by SIGKILL",
  oom: "Error: JavaScript heap out of memory",
  timer: "Error: runner 4 threw from a timer",
  loop: "Error: timed out after 2 s",
};

async function faulty({ mode, i }: { mode: string; i: number }) {
  console.log(`runner ${i} starts`);
  console.error(`runner ${i} complains`);
  // Every runner is in flight before the first one breaks its process.
  await new Promise((r) => setTimeout(r, 100));
  if (mode === "exit") process.exit(0);
  if (mode === "kill") process.kill(process.pid, "SIGKILL");
  if (mode === "oom") {
    const hoard: number[][] = [];
    for (;;) hoard.push(new Array(100_000).fill(i));
  }
  if (mode === "timer") {
    await new Promise(() =>
      setTimeout(() => {
        throw new Error(`runner ${i} threw from a timer`);
      }, 10),
    );
  }
  if (mode === "loop") while (i > 0) Math.sqrt(i);
  await new Promise((r) => setTimeout(r, 50));
  console.log(`runner ${i} ends`);
  return i * i;
}

/** Runner 0 returns at once, leaving behind a timer that kills its process while runner 1 runs. */
async function leaver({ i }: { i: number }) {
  if (i === 0) setTimeout(() => process.kill(process.pid, "SIGKILL"), 150);
  else await new Promise((r) => setTimeout(r, 400));
  return i * i;
}

async function talker({ tag }: { tag: string }) {
  for (let j = 0; j < 30; j++) {
    console.log(`${tag} out ${j}`);
    process.stderr.write(`${tag} err ${j}\n`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return tag;
}

interface Where {
  connection: (node?: string) => Connection;
  /** Shell text that starts node on that side. */
  node: string;
  remoteDir: (tmp: string) => string;
  /** Text of the files (relative to remoteDir) matching a pattern, as `name\tmode\tcontent` items. */
  read: (remoteDir: string, folder: string) => Promise<{ name: string; mode: string; text: string }[]>;
}

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "rr-fault-"));
  scratch.push(d);
  return d;
}

/** Files of the Dataset folder on the far side, through the connection (one command). */
async function remoteFiles(c: Connection, remoteDir: string, folder: string) {
  const res = await c.exec(
    `cd -- ${shellQuote(`${remoteDir}/${folder}`)} && for f in *; do [ -f "$f" ] || continue; printf '@@%s\\t%s\\n' "$f" "$(stat -c %a "$f")"; cat -- "$f"; echo; done`,
  );
  return res.stdout
    .split(/^@@/m)
    .filter(Boolean)
    .map((chunk) => {
      const nl = chunk.indexOf("\n");
      const [name, mode] = chunk.slice(0, nl).split("\t");
      return { name, mode, text: chunk.slice(nl + 1) };
    });
}

function suite(label: string, setup: () => Promise<Where>) {
  describe(label, () => {
    let where: Where;
    beforeAll(async () => {
      where = await setup();
    }, 120_000);

    it("a fault that a runner which already returned left behind never fails the runner after it", async () => {
      const dir = tmp();
      const ds = new Dataset(leaver, {
        name: "leaver",
        skip: false,
        verbose: 0,
        asynchronous: false,
        connection: where.connection(where.node),
        dbDir: dir,
        localDir: join(dir, "local"),
        remoteDir: where.remoteDir(dir),
      });
      ds.appendRuns([0, 1, 2, 3].map((i) => ({ i })));
      await ds.run();
      await ds.wait({ interval: 0.1, timeout: 60 });
      expect(await ds.fetchResults()).toEqual([0, 1, 4, 9]);
      await ds.close();
    });

    for (const asynchronous of [true, false]) {
      it(`each fault fails only its own runner, with its own cause (asynchronous: ${asynchronous})`, async () => {
        const dir = tmp();
        const connection = where.connection(`${where.node} --max-old-space-size=${HEAP_MB}`);
        const ds = new Dataset(faulty, {
          name: `faults${asynchronous ? "A" : "S"}`,
          skip: false,
          verbose: 0,
          asynchronous,
          connection,
          dbDir: dir,
          localDir: join(dir, "local"),
          remoteDir: where.remoteDir(dir),
        });
        MODES.forEach((mode, i) => {
          ds.appendRun({ mode, i }, mode === "loop" ? { timeout: 2 } : {});
        });
        await ds.run();
        await ds.wait({ interval: 0.1, timeout: 60 });
        await ds.fetchResults();
        MODES.forEach((mode, i) => {
          const r = ds.runners[i];
          expect(r.stdout, `stdout of runner ${i}`).toMatch(new RegExp(`^runner ${i} starts\\n`));
          if (mode === "ok") {
            expect(ds.results[i]).toBe(i * i);
            expect(r.stdout).toBe(`runner ${i} starts\nrunner ${i} ends\n`);
            expect(r.stderr).toBe(`runner ${i} complains\n`);
            expect(r.fullError).toBeUndefined();
            return;
          }
          const e = ds.results[i];
          expect(e, `runner ${i} (${mode})`).toBeInstanceOf(RunnerFailedError);
          expect((e as RunnerFailedError).message, `runner ${i} (${mode})`).toBe(CAUSES[mode]);
          expect(r.stdout).toBe(`runner ${i} starts\n`);
          expect(r.stderr).toBe(`runner ${i} complains\n`);
          // Its stderr first, the error last.
          expect(r.fullError?.startsWith(`runner ${i} complains\n`)).toBe(true);
          expect(r.fullError?.endsWith(CAUSES[mode])).toBe(true);
        });
        // The submission log holds the runtime's own lines only, none of the runners'.
        const files = await where.read(where.remoteDir(dir), ds.folder);
        const log = files.find((f) => /^submit-.*\.log$/.test(f.name));
        expect(log).toBeDefined();
        expect(log?.text).not.toMatch(/runner \d (starts|complains|ends)/);
        await ds.close();
      }, 60_000);
    }

    it("a runner looping forever without a timeout holds only itself: every other runner completes", async () => {
      const dir = tmp();
      const ds = new Dataset(
        ({ k }: { k: number }) => {
          if (k === 1) for (;;);
          const end = Date.now() + 20;
          while (Date.now() < end);
          return k * 2;
        },
        {
          name: "looper",
          skip: false,
          verbose: 0,
          maxProcesses: 2,
          connection: where.connection(),
          dbDir: dir,
          localDir: join(dir, "local"),
          remoteDir: where.remoteDir(dir),
        },
      );
      ds.appendRuns(Array.from({ length: 40 }, (_, k) => ({ k })));
      await ds.run();
      try {
        // The looper never ends, so wait for the others only: at most 45 s.
        const deadline = Date.now() + 45_000;
        const others = () => ds.runners.filter((r, k) => k !== 1 && r.state !== "completed").length;
        while (others() > 0 && Date.now() < deadline) {
          await expect(ds.wait({ interval: 0.2, timeout: 1 })).rejects.toBeInstanceOf(WaitTimeoutError);
        }
        expect(ds.runners.filter((r) => r.state !== "completed").map((r) => `${r.name} ${r.state}`)).toEqual([
          "runner-1 started",
        ]);
        await ds.fetchResults();
        expect(ds.results.filter((_, k) => k !== 1)).toEqual(
          Array.from({ length: 40 }, (_, k) => k * 2).filter((_, k) => k !== 1),
        );
      } finally {
        // The looper's process runs until cancelled.
        await ds.cancel();
      }
      expect(ds.runners[1].state).not.toBe("started");
      await ds.close();
    }, 60_000);

    it("a runner waiting past its timeout fails while the others go on; a promise that can never settle fails", async () => {
      const dir = tmp();
      const ds = new Dataset(
        async ({ mode }: { mode: string }) => {
          // Its timer keeps the process busy after it timed out: the stuck promise is seen after.
          if (mode === "slow") await new Promise((r) => setTimeout(r, 4000));
          if (mode === "stuck") await new Promise(() => {});
          await new Promise((r) => setTimeout(r, 1500));
          return mode;
        },
        {
          name: "waits",
          skip: false,
          verbose: 0,
          maxProcesses: 1,
          connection: where.connection(),
          dbDir: dir,
          localDir: join(dir, "local"),
          remoteDir: where.remoteDir(dir),
        },
      );
      ds.appendRun({ mode: "slow" }, { timeout: 1 });
      ds.appendRun({ mode: "stuck" });
      ds.appendRun({ mode: "fine" });
      await ds.run();
      await ds.wait({ interval: 0.1, timeout: 60 });
      await ds.fetchResults();
      expect(ds.errors[0]?.message).toBe("Error: timed out after 1 s");
      expect(ds.errors[1]?.message).toBe("Error: the function returned a promise that never settles");
      expect(ds.results[2]).toBe("fine");
      await ds.close();
    }, 60_000);

    it("what runners print concurrently in one process goes to each one's own stdout and stderr", async () => {
      const dir = tmp();
      const connection = where.connection();
      const ds = new Dataset(talker, {
        name: "talk",
        skip: false,
        verbose: 0,
        maxProcesses: 1, // both runners in one process, at the same time
        connection,
        dbDir: dir,
        localDir: join(dir, "local"),
        remoteDir: where.remoteDir(dir),
      });
      ds.appendRun({ tag: "alpha" });
      ds.appendRun({ tag: "beta" });
      await ds.run();
      await ds.wait({ interval: 0.1, timeout: 60 });
      expect(ds.runners.map((r) => r.stdout)).toEqual([undefined, undefined]);
      expect(await ds.fetchResults()).toEqual(["alpha", "beta"]);
      const lines = (tag: string, stream: string) =>
        Array.from({ length: 30 }, (_, j) => `${tag} ${stream} ${j}\n`).join("");
      for (const [i, tag] of ["alpha", "beta"].entries()) {
        const r = ds.runners[i];
        expect(r.stdout).toBe(lines(tag, "out"));
        expect(r.stderr).toBe(lines(tag, "err"));
        // Local copies beside the results, private to the user.
        const local = join(dir, "local", ds.folder);
        expect(readFileSync(join(local, `${r.name}.out`), "utf8")).toBe(lines(tag, "out"));
        expect(readFileSync(join(local, `${r.name}.err`), "utf8")).toBe(lines(tag, "err"));
        expect(statSync(join(local, `${r.name}.out`)).mode & 0o777).toBe(0o600);
      }
      // On the far side: each runner's own files (0600); the submission log has none of their lines.
      const files = await where.read(where.remoteDir(dir), ds.folder);
      for (const name of ["runner-0.out", "runner-0.err", "runner-1.out", "runner-1.err"]) {
        const f = files.find((x) => x.name === name);
        expect(f?.mode, name).toBe("600");
      }
      expect(files.find((x) => x.name === "runner-0.out")?.text).toBe(`${lines("alpha", "out")}\n`);
      const log = files.find((f) => /^submit-.*\.log$/.test(f.name));
      expect(log?.text).not.toMatch(/(alpha|beta) (out|err)/);
      // Restored from the database, the outputs are still there.
      await ds.close();
      const again = new Dataset(talker, {
        name: "talk",
        verbose: 0,
        connection,
        dbDir: dir,
        localDir: join(dir, "local"),
        remoteDir: where.remoteDir(dir),
      });
      expect(again.runners[1].stdout).toBe(lines("beta", "out"));
      expect(again.runners[1].stderr).toBe(lines("beta", "err"));
      await again.close();
    }, 60_000);

    it("an output too big for the collected line comes back whole, failures keep theirs in fullError", async () => {
      const dir = tmp();
      const connection = where.connection();
      const ds = new Dataset(
        ({ n, fail }: { n: number; fail: boolean }) => {
          const line = `${"x".repeat(99)}\n`;
          for (let j = 0; j < n; j++) process.stdout.write(line);
          if (n > 0) console.error(`wrote ${n} lines`);
          if (fail) throw new RangeError(`failed after ${n} lines`);
          return n;
        },
        {
          name: "big",
          skip: false,
          verbose: 0,
          connection,
          dbDir: dir,
          localDir: join(dir, "local"),
          remoteDir: where.remoteDir(dir),
        },
      );
      ds.appendRun({ n: 2000, fail: false }); // 200 kB
      ds.appendRun({ n: 3, fail: true });
      ds.appendRun({ n: 0, fail: false });
      await ds.run();
      await ds.wait({ interval: 0.1, timeout: 60 });
      await ds.fetchResults();
      expect(ds.results[0]).toBe(2000);
      expect(ds.runners[0].stdout).toBe(`${"x".repeat(99)}\n`.repeat(2000));
      expect(ds.runners[0].stderr).toBe("wrote 2000 lines\n");
      const failed = ds.runners[1];
      expect(failed.error?.message).toBe("RangeError: failed after 3 lines");
      expect(failed.fullError).toMatch(/^wrote 3 lines\n[\s\S]*RangeError: failed after 3 lines$/);
      expect(ds.runners[2].stdout).toBe("");
      expect(ds.runners[2].stderr).toBe("");
      // Nothing printed, no file.
      expect(readdirSync(join(dir, "local", ds.folder))).not.toContain("runner-2.out");
      await ds.close();
    }, 60_000);
  });
}

suite("locally", async () => ({
  connection: (node) => connect(node ? { kind: "local", node } : { kind: "local" }),
  node: shellQuote(process.execPath),
  remoteDir: (dir) => join(dir, "remote"),
  read: async (remoteDir, folder) => remoteFiles(connect({ kind: "local" }), remoteDir, folder),
}));

let server: SshdServer | undefined;
const sshConnections: Connection[] = [];
afterAll(async () => {
  if (server) {
    const c = connect(server.connectionOptions());
    await c.exec(`rm -rf -- rr-fault-${process.pid}-*`, { allowFailure: true });
    await c.close();
  }
  for (const c of sshConnections) await c.close();
  await server?.stop();
});

suite("over ssh", async () => {
  server = await startSshd();
  const s = server;
  const open = (node?: string) => {
    const c = connect({ ...s.connectionOptions(), ...(node ? { node } : {}) });
    sshConnections.push(c);
    return c;
  };
  const reader = open();
  return {
    connection: open,
    node: "node",
    remoteDir: (dir) => `rr-fault-${process.pid}-${basename(dir)}`,
    read: (remoteDir, folder) => remoteFiles(reader, remoteDir, folder),
  };
});
