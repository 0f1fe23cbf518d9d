/**
 * Every options object of the public API refuses typos and remotemanager snake_case spellings of
 * its options and known run args with "did you mean", before anything is written; custom run args
 * still pass. At run(), run args nobody reads are named once; `results` read too early says so once.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Computer } from "../src/computer/index.js";
import { connect } from "../src/connection/index.js";
import { Dataset, InvalidArgumentError } from "../src/index.js";

const echo = (args: { x: number }) => args.x * 2;

let tmp: string;
const cwd = process.cwd();
const datasets: Dataset<{ x: number }, number>[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "rr-opts-"));
  process.chdir(tmp);
});
afterAll(async () => {
  for (const ds of datasets) await ds.close().catch(() => {});
  process.chdir(cwd);
  rmSync(tmp, { recursive: true, force: true });
});

let seq = 0;
function dataset(options: Record<string, unknown> = {}): Dataset<{ x: number }, number> {
  const dir = join(tmp, `ds${++seq}`);
  const ds = new Dataset(echo, {
    name: `ds${seq}`,
    verbose: 0,
    dbDir: dir,
    localDir: join(dir, "local"),
    remoteDir: join(dir, "remote"),
    ...options,
  });
  datasets.push(ds);
  return ds;
}

/** The error a call throws (it must throw an InvalidArgumentError). */
async function refusal(f: () => unknown): Promise<InvalidArgumentError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return e as InvalidArgumentError;
  }
  throw new Error("expected an InvalidArgumentError, nothing was thrown");
}

const slurm = Computer.slurm();
type Call = (key: string) => unknown;
/** [call, typo, what it must suggest] */
const TABLE: [string, Call, string, string][] = [];
const add = (call: string, f: Call, pairs: [string, string][]) => {
  for (const [typo, meant] of pairs) TABLE.push([call, f, typo, meant]);
};

add("new Dataset", (k) => dataset({ [k]: 1 }), [
  ["nmae", "name"],
  ["remote_dir", "remoteDir"],
  ["local_dir", "localDir"],
  ["run_dir", "runDir"],
  ["db_dir", "dbDir"],
  ["extra_files_send", "extraFilesSend"],
  ["force_ignores_success", "forceIgnoresSuccess"],
  ["froce", "force"],
  ["verbos", "verbose"],
  ["conection", "connection"],
  ["asynchronus", "asynchronous"],
  ["LocalDir", "localDir"],
  ["runners_per_job", "runnersPerJob"],
]);
add("new Dataset with a Computer", (k) => dataset({ computer: slurm, [k]: 1 }), [
  ["cpus_per_task", "cpusPerTask"],
  ["partiton", "partition"],
  ["avoid_nodes", "avoidNodes"],
]);
add("appendRun", (k) => dataset().appendRun({ x: 1 }, { [k]: true }), [
  ["qiuet", "quiet"],
  ["lazzy", "lazy"],
  ["froce", "force"],
  ["skpi", "skip"],
  ["remote_dir", "remoteDir"],
  ["max_processes", "maxProcesses"],
]);
add("appendRun with a Computer", (k) => dataset({ computer: slurm }).appendRun({ x: 1 }, { [k]: 1 }), [
  ["tasks_per_node", "tasksPerNode"],
  ["acount", "account"],
]);
add("appendRuns", (k) => dataset().appendRuns([{ x: 1 }], { [k]: true }), [
  ["qiuet", "quiet"],
  ["force_ignores_success", "forceIgnoresSuccess"],
  ["local_dir", "localDir"],
]);
add("run", (k) => dataset().run({ [k]: true }), [
  ["froce", "force"],
  ["force_ignores_success", "forceIgnoresSuccess"],
  ["remote_dir", "remoteDir"],
  ["timout", "timeout"],
  ["asynchronous_", "asynchronous"],
]);
add("run with a Computer", (k) => dataset({ computer: slurm }).run({ [k]: 1 }), [["qeue", "queue"]]);
add("wait", (k) => dataset().wait({ [k]: 1 }), [
  ["timout", "timeout"],
  ["intervall", "interval"],
  ["time_out", "timeout"],
]);
add("retryFailed", (k) => dataset().retryFailed({ [k]: true }), [
  ["dry_run", "dryRun"],
  ["dryrun", "dryRun"],
  ["froce", "force"],
]);
for (const op of ["resetRuns", "wipeRuns", "wipeLocal", "wipeRemote", "hardReset"] as const) {
  add(op, (k) => dataset()[op]({ [k]: true } as never), [
    ["dry_run", "dryRun"],
    ["dryRnu", "dryRun"],
  ]);
}
add("removeRun", (k) => dataset().removeRun(0, { [k]: true } as never), [["dry_run", "dryRun"]]);
add("Dataset.open", (k) => Dataset.open(openable(), { [k]: 1 } as never), [
  ["conection", "connection"],
  ["verbos", "verbose"],
  ["loger", "logger"],
]);
add("connect (ssh)", (k) => connect({ host: "example.invalid", [k]: "x" } as never), [
  ["keyfle", "keyfile"],
  ["known_hosts_file", "knownHostsFile"],
  ["config_file", "configFile"],
  ["proxy_jump", "proxyJump"],
  ["strict_host_key_checking", "strictHostKeyChecking"],
  ["prot", "port"],
]);
add("connect (local)", (k) => connect({ kind: "local", [k]: "node" } as never), [
  ["nod", "node"],
  ["command_timeout", "commandTimeout"],
]);

