/**
 * The remote side must run on Node 18 (HPC login nodes lag behind): the whole lifecycle, with the
 * runtime started by a real Node 18 binary through the connection's `node` command.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../src/connection/index.js";
import { Dataset } from "../src/dataset/index.js";
import { RunnerFailedError } from "../src/shared/errors.js";
import { ensureNode18, NODE18_VERSION } from "./helpers/node18.js";

let node18: string;
let tmp: string;

beforeAll(() => {
  node18 = ensureNode18();
  tmp = mkdtempSync(join(tmpdir(), "rr-node18-"));
}, 240_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The Dataset options every test here shares: its folders in the file's temp folder, quiet, fresh. */
function folders() {
  return {
    dbDir: tmp,
    localDir: join(tmp, "local"),
    remoteDir: join(tmp, "remote"),
    verbose: 0,
    skip: false,
  };
}

describe("the runtime on Node 18", () => {
  it("is really Node 18", () => {
    expect(execFileSync(node18, ["--version"], { encoding: "utf8" }).trim()).toBe(`v${NODE18_VERSION}`);
  });

  it("runs sync, async, failing and downstream runners with faithful args and results", async () => {
    const connection = connect({ kind: "local", node: node18 });
    const dirs = folders();
    const up = new Dataset(
      async ({ n, when }: { n: number; when: Date }) => {
        if (n === 3) throw new TypeError("three is not allowed");
        await new Promise((r) => setTimeout(r, 5));
        return { n, version: process.version, big: BigInt(n) ** 20n, when, tags: new Set([n]), empty: [] };
      },
      { name: "n18up", connection, ...dirs },
    );
    const down = new Dataset(
      (_args: { k: number }, ctx: { upstream?: unknown }) => ({ from: (ctx.upstream as { n: number }).n }),
      { name: "n18down", connection, ...dirs },
    );
    const when = new Date("2020-02-02T02:02:02.002Z");
    up.appendRuns(Array.from({ length: 6 }, (_, n) => ({ n, when })));
    down.appendRuns(Array.from({ length: 6 }, (_, k) => ({ k })));
    up.setDownstream(down as never);
    await up.run();
    await up.wait({ interval: 0.05, timeout: 60 });
    await down.wait({ interval: 0.05, timeout: 60 });
    await up.fetchResults();
    await down.fetchResults();
    up.results.forEach((r, n) => {
      if (n === 3) {
        expect(r).toBeInstanceOf(RunnerFailedError);
        expect((r as RunnerFailedError).message).toBe("TypeError: three is not allowed");
        return;
      }
      expect(r).toEqual({
        n,
        version: `v${NODE18_VERSION}`,
        big: BigInt(n) ** 20n,
        when,
        tags: new Set([n]),
        empty: [],
      });
    });
    down.results.forEach((r, k) => {
      if (k === 3) expect((r as RunnerFailedError).message).toMatch(/upstream runner runner-3/);
      else expect(r).toEqual({ from: k });
    });
    await up.close();
    await down.close();
  });

  it.each(["v8", "yaml"] as const)(
    "reads args and writes results in the %s serializer the driver's Node reads",
    async (serializer) => {
      const connection = connect({ kind: "local", node: node18 });
      const dirs = folders();
      const up = new Dataset((args: Record<string, unknown>) => ({ args, version: process.version }), {
        name: `n18${serializer}`,
        connection,
        serializer,
        ...dirs,
      });
      // A json Dataset downstream reads the upstream's results in their serializer.
      const down = new Dataset(
        (_a: { k: number }, ctx: { upstream?: unknown }) =>
          (ctx.upstream as { args: { when: Date } }).args.when.getTime(),
        { name: `n18${serializer}down`, connection, ...dirs },
      );
      const proto: Record<string, unknown> = { a: 1 };
      Object.defineProperty(proto, "__proto__", {
        value: 2,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      const when = new Date("2020-02-02T02:02:02.002Z");
      const common = {
        when,
        specials: [Number.NaN, Number.POSITIVE_INFINITY, -0],
        unicode: "日本語 😀 \uD800",
        bytes: new Uint8Array([0, 255]),
        proto,
        empty: [{}, []],
      };
      const cyclic: Record<string, unknown> = { n: 1 };
      cyclic.self = cyclic;
      const v8Only = {
        buf: Buffer.from([1, 2, 3]),
        f32: new Float32Array([1.5]),
        re: /x+/g,
        big: 2n ** 80n,
        map: new Map([[1, new Set([2])]]),
        cyclic,
      };
      const args = serializer === "v8" ? { ...common, ...v8Only } : common;
      up.appendRun(args);
      down.appendRun({ k: 0 });
      up.setDownstream(down as never);
      await up.run();
      await up.wait({ interval: 0.05, timeout: 60 });
      await down.wait({ interval: 0.05, timeout: 60 });
      const [r] = await up.fetchResults();
      const [d] = await down.fetchResults();
      expect(r).toStrictEqual({ args, version: `v${NODE18_VERSION}` });
      expect(Object.hasOwn((r as unknown as { args: { proto: object } }).args.proto, "__proto__")).toBe(true);
      expect(d).toBe(when.getTime());
      await up.close();
      await down.close();
    },
    60_000,
  );

  it("keeps each runner's faults and output to itself", async () => {
    const connection = connect({ kind: "local", node: node18 });
    const ds = new Dataset(
      async ({ mode }: { mode: string }) => {
        console.log(`${mode} on ${process.version}`);
        await new Promise((r) => setTimeout(r, 50));
        if (mode === "exit") process.exit(3);
        if (mode === "kill") process.kill(process.pid, "SIGKILL");
        if (mode === "timer") await new Promise(() => setTimeout(() => Promise.reject(new Error("late")), 5));
        return mode;
      },
      {
        name: "n18faults",
        connection,
        dbDir: tmp,
        localDir: join(tmp, "local"),
        remoteDir: join(tmp, "remote"),
        verbose: 0,
        skip: false,
        maxProcesses: 1,
      },
    );
    ds.appendRuns(["ok", "exit", "kill", "timer", "fine"].map((mode) => ({ mode })));
    await ds.run();
    await ds.wait({ interval: 0.05, timeout: 60 });
    await ds.fetchResults();
    expect(ds.results[0]).toBe("ok");
    expect(ds.results[4]).toBe("fine");
    expect(ds.errors.filter((e) => e !== undefined).map((e) => e.message)).toEqual([
      "Error: process.exit(3) called by the function",
      "Error: the runner's process was killed by SIGKILL",
      "Error: late",
    ]);
    expect(ds.runners.map((r) => r.stdout)).toEqual(
      ["ok", "exit", "kill", "timer", "fine"].map((m) => `${m} on v${NODE18_VERSION}\n`),
    );
    await ds.close();
  });
});
