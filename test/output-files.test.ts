/**
 * Output files (`extraFilesRecv`) and per-runner folders (`runDir` placeholders): every runner writes
 * files of the SAME names in its own folder on the far side, and each comes back with its own content
 * under `<localDir>/<runner>/`, in one transfer per direction (counted on the connection), private
 * locally. Locally, and over a real sshd with both transports (rsync, tar); function and script
 * Datasets. The Slurm case is test/output-files-slurm.test.ts.
 */

import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Connection } from "../src/connection/index.js";
import { LocalConnection } from "../src/connection/local.js";
import { Dataset, InvalidArgumentError } from "../src/index.js";
import { sshTestbed } from "./helpers/ssh.js";

const sshd = sshTestbed("rr-recv");
const root = mkdtempSync(join(tmpdir(), "rr-recv-local-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const wait = { interval: 0.1, timeout: 60 };
let seq = 0;

/**
 * Writes, in its working folder, `out/T1.txt` (the same name for every runner, its own content), a
 * CSV named by x, a folder of logs, and reads the extra file sent with the Dataset at `../../seed.txt`
 * (runDir `runs/{name}` is two levels down). Fails when x is negative, after writing its files.
 */
const produce = new Function(
  "args",
  `return import("node:fs").then((fs) => {
    const seed = fs.readFileSync("../../seed.txt", "utf8").trim();
    fs.mkdirSync("out", { recursive: true });
    fs.writeFileSync("out/T1.txt", seed + " from " + args.x);
    fs.writeFileSync("data-" + args.x + ".csv", "x\\n" + args.x + "\\n");
    fs.mkdirSync("logs/deep", { recursive: true });
    fs.writeFileSync("logs/deep/run.log", "log " + args.x);
    fs.writeFileSync("it's $(touch CANARY) a;name.txt", "odd " + args.x);
    if (args.x < 0) throw new Error("negative " + args.x);
    return args.x * 10;
  });`,
) as (args: { x: number }) => Promise<number>;

const SCRIPT = `#!/bin/bash
mkdir -p out
printf 'script %s\\n' #x# > out/T1.txt
printf 'extra %s' #x# > "out/with space #x#.dat"
echo done #x#
`;

/** Local folders for one Dataset, and the seed file sent with it. */
function folders(tag: string) {
  const dir = join(root, `${tag}-${++seq}`);
  const seed = join(dir, "seed.txt");
  return { dir, seed };
}

function counted(connection: Connection) {
  const s = connection.stats;
  return async <T>(f: () => Promise<T>) => {
    const before = { ...s };
    const value = await f();
    return {
      value,
      pulls: s.pulls - before.pulls,
      pushes: s.pushes - before.pushes,
      execs: s.execs - before.execs,
    };
  };
}

const mode = (p: string) => lstatSync(p).mode & 0o777;

/** Every file under a folder, relative, sorted. */
function tree(dir: string, rel = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(join(dir, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? tree(dir, join(rel, e.name)) : [join(rel, e.name)]))
    .sort();
}

async function functionDataset(
  connection: Connection,
  dirs: { dbDir: string; localDir: string; remoteDir: string },
  seedFile: string,
) {
  const logs: string[] = [];
  mkdirSync(dirname(seedFile), { recursive: true });
  writeFileSync(seedFile, "seeded\n");
  const ds = new Dataset(produce, {
    name: "recvfn",
    skip: false,
    verbose: 1,
    logger: (m) => logs.push(m),
    connection,
    ...dirs,
    extraFilesSend: [seedFile],
    runDir: "runs/{name}",
    extraFilesRecv: [
      "out/T1.txt",
      "*.csv",
      "logs",
      "it's $(touch CANARY) a;name.txt",
      "absent.txt",
      "none-*.dat",
    ],
  });
  ds.appendRuns([{ x: 1 }, { x: 2 }, { x: -3 }]);
  const count = counted(connection);
  const run = await count(() => ds.run());
  await ds.wait(wait);
  const fetch = await count(() => ds.fetchResults());
  return { ds, logs, run, fetch };
}

function checkFunctionOutputs(
  localDir: string,
  fetch: { value: unknown[]; pulls: number; execs: number },
  logs: string[],
) {
  expect(fetch.value.slice(0, 2)).toEqual([10, 20]);
  expect(String(fetch.value[2])).toMatch(/negative -3/);
  // One command lists results and files, one transfer brings every file.
  expect(fetch.execs).toBe(1);
  expect(fetch.pulls).toBe(1);
  for (const [i, x] of [1, 2, -3].entries()) {
    const mine = join(localDir, `runner-${i}`);
    expect(tree(mine)).toEqual(
      [`data-${x}.csv`, "it's $(touch CANARY) a;name.txt", "logs/deep/run.log", "out/T1.txt"].sort(),
    );
    expect(readFileSync(join(mine, "out/T1.txt"), "utf8")).toBe(`seeded from ${x}`);
    expect(readFileSync(join(mine, "logs/deep/run.log"), "utf8")).toBe(`log ${x}`);
    expect(readFileSync(join(mine, `data-${x}.csv`), "utf8")).toBe(`x\n${x}\n`);
    expect(mode(join(mine, "out/T1.txt"))).toBe(0o600);
    expect(mode(join(mine, "out"))).toBe(0o700);
    expect(mode(join(mine, "logs/deep"))).toBe(0o700);
    expect(mode(mine)).toBe(0o700);
  }
  // The plain path missing is named for the runners that succeeded; globs matching nothing are not.
  const missing = logs.filter((l) => l.includes("not found"));
  expect(missing).toHaveLength(1);
  expect(missing[0]).toContain("runner-0: absent.txt (in remoteDir/runs/runner-0)");
  expect(missing[0]).toContain("runner-1: absent.txt");
  expect(missing[0]).not.toContain("runner-2");
  expect(missing[0]).not.toContain("none-");
  // No leftovers of the transfer in the Dataset's local folder.
  const staging = readdirSync(localDir).filter((f) => f.startsWith("recvfn-"));
  expect(staging).toHaveLength(1);
  expect(readdirSync(join(localDir, staging[0])).filter((f) => f.startsWith(".fetch-"))).toEqual([]);
}

describe("output files on the local connection", () => {
  it("a function Dataset: every runner's files come back under localDir/<runner>, failed ones too, in one pull", async () => {
    const { dir, seed } = folders("fn");
    const connection = new LocalConnection();
    const dirs = { dbDir: dir, localDir: join(dir, "local"), remoteDir: join(dir, "remote") };
    const { ds, logs, run, fetch } = await functionDataset(connection, dirs, seed);
    expect(run.pushes).toBe(1);
    checkFunctionOutputs(dirs.localDir, fetch, logs);
    // Each runner worked in its own folder; the same name never collided.
    expect(readdirSync(join(dirs.remoteDir, "runs")).sort()).toEqual(["runner-0", "runner-1", "runner-2"]);
    // No shell word of a file name ran.
    expect(existsSync(join(dirs.remoteDir, "CANARY"))).toBe(false);
    expect(tree(dir).some((f) => f.endsWith("CANARY"))).toBe(false);
    // Fetched once: a second fetch transfers nothing.
    const again = await counted(connection)(() => ds.fetchResults());
    expect(again.pulls).toBe(0);
    await ds.close();
  });

  it("a script Dataset: same file names from every runner, each with its own content", async () => {
    const { dir } = folders("sh");
    const connection = new LocalConnection();
    const ds = new Dataset(undefined, {
      script: SCRIPT,
      name: "recvsh",
      skip: false,
      verbose: 0,
      connection,
      dbDir: dir,
      localDir: join(dir, "local"),
      remoteDir: join(dir, "remote"),
      runDir: "w/{index}-{name}",
    });
    for (let x = 0; x < 4; x++) ds.appendRun({ x }, { extraFilesRecv: ["out"] });
    // A runner's own list replaces the Dataset's.
    ds.appendRun({ x: 9 }, { extraFilesRecv: ["out/T1.txt"] });
    await ds.run();
    await ds.wait(wait);
    const fetch = await counted(connection)(() => ds.fetchResults());
    expect(fetch.value).toEqual(["done 0", "done 1", "done 2", "done 3", "done 9"]);
    expect(fetch.pulls).toBe(1);
    expect(fetch.execs).toBe(1);
    for (let x = 0; x < 4; x++) {
      const mine = join(dir, "local", `runner-${x}`);
      expect(tree(mine)).toEqual(["out/T1.txt", `out/with space ${x}.dat`]);
      expect(readFileSync(join(mine, "out/T1.txt"), "utf8")).toBe(`script ${x}\n`);
      expect(mode(join(mine, "out/T1.txt"))).toBe(0o600);
    }
    expect(tree(join(dir, "local", "runner-4"))).toEqual(["out/T1.txt"]);
    expect(readdirSync(join(dir, "remote", "w")).sort()).toEqual([
      "0-runner-0",
      "1-runner-1",
      "2-runner-2",
      "3-runner-3",
      "4-runner-4",
    ]);
    await ds.close();
  });

  it("without extraFilesRecv nothing more is transferred", async () => {
    const { dir } = folders("none");
    const connection = new LocalConnection();
    const ds = new Dataset(undefined, {
      script: SCRIPT,
      name: "recvnone",
      skip: false,
      verbose: 0,
      connection,
      dbDir: dir,
      localDir: join(dir, "local"),
      remoteDir: join(dir, "remote"),
      runDir: "{name}",
    });
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    await ds.run();
    await ds.wait(wait);
    const fetch = await counted(connection)(() => ds.fetchResults());
    expect(fetch.value).toEqual(["done 1", "done 2"]);
    expect(fetch.pulls).toBe(0);
    expect(existsSync(join(dir, "local", "runner-0"))).toBe(false);
    await ds.close();
  });

  it("runners with output files that share a folder are told, once, to take one each", async () => {
    const { dir } = folders("shared");
    const logs: string[] = [];
    const make = (runDir: string | undefined) =>
      new Dataset(undefined, {
        script: SCRIPT,
        name: `shared${runDir ? "own" : ""}`,
        skip: false,
        verbose: 1,
        logger: (m) => logs.push(m),
        dbDir: dir,
        localDir: join(dir, "local"),
        remoteDir: join(dir, "remote"),
        ...(runDir ? { runDir } : {}),
        extraFilesRecv: ["out/T1.txt"],
      });
    const ds = make(undefined);
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    await ds.run();
    await ds.run({ force: true });
    const said = logs.filter((l) => l.includes("work in the same folder"));
    expect(said).toEqual([
      '2 runners with extraFilesRecv work in the same folder (remoteDir): output files of the same name overwrite each other there; give each runner its own folder, e.g. runDir: "{name}"',
    ]);
    await ds.wait(wait);
    await ds.close();
    const own = make("{name}");
    own.appendRuns([{ x: 1 }, { x: 2 }]);
    await own.run();
    expect(logs.filter((l) => l.includes("work in the same folder"))).toHaveLength(1);
    await own.wait(wait);
    await own.close();
  });
});

describe("checks", () => {
  const dir = join(root, "checks");
  const make = (opts: Record<string, unknown>) =>
    new Dataset((a: { x: number }) => a.x, { name: "chk", skip: false, verbose: 0, dbDir: dir, ...opts });

  it.each([
    [["../up.txt"], "'..'"],
    [["/etc/passwd"], "absolute"],
    [["~/x"], "'~'"],
    [["a/./b"], "'.'"],
    [["."], "'.'"],
    [[""], "not a usable path"],
    [["a\nb"], "not a usable path"],
    [[3], "not a usable path"],
    ["out.txt", "an array"],
  ])("extraFilesRecv %j is refused", (value, why) => {
    const e = (() => {
      try {
        make({ extraFilesRecv: value });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e?.message).toContain("extraFilesRecv");
    expect(e?.message).toContain(why);
  });

  it("a runDir placeholder that does not exist is refused, at every level", () => {
    expect(() => make({ runDir: "runs/{nmae}" })).toThrow(/\{nmae\} is not one of them/);
    const ds = make({});
    expect(() => ds.appendRun({ x: 1 }, { runDir: "{runner}" })).toThrow(InvalidArgumentError);
    expect(() => ds.appendRun({ x: 1 }, { extraFilesRecv: ["../x"] })).toThrow(
      /Runner run args.extraFilesRecv/,
    );
  });

  it("placeholders in remoteDir or localDir are refused: they are filled in runDir only", () => {
    expect(() => make({ remoteDir: "/tmp/x/{name}" })).toThrow(/remoteDir.*filled per runner in runDir only/);
    const ds = make({});
    expect(() => ds.appendRun({ x: 1 }, { localDir: "out/{index}" })).toThrow(InvalidArgumentError);
  });

  it("extraFilesRecv is no part of a runner's identity: the same run with other output files is the same runner", async () => {
    const ds = make({});
    const a = ds.appendRun({ x: 1 }, { extraFilesRecv: ["a.txt"] });
    const b = ds.appendRun({ x: 1 }, { extraFilesRecv: ["b.txt"] });
    expect(b).toBe(a);
    expect(ds.runners).toHaveLength(1);
    await ds.close();
  });
});

describe("output files over SSH", () => {
  for (const transport of ["rsync", "scp"] as const) {
    it(`a function Dataset over ${transport}: one push, one pull, every runner's own files`, async () => {
      const connection = sshd.ssh({ transport });
      const dirs = sshd.dirs(`fn-${transport}`);
      const { ds, logs, run, fetch } = await functionDataset(connection, dirs, join(dirs.dbDir, "seed.txt"));
      expect(run.pushes).toBe(1);
      checkFunctionOutputs(dirs.localDir, fetch, logs);
      const far = await connection.exec(
        `ls ${dirs.remoteDir}/runs; find ${dirs.remoteDir} -name CANARY | wc -l`,
      );
      expect(far.stdout.split("\n").slice(0, 3)).toEqual(["runner-0", "runner-1", "runner-2"]);
      // No shell word of a file name ran.
      expect(far.stdout.trim().split("\n").pop()).toBe("0");
      await ds.close();
    });

    it(`a script Dataset over ${transport}: same names, own contents, one pull`, async () => {
      const connection = sshd.ssh({ transport });
      const dirs = sshd.dirs(`sh-${transport}`);
      const ds = new Dataset(undefined, {
        script: SCRIPT,
        name: "recvsh",
        skip: false,
        verbose: 0,
        connection,
        ...dirs,
        runDir: "runs/{name}",
        extraFilesRecv: ["out/*"],
      });
      ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
      const count = counted(connection);
      const run = await count(() => ds.run());
      expect(run.pushes).toBe(1);
      await ds.wait(wait);
      const fetch = await count(() => ds.fetchResults());
      expect(fetch.value).toEqual(["done 1", "done 2", "done 3"]);
      expect(fetch.pulls).toBe(1);
      expect(fetch.execs).toBe(1);
      for (const x of [1, 2, 3]) {
        const mine = join(dirs.localDir, `runner-${x - 1}`);
        expect(tree(mine)).toEqual(["out/T1.txt", `out/with space ${x}.dat`]);
        expect(readFileSync(join(mine, "out/T1.txt"), "utf8")).toBe(`script ${x}\n`);
        expect(readFileSync(join(mine, `out/with space ${x}.dat`), "utf8")).toBe(`extra ${x}`);
        expect(mode(join(mine, "out/T1.txt"))).toBe(0o600);
        expect(mode(join(mine, "out"))).toBe(0o700);
      }
      await ds.close();
    });
  }
});

/** The local connection and the test sshd with each transport, with fresh folders per call. */
function transports(
  tag: string,
): [string, () => { connection: Connection; dirs: ReturnType<typeof sshd.dirs> }][] {
  return [
    [
      "local",
      () => {
        const dir = join(root, `${tag}-${++seq}`);
        return {
          connection: new LocalConnection(),
          dirs: { dbDir: dir, localDir: join(dir, "local"), remoteDir: join(dir, "remote") },
        };
      },
    ],
    [
      "rsync",
      () => ({ connection: sshd.ssh({ transport: "rsync" }), dirs: sshd.dirs(`${tag}-rsync-${++seq}`) }),
    ],
    ["scp", () => ({ connection: sshd.ssh({ transport: "scp" }), dirs: sshd.dirs(`${tag}-scp-${++seq}`) })],
  ];
}

/** Writes an output file and links beside it: to a file outside the folder, and to a folder. */
const LINKS = `#!/bin/bash
mkdir -p out
printf 'own %s' #x# > out/own.txt
ln -s /etc/hostname out/outside
ln -s .. out/up
echo ok #x#
`;

describe("links, owners and leftovers", () => {
  const cases = transports("links");
  for (const [label, make] of cases) {
    it(`${label}: a link comes back as a link (its target never read), files owned by this user; stale pull folders go`, async () => {
      const { connection, dirs } = make();
      const ds = new Dataset(undefined, {
        script: LINKS,
        name: "links",
        skip: false,
        verbose: 0,
        connection,
        ...dirs,
        runDir: "{name}",
        extraFilesRecv: ["out"],
      });
      ds.appendRuns([{ x: 1 }, { x: 2 }]);
      await ds.run();
      await ds.wait(wait);
      // A pull folder left by a process killed mid-fetch.
      const stale = join(dirs.localDir, ds.folder, ".fetch-0123456789ab");
      mkdirSync(join(stale, "runner-0"), { recursive: true });
      writeFileSync(join(stale, "runner-0", "big.part"), "x".repeat(1000));
      expect(await ds.fetchResults()).toEqual(["ok 1", "ok 2"]);
      expect(existsSync(stale)).toBe(false);
      for (const x of [1, 2]) {
        const out = join(dirs.localDir, `runner-${x - 1}`, "out");
        expect(readFileSync(join(out, "own.txt"), "utf8")).toBe(`own ${x}`);
        expect(lstatSync(join(out, "own.txt")).uid).toBe(process.getuid!());
        expect(lstatSync(join(out, "outside")).isSymbolicLink()).toBe(true);
        expect(readlinkSync(join(out, "outside"))).toBe("/etc/hostname");
        expect(lstatSync(join(out, "up")).isSymbolicLink()).toBe(true);
        expect(readlinkSync(join(out, "up"))).toBe("..");
      }
      await ds.close();
    });
  }

  it("a fetch cut short (the local disk full) leaves the runners unfetched: the next one brings results and files", async () => {
    const dir = join(root, `full-${++seq}`);
    const localDir = join(dir, "local");
    mkdirSync(localDir, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", localDir]);
    try {
      const ds = new Dataset(undefined, {
        script: "head -c 900k /dev/zero > big.bin\necho small #x# > small.txt\necho done #x#\n",
        name: "full",
        skip: false,
        verbose: 0,
        dbDir: dir,
        localDir,
        remoteDir: join(dir, "remote"),
        runDir: "{name}",
        extraFilesRecv: ["small.txt", "big.bin"],
      });
      ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
      await ds.run();
      await ds.wait(wait);
      await expect(ds.fetchResults()).rejects.toThrow(/no space left/);
      expect(ds.runners.map((r) => r.state)).toEqual(["completed", "completed", "completed"]);
      expect(ds.results).toEqual([undefined, undefined, undefined]);
      execFileSync("mount", ["-o", "remount,size=16m", localDir]);
      expect(await ds.fetchResults()).toEqual(["done 1", "done 2", "done 3"]);
      for (const x of [1, 2, 3]) {
        const mine = join(localDir, `runner-${x - 1}`);
        expect(readFileSync(join(mine, "small.txt"), "utf8")).toBe(`small ${x}\n`);
        expect(lstatSync(join(mine, "big.bin")).size).toBe(900 * 1024);
      }
      await ds.close();
    } finally {
      execFileSync("umount", [localDir]);
    }
  });
});

/** A runner's folder with what cannot come back: a FIFO, a file and a folder it may not read. */
const HOSTILE = `#!/bin/bash
mkdir -p out/closed
printf 'ok %s' #x# > out/ok.txt
mkfifo out/fifo
echo secret > out/secret && chmod 000 out/secret
chmod 000 out/closed
echo ok #x#
`;

describe("what cannot come back does not block the rest", () => {
  const cases = transports("hostile");
  for (const [label, make] of cases) {
    it(`${label}: a FIFO and unreadable files are named, every result and readable file arrives`, async () => {
      const { connection, dirs } = make();
      const logs: string[] = [];
      const ds = new Dataset(undefined, {
        script: HOSTILE,
        name: "hostile",
        skip: false,
        verbose: 1,
        logger: (m) => logs.push(m),
        connection,
        ...dirs,
        runDir: "{name}",
        extraFilesRecv: ["out"],
      });
      ds.appendRuns([{ x: 1 }, { x: 2 }]);
      await ds.run();
      await ds.wait({ ...wait, progress: false });
      expect(await ds.fetchResults()).toEqual(["ok 1", "ok 2"]);
      for (const x of [1, 2]) {
        const out = join(dirs.localDir, `runner-${x - 1}`, "out");
        expect(readFileSync(join(out, "ok.txt"), "utf8")).toBe(`ok ${x}`);
        expect(existsSync(join(out, "fifo"))).toBe(false);
      }
      const said = logs.find((l) => l.startsWith("output file(s) found but not brought back"));
      expect(said).toContain("runner-0: ");
      expect(said).toContain("out/fifo");
      // The ssh user is not root: what it may not read is named too (root reads everything).
      if (label !== "local") expect(said).toMatch(/out\/secret.*out\/closed|out\/closed.*out\/secret/);
      await ds.close();
    });
  }
});
