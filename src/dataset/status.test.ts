/**
 * Which runners a runtime process's exit fails: with fixed shares, those of its group (slot % P);
 * with a shared pool, only those it claimed and did not finish, and those nobody claimed once every
 * process has exited.
 */
import { describe, expect, it } from "vitest";
import { claimLine, stateLine } from "../remote/wire.mjs";
import { parseStateLines } from "./status.js";

const T = "tok";
const exit = (k: number, p: number, code: number) => `${T}\t@process\t${k}/${p}\t${code}\t1700000000\n`;
const wanted = (n: number, pooled: boolean) =>
  new Map(
    Array.from({ length: n }, (_, i) => [
      `runner-${i}`,
      { token: T, slot: i, ...(pooled ? { pooled } : {}) },
    ]),
  );
const failed = (m: Map<string, { state: string }>) =>
  [...m].filter(([, u]) => u.state === "failed").map(([name]) => name);

describe("parseStateLines", () => {
  it("with fixed shares, a process's exit fails the unfinished runners of its group", () => {
    const text = stateLine(T, "runner-0", "started") + exit(0, 2, 137);
    expect(failed(parseStateLines(text, wanted(4, false)))).toEqual(["runner-0", "runner-2"]);
  });

  it("with a shared pool, a process's exit fails only what it claimed and did not finish", () => {
    const text = [
      claimLine(T, 0, 2, [0, 1]),
      claimLine(T, 1, 2, [2, 3]),
      stateLine(T, "runner-0", "started"),
      stateLine(T, "runner-0", "completed"),
      stateLine(T, "runner-1", "started"),
      stateLine(T, "runner-2", "started"),
      exit(0, 2, 137),
    ].join("");
    const got = parseStateLines(text, wanted(5, true));
    expect(failed(got)).toEqual(["runner-1"]);
    expect(got.get("runner-1")?.crash).toMatch(/exited with code 137 before runner-1 finished/);
    expect(got.get("runner-2")?.state).toBe("started");
    // runner-4: claimed by nobody while process 1 still runs, it may still be taken.
    expect(got.has("runner-4")).toBe(false);
  });

  it("a runner claimed by several processes fails only once all of them have exited", () => {
    const claims = claimLine(T, 0, 2, [0]) + claimLine(T, 1, 2, [0]) + stateLine(T, "runner-0", "started");
    expect(failed(parseStateLines(claims + exit(0, 2, 0), wanted(1, true)))).toEqual([]);
    expect(failed(parseStateLines(claims + exit(0, 2, 0) + exit(1, 2, 9), wanted(1, true)))).toEqual([
      "runner-0",
    ]);
  });

  it("a runner nobody claimed fails once every process has exited: nothing is left to run it", () => {
    const text = claimLine(T, 0, 2, [0]) + stateLine(T, "runner-0", "completed");
    expect(failed(parseStateLines(text + exit(0, 2, 0), wanted(2, true)))).toEqual([]);
    const got = parseStateLines(text + exit(0, 2, 0) + exit(1, 2, 0), wanted(2, true));
    expect(failed(got)).toEqual(["runner-1"]);
  });

  it("one submission in two folders: each folder's exit lines count for its own runners only", () => {
    // Runners with different remoteDirs share the submission's token; each folder has its own
    // master whose lanes are numbered from 0. Folder 1's exit must not fail folder 0's runner.
    const want = new Map([
      ["runner-0", { token: T, slot: 0, pooled: true, folder: 0 }],
      ["runner-1", { token: T, slot: 0, pooled: true, folder: 1 }],
    ]);
    const text = [
      "@@folder\t0\n",
      "@@folder\t1\n",
      exit(0, 1, 0),
      "@@folder\t0\n",
      claimLine(T, 0, 1, [0]),
      stateLine(T, "runner-0", "started"),
      "@@folder\t1\n",
      claimLine(T, 0, 1, [0]),
      stateLine(T, "runner-1", "started"),
      stateLine(T, "runner-1", "completed"),
    ].join("");
    const got = parseStateLines(text, want);
    expect(failed(got)).toEqual([]);
    expect(got.get("runner-0")?.state).toBe("started");
    expect(got.get("runner-1")?.state).toBe("completed");
    // Once folder 0's own master has exited too, its unfinished runner is failed.
    const later = text
      .replace("@@folder\t1\n", `@@folder\t1\n`)
      .replace(/^@@folder\t0\n/, `@@folder\t0\n${exit(0, 1, 3)}`);
    expect(failed(parseStateLines(later, want))).toEqual(["runner-0"]);
  });
});
