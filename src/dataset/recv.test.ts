import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expandRunDir } from "../runargs/index.js";
import { FILES_MARKER, PullPlan, recvListingScript, splitListing } from "./recv.js";

const root = mkdtempSync(join(tmpdir(), "rr-recv-unit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("runDir placeholders", () => {
  it("are filled per runner", () => {
    const v = { name: "r-1", index: 7, dataset: "ds" };
    expect(expandRunDir("runs/{name}", v)).toBe("runs/r-1");
    expect(expandRunDir("{dataset}/{index}-{name}/", v)).toBe("ds/7-r-1");
    expect(expandRunDir("plain", v)).toBe("plain");
    expect(expandRunDir(undefined, v)).toBeUndefined();
  });
});

describe("the far side's listing", () => {
  it("expands globs and folders in each runner's folder, names missing plain paths, runs nothing", () => {
    const far = join(root, "far");
    const a = join(far, "runs", "a");
    mkdirSync(join(a, "out", "sub"), { recursive: true });
    mkdirSync(join(far, "runs", "b"), { recursive: true });
    writeFileSync(join(a, "out", "T1.txt"), "1");
    writeFileSync(join(a, "out", "sub", "x.log"), "2");
    writeFileSync(join(a, "$(touch CANARY)\nodd.txt"), "3");
    writeFileSync(join(far, "outside.txt"), "4");
    const script = recvListingScript([
      {
        root: far,
        dir: "runs/a",
        patterns: ["out", "*.txt", "none-*", "absent", "$(touch CANARY)\nodd.txt"],
      },
      { root: far, dir: "runs/b", patterns: ["*", "gone.txt"] },
      { root: far, dir: "runs/missing", patterns: ["x.txt", "*.y"] },
    ]);
    const stdout = execFileSync("bash", ["-s"], { input: `echo '{"a":1}'\n${script}`, cwd: root }).toString();
    const { head, files } = splitListing(stdout);
    expect(head.trim()).toBe('{"a":1}');
    expect(files.get(0)?.found.sort()).toEqual(["$(touch CANARY)\nodd.txt", "out/T1.txt", "out/sub/x.log"]);
    expect(files.get(0)?.missing).toEqual(["absent"]);
    expect(files.get(1)).toEqual({ found: [], missing: ["gone.txt"], unreadable: [] });
    expect(files.get(2)).toEqual({ found: [], missing: ["x.txt"], unreadable: [] });
    expect(existsSync(join(root, "CANARY")) || existsSync(join(a, "CANARY"))).toBe(false);
  });

  it("drops records that would leave the folder", () => {
    const stdout = `x\n${FILES_MARKER}\n0\tf\t../up\x000\tf\t/abs\x000\tf\ta/./b\x000\tf\tok//c/\x00`;
    expect(splitListing(stdout).files.get(0)).toEqual({ found: ["ok/c"], missing: [], unreadable: [] });
  });
});

describe("placing fetched files", () => {
  it("never writes through a link left at the place, and files are private", async () => {
    const local = join(root, "local");
    const secret = join(root, "secret.txt");
    writeFileSync(secret, "keep");
    mkdirSync(join(local, "r0"), { recursive: true });
    symlinkSync(secret, join(local, "r0", "f.txt"));
    symlinkSync(root, join(local, "r0", "dir"));
    const plan = new PullPlan(local, "ds");
    plan.add("runs/r0/f.txt", "r0/f.txt");
    plan.add("runs/r0/f.txt", "r1/f.txt");
    plan.add("runs/r0/dir/g.txt", "r0/dir/g.txt");
    mkdirSync(join(plan.into, "runs", "r0", "dir"), { recursive: true });
    writeFileSync(join(plan.into, "runs", "r0", "f.txt"), "new", { mode: 0o644 });
    writeFileSync(join(plan.into, "runs", "r0", "dir", "g.txt"), "g");
    const problems = await plan.place();
    await plan.done();
    expect(readFileSync(secret, "utf8")).toBe("keep");
    expect(readFileSync(join(local, "r0", "f.txt"), "utf8")).toBe("new");
    expect(readFileSync(join(local, "r1", "f.txt"), "utf8")).toBe("new");
    expect(lstatSync(join(local, "r0", "f.txt")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(root, "g.txt"))).toBe(false);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("r0/dir/g.txt");
    expect(existsSync(plan.into)).toBe(false);
  });
});