let openableFile: string | undefined;
/** A database file Dataset.open can read. */
function openable(): string {
  if (!openableFile) {
    const ds = dataset();
    ds.save();
    openableFile = `${ds.dbFile}.json`;
  }
  return openableFile;
}

describe("option typos and snake_case spellings", () => {
  it.each(TABLE.map(([call, f, typo, meant]) => ({ call, f, typo, meant })))(
    "$call refuses `$typo`: did you mean `$meant`?",
    async ({ f, typo, meant }) => {
      const e = await refusal(() => f(typo));
      expect(e.message).toContain(`did you mean \`${meant}\`?`);
      expect(e.message).toContain(typo);
    },
  );

  it("covers every options object of the public API", () => {
    const calls = new Set(TABLE.map(([call]) => call.replace(/ \(.*\)| with a Computer/, "")));
    for (const c of [
      "new Dataset",
      "appendRun",
      "appendRuns",
      "run",
      "wait",
      "retryFailed",
      "resetRuns",
      "removeRun",
      "wipeRuns",
      "wipeLocal",
      "wipeRemote",
      "hardReset",
      "Dataset.open",
      "connect",
    ])
      expect(calls).toContain(c);
  });

  it("fetchResults, which has no options, refuses any key", async () => {
    const ds = dataset();
    const e = await refusal(() => ds.fetchResults({ timeout: 1 } as never));
    expect(e.message).toContain("timeout");
    expect(e.message).toContain("fetchResults");
  });

  it("calls without run args refuse every unknown key, with or without a suggestion", async () => {
    const ds = dataset();
    for (const f of [
      () => ds.wait({ force: true } as never),
      () => ds.wipeRuns({ force: true } as never),
      () => Dataset.open(openable(), { remoteDir: "x" } as never),
    ]) {
      const e = await refusal(f);
      expect(e.message).not.toContain("did you mean");
    }
    // appendRuns names each runner itself.
    expect((await refusal(() => ds.appendRuns([{ x: 1 }], { name: "a" } as never))).message).toContain(
      "name",
    );
  });

  it("a refused new Dataset writes nothing: no database, no folder", async () => {
    const dir = join(tmp, "refused");
    await refusal(() => new Dataset(echo, { name: "refused", dbDir: dir, remote_dir: "r" }));
    await refusal(() => new Dataset(echo, { name: "refused", dbDir: dir, nmae: "x" }));
    expect(readdirSync(tmp)).not.toContain("refused");
    expect(readdirSync(tmp).some((f) => f.includes("refused"))).toBe(false);
  });

  it("refused appends and runs change nothing", async () => {
    const ds = dataset();
    ds.appendRun({ x: 1 });
    await refusal(() => ds.appendRun({ x: 2 }, { froce: true }));
    await refusal(() => ds.appendRuns([{ x: 3 }, { x: 4 }], { local_dir: "l" }));
    expect(ds.runners.map((r) => r.args.x)).toEqual([1]);
    await refusal(() => ds.run({ froce: true }));
    expect(ds.runners[0].state).toBe("created");
  });

  it("custom run args (scheduler resources, own flags) and exact placeholders are still accepted", async () => {
    const ds = dataset({ myResource: "big", computer: slurm, partition: "short", cpusPerTask: 2 });
    expect(ds.runArgs).toMatchObject({ myResource: "big", partition: "short", cpusPerTask: 2 });
    const r = ds.appendRun({ x: 1 }, { gpuModel: "a100", qos: "high" });
    expect(r.runArgs).toMatchObject({ gpuModel: "a100", qos: "high" });
    const plain = dataset({ sampleSet: 3 });
    plain.appendRun({ x: 2 }, { label: "l" });
    expect(plain.runArgs.sampleSet).toBe(3);
  });
});

describe("run args nobody reads", () => {
  it("are named once per Dataset at run() (two runs, one warning)", async () => {
    const out: string[] = [];
    const ds = dataset({ verbose: 1, logger: (m: string) => out.push(m), colour: "blue" });
    ds.appendRun({ x: 1 }, { flavour: "mint" });
    await ds.run({ asynchronous: false });
    await ds.wait({ interval: 0.05, timeout: 60 });
    ds.appendRun({ x: 2 }, { flavour: "mint" });
    await ds.run();
    await ds.wait({ interval: 0.05, timeout: 60 });
    await ds.fetchResults();
    expect(ds.results).toEqual([2, 4]);
    const warnings = out.filter((m) => m.includes("not used by remoterun"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/run arg\(s\) (colour, flavour|flavour, colour) are not used/);
    expect(warnings[0]).not.toMatch(/localDir|remoteDir|asynchronous/);
    // A later run() with nothing left to submit still names a new misspelt key of its own, once.
    await ds.run({ colour2: "red" });
    await ds.run({ colour2: "red" });
    const later = out.filter((m) => m.includes("not used by remoterun")).slice(1);
    expect(later).toHaveLength(1);
    expect(later[0]).toContain("run arg(s) colour2 are not used");
  });

  it("are not named when the Computer's template reads them (placeholders and their links)", async () => {
    const out: string[] = [];
    const computer = new Computer({
      name: "tagged",
      submitter: "bash",
      template: "#!/bin/bash\n# tag=#tag:default={team}:optional=true#",
    });
    const ds = dataset({ computer, verbose: 1, logger: (m: string) => out.push(m), tag: "t", team: "a" });
    ds.appendRun({ x: 3 }, { stray: 1 });
    await ds.run();
    await ds.wait({ interval: 0.05, timeout: 60 });
    const warnings = out.filter((m) => m.includes("not used by remoterun"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("run arg(s) stray are not used");
    expect(warnings[0]).toContain("tagged");
  });

  it("are not named at verbose 0", async () => {
    const out: string[] = [];
    const ds = dataset({ verbose: 0, logger: (m: string) => out.push(m), colour: "blue" });
    ds.appendRun({ x: 1 });
    await ds.run();
    await ds.wait({ interval: 0.05, timeout: 60 });
    expect(out.filter((m) => m.includes("not used"))).toEqual([]);
  });
});

describe("results read before they are fetched", () => {
  it("say so once per condition: running, then finished but not fetched; nothing once fetched", async () => {
    const out: string[] = [];
    const ds = dataset({ verbose: 1, logger: (m: string) => out.push(m) });
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    expect(ds.results).toEqual([undefined, undefined]);
    expect(out.filter((m) => m.includes("fetch"))).toEqual([]); // nothing submitted: nothing to say
    await ds.run();
    out.length = 0;
    expect(ds.results).toEqual([undefined, undefined]);
    expect(ds.errors).toEqual([undefined, undefined]);
    expect(ds.results).toEqual([undefined, undefined]);
    expect(out).toEqual([
      "2 runner(s) are still running (as last checked): call wait() then fetchResults() (their results read undefined until then)",
    ]);
    await ds.wait({ interval: 0.05, timeout: 60 });
    out.length = 0;
    expect(ds.results).toEqual([undefined, undefined]);
    void ds.errors;
    expect(out).toEqual([
      "2 runner(s) finished but their results are not fetched: call fetchResults() (their results read undefined until then)",
    ]);
    out.length = 0;
    expect(await ds.fetchResults()).toEqual([2, 4]);
    expect(ds.results).toEqual([2, 4]);
    expect(out.filter((m) => m.includes("fetch"))).toEqual([]);
  });
});
