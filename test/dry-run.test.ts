/**
 * Dry runs of run() and `remoterun run --dry-run`, on localhost, with every built-in Computer and a
 * YAML one (nothing is submitted, so no scheduler needs to be installed), with chains and script
 * Datasets, over a real sshd, and through the CLI: the rendered files and commands are listed and
 * private, nothing reaches the far side, the database files and the runners stay as they were, and a
 * real run() afterwards works.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Computer } from "../src/computer/index.js";
import { Dataset } from "../src/index.js";
import { InvalidArgumentError } from "../src/shared/errors.js";
import { ensureDist, ROOT } from "./helpers/dist.js";
import { checkSubmissionFiles, databaseHashes, runnerStates } from "./helpers/dryrun.js";
import { sshTestbed } from "./helpers/ssh.js";
import { fromSource, SOURCES } from "./lifecycle/functions.js";

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function dirs(tag: string) {
  const tmp = mkdtempSync(join(tmpdir(), `rr-dry-${tag}-`));
  scratch.push(tmp);
  return { tmp, opts: { dbDir: tmp, localDir: join(tmp, "local"), remoteDir: join(tmp, "remote") } };
}

const double = (a: { x: number }) => a.x * 2;

describe("run({ dryRun: true }) on localhost", () => {
  it("renders the submission under localDir, sends and records nothing; a real run() afterwards works", async () => {
    const { tmp, opts } = dirs("local");
    const extra = join(tmp, "table.txt");
    writeFileSync(extra, "1 2 3\n");
    const ds = new Dataset(double, { name: "dl", skip: false, verbose: 0, extraFilesSend: [extra], ...opts });
    ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
    const db = databaseHashes(ds.dbFile);
    const states = runnerStates(ds);
    const launches = ds.connection.stats.launches;

    const r = await ds.run({ dryRun: true });
    expect(r.submitted).toEqual([]);
    expect(r.skipped).toEqual([]);
    expect(r.dryRun.runners).toEqual(["runner-0", "runner-1", "runner-2"]);
    expect(r.dryRun.submissions).toHaveLength(1);
    const s = r.dryRun.submissions[0];
    checkSubmissionFiles(s);
    expect(s).toMatchObject({
      dataset: "dl",
      runners: r.dryRun.runners,
      scheduler: undefined,
      jobScripts: [],
    });
    expect(s.dir).toBe(join(opts.localDir, ds.folder, `dry-run-${s.token}`));
    expect(s.transfer).toMatchObject({ localDir: opts.localDir, remoteDir: opts.remoteDir });
    // The master script, the batch with every runner's args, the function, the extra file beside the folder.
    expect(s.transfer.files).toEqual(
      expect.arrayContaining([
        `${ds.folder}/submit-${s.token}.sh`,
        `${ds.folder}/submit-${s.token}.json`,
        `${ds.folder}/runtime-${s.token}/function.mjs`,
        "table.txt",
      ]),
    );
    expect(readFileSync(join(s.transfer.copies, "table.txt"), "utf8")).toBe("1 2 3\n");
    const batch = readFileSync(join(s.transfer.copies, ds.folder, `submit-${s.token}.json`), "utf8");
    for (const n of r.dryRun.runners) expect(batch).toContain(n);
    expect(s.masterScript).toBe(join(s.transfer.copies, ds.folder, `submit-${s.token}.sh`));
    expect(s.commands).toEqual([expect.stringContaining(`nohup bash submit-${s.token}.sh`)]);
    const launch = readFileSync(s.launchScript!, "utf8");
    expect(launch).toContain(`cd -- ${join(opts.remoteDir, ds.folder)}`);
    expect(launch).toContain(`mkdir launch-${s.token}`);

    // Nothing reached the far side, nothing was recorded, no command ran.
    expect(existsSync(opts.remoteDir)).toBe(false);
    expect(ds.connection.stats.launches).toBe(launches);
    expect(databaseHashes(ds.dbFile)).toEqual(db);
    expect(runnerStates(ds)).toEqual(states);
    // The Dataset's local folder holds the dry-run folder only (no staged file of a submission).
    expect(readdirSync(join(opts.localDir, ds.folder))).toEqual([`dry-run-${s.token}`]);

    const real = await ds.run();
    expect(real.submitted).toEqual(r.dryRun.runners);
    expect(real.dryRun).toBeUndefined();
    await ds.wait({ interval: 0.1, timeout: 60 });
    await ds.fetchResults();
    expect(ds.results).toEqual([2, 4, 6]);
    expect(readdirSync(opts.remoteDir).sort()).toEqual([ds.folder, "table.txt"].sort());
    expect(readdirSync(join(opts.remoteDir, ds.folder)).filter((n) => n.startsWith("dry-run-"))).toEqual([]);

    // Afterwards the skip/force rules choose as run() would, still without a change.
    const after = runnerStates(ds);
    const db2 = databaseHashes(ds.dbFile);
    const again = await ds.run({ dryRun: true });
    expect(again.dryRun).toEqual({ runners: [], submissions: [] });
    expect(again.skipped).toEqual(r.dryRun.runners);
    const forced = await ds.run({ dryRun: true, force: true, forceIgnoresSuccess: true });
    expect(forced.dryRun.runners).toEqual(r.dryRun.runners);
    expect(forced.skipped).toEqual([]);
    checkSubmissionFiles(forced.dryRun.submissions[0]);
    expect(runnerStates(ds)).toEqual(after);
    expect(databaseHashes(ds.dbFile)).toEqual(db2);
    expect(ds.results).toEqual([2, 4, 6]);
    // The dry-run folders go with the rest of the local folder.
    expect(ds.wipeLocal()).toEqual([join(opts.localDir, ds.folder)]);
    expect(existsSync(s.dir)).toBe(false);
    await ds.close();
  });

  it("prints a summary: counts and the first names at verbose 1, everything at 2, nothing at 0", async () => {
    const { opts } = dirs("summary");
    const logs = new Map<number, string[]>();
    for (const verbose of [0, 1, 2]) {
      const lines: string[] = [];
      logs.set(verbose, lines);
      const ds = new Dataset(double, {
        name: `sum${verbose}`,
        skip: false,
        verbose,
        logger: (m) => lines.push(m),
        ...opts,
      });
      ds.appendRuns(
        Array.from({ length: 12 }, (_, x) => ({ x })),
        { quiet: true },
      );
      lines.length = 0;
      const r = await ds.run({ dryRun: true });
      const text = lines.join("\n");
      if (verbose === 0) expect(lines).toEqual([]);
      else {
        expect(text).toContain(`dry run of sum${verbose}: 12 runner(s) would be submitted`);
        expect(text).toContain(r.dryRun.submissions[0].dir);
        expect(text).toContain(r.dryRun.submissions[0].launchScript);
        expect(text).toContain("nothing was transferred, submitted or recorded");
      }
      if (verbose === 1) {
        expect(text).toContain("runner-0, runner-1, runner-2, runner-3, runner-4, … (12 in all)");
        expect(text).not.toContain("runner-11");
        expect(lines.length).toBeLessThan(10);
      }
      if (verbose === 2) {
        expect(text).toContain("runner-10, runner-11");
        for (const f of r.dryRun.submissions[0].transfer.files) expect(text).toContain(f);
      }
      await ds.close();
    }
  });

  it("dryRun is an option of run(), not a run arg: checked, suggested when misspelt, never stored", async () => {
    const { opts } = dirs("keys");
    const lines: string[] = [];
    const ds = new Dataset(double, {
      name: "keys",
      skip: false,
      verbose: 1,
      logger: (m) => lines.push(m),
      ...opts,
    });
    ds.appendRun({ x: 1 });
    const db = databaseHashes(ds.dbFile);
    await expect(ds.run({ dryRun: "yes" } as never)).rejects.toThrow(InvalidArgumentError);
    await expect(ds.run({ dryRun: "yes" } as never)).rejects.toThrow(/dryRun/);
    await expect(ds.run({ dryrun: true })).rejects.toThrow(/did you mean `dryRun`/);
    const r = await ds.run({ dryRun: true, timeout: 30 });
    expect(r.dryRun.runners).toEqual(["runner-0"]);
    expect(lines.join("\n")).not.toMatch(/not used by remoterun/);
    expect(ds.runArgs).not.toHaveProperty("dryRun");
    expect(ds.temporaryRunArgs).toEqual({});
    expect(databaseHashes(ds.dbFile)).toEqual(db);
    // run({ dryRun: false }) is a plain run.
    const real = await ds.run({ dryRun: false });
    expect(real.submitted).toEqual(["runner-0"]);
    expect(real.dryRun).toBeUndefined();
    await ds.wait({ interval: 0.1, timeout: 60 });
    await ds.close();
  });

  it("dryRun anywhere but run() is refused before anything runs, never taken for a run arg", async () => {
    const { opts } = dirs("where");
    expect(() => new Dataset(double, { name: "where", skip: false, ...opts, dryRun: true } as never)).toThrow(
      /dryRun.*option of the call itself, run\(\{ dryRun: true \}\)/,
    );
    const ds = new Dataset(double, { name: "where", skip: false, verbose: 0, ...opts });
    expect(() => ds.appendRun({ x: 1 }, { dryRun: true } as never)).toThrow(InvalidArgumentError);
    ds.appendRun({ x: 2 });
    // Set by hand on the run args of the Dataset or of a runner: refused at run(), which submits nothing.
    (ds.runArgs as Record<string, unknown>).dryRun = true;
    await expect(ds.run()).rejects.toThrow(/dryRun/);
    delete (ds.runArgs as Record<string, unknown>).dryRun;
    (ds.runners[0].runArgs as Record<string, unknown>).dryRun = true;
    await expect(ds.run()).rejects.toThrow(/runner-0.*dryRun/);
    expect(ds.runners.map((r) => r.state)).toEqual(["created"]);
    await ds.close();
  });

  it("runners of another localDir: one submission each, in its own dry-run folder", async () => {
    const { tmp, opts } = dirs("split");
    const ds = new Dataset(double, { name: "split", skip: false, verbose: 0, ...opts });
    ds.appendRun({ x: 1 });
    ds.appendRun({ x: 2 }, { localDir: join(tmp, "other") });
    const r = await ds.run({ dryRun: true });
    expect(r.dryRun.submissions.map((s) => [s.runners, s.transfer.localDir])).toEqual([
      [["runner-0"], opts.localDir],
      [["runner-1"], join(tmp, "other")],
    ]);
    const [a, b] = r.dryRun.submissions;
    expect(a.token).not.toBe(b.token);
    expect(b.dir).toBe(join(tmp, "other", ds.folder, `dry-run-${b.token}`));
    for (const s of r.dryRun.submissions) checkSubmissionFiles(s);
    await ds.close();
  });

  it("leaves appends that are still pending (lazy) unwritten", async () => {
    const { opts } = dirs("lazy");
    const ds = new Dataset(double, { name: "lazy", skip: false, verbose: 0, ...opts });
    ds.appendRun({ x: 1 });
    ds.appendRun({ x: 2 }, { lazy: true });
    const db = databaseHashes(ds.dbFile);
    const r = await ds.run({ dryRun: true });
    expect(r.dryRun.runners).toEqual(["runner-0", "runner-1"]);
    expect(databaseHashes(ds.dbFile)).toEqual(db);
    ds.finishAppend();
    expect(databaseHashes(ds.dbFile)).not.toEqual(db);
    await ds.close();
  });
});

describe("dry runs with every built-in Computer and a YAML one (no scheduler needed)", () => {
  const yaml = Computer.fromYAML(
    [
      "name: site",
      "submitter: sbatch",
      "template: |",
      "  #!/bin/bash",
      "  #SBATCH --partition=#queue:default=short#",
      "  #SBATCH --time=#time:format=time:default={timeout}#",
    ].join("\n"),
  );
  const cases: [string, Computer, RegExp, string][] = [
    [
      "slurm",
      Computer.slurm(),
      /^\(set -o pipefail; sbatch --parsable --job-name=c-slurm-0 .*--array=0-2 /,
      "#SBATCH --time=00:02:00",
    ],
    ["pbs", Computer.pbs(), /qsub .*-J 0-2/, "#PBS -l walltime=00:02:00"],
    ["torque", Computer.pbs({ flavour: "torque" }), /qsub .*-t 0-2/, "#PBS -l walltime=00:02:00"],
    ["sge", Computer.sge(), /qsub .*-t 1-3/, "#$ -l h_rt=00:02:00"],
    ["lsf", Computer.lsf(), /bsub .*c-lsf-0\[1-3\]/, "#BSUB -W 2"],
    ["yaml", yaml, /sbatch .*--array=0-2 /, "#SBATCH --partition=short"],
  ];
  it.each(cases)("%s: the job script and its submit command", async (tag, computer, command, directive) => {
    const { opts } = dirs(tag);
    const ds = new Dataset(double, {
      name: `c-${tag}`,
      skip: false,
      verbose: 0,
      computer,
      timeout: 120,
      ...opts,
    });
    ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
    const db = databaseHashes(ds.dbFile);
    const states = runnerStates(ds);
    const r = await ds.run({ dryRun: true });
    const s = r.dryRun.submissions[0];
    checkSubmissionFiles(s);
    expect(s.scheduler).toBe(computer.name);
    expect(s.commands).toHaveLength(1);
    expect(s.commands[0]).toMatch(command);
    expect(s.commands[0]).toContain(`job-${s.token}-0.sh`);
    expect(s.jobScripts).toEqual([join(s.transfer.copies, ds.folder, `job-${s.token}-0.sh`)]);
    expect(s.masterScript).toBeUndefined();
    const job = readFileSync(s.jobScripts[0], "utf8");
    expect(job.startsWith("#!/bin/bash\n")).toBe(true);
    expect(job).toContain(directive);
    expect(readFileSync(s.launchScript!, "utf8")).toContain(`id=$( ${s.commands[0]} ) || exit $?`);
    expect(existsSync(opts.remoteDir)).toBe(false);
    expect(databaseHashes(ds.dbFile)).toEqual(db);
    expect(runnerStates(ds)).toEqual(states);
    await ds.close();
  });

  it("a template error stops the dry run before anything is written", async () => {
    const { opts } = dirs("tplerr");
    const strict = Computer.fromYAML(
      "name: strict\nsubmitter: sbatch\ntemplate: |\n  #!/bin/bash\n  #SBATCH -A #account#\n",
    );
    const ds = new Dataset(double, { name: "tplerr", skip: false, verbose: 0, computer: strict, ...opts });
    ds.appendRun({ x: 1 });
    await expect(ds.run({ dryRun: true })).rejects.toThrow(/account/);
    expect(existsSync(opts.localDir)).toBe(false);
    const r = await ds.run({ dryRun: true, account: "proj1" });
    expect(readFileSync(r.dryRun.submissions[0].jobScripts[0], "utf8")).toContain("#SBATCH -A proj1");
    await ds.close();
  });
});

describe("dry runs of chains and script Datasets", () => {
  function chain(tag: string, computer?: Computer) {
    const { opts } = dirs(tag);
    const common = { skip: false, verbose: 0, ...opts, ...(computer ? { computer } : {}) };
    const up = new Dataset(double, { name: `${tag}-up`, ...common });
    const down = new Dataset(
      (_a: { y: number }, ctx: { upstream?: unknown }) => (ctx.upstream as number) + 1,
      { name: `${tag}-down`, ...common },
    );
    up.setDownstream(down as unknown as Dataset);
    up.appendRuns([{ x: 1 }, { x: 2 }]);
    down.appendRuns([{ y: 1 }, { y: 2 }]);
    return { up, down, opts };
  }

  it("without a scheduler: the downstream Dataset is rendered too, started by the upstream's master", async () => {
    const { up, down, opts } = chain("chain");
    const dbs = [databaseHashes(up.dbFile), databaseHashes(down.dbFile)];
    const states = [runnerStates(up), runnerStates(down)];
    const r = await up.run({ dryRun: true });
    expect(r.dryRun.submissions.map((s) => s.dataset)).toEqual(["chain-up", "chain-down"]);
    const [a, b] = r.dryRun.submissions;
    for (const s of [a, b]) checkSubmissionFiles(s);
    expect(b.token).toBe(a.token);
    expect(b.runners).toEqual(["runner-0", "runner-1"]);
    expect(b.launchScript).toBeUndefined();
    expect(b.commands).toEqual([]);
    expect(b.dir).toBe(join(opts.localDir, down.folder, `dry-run-${a.token}`));
    expect(readFileSync(a.masterScript!, "utf8")).toContain(`../${down.folder}/submit-${a.token}.sh`);
    const batch = readFileSync(join(b.transfer.copies, down.folder, `submit-${b.token}.json`), "utf8");
    expect(batch).toContain(`../${up.folder}/runner-0.result.json`);
    expect(existsSync(opts.remoteDir)).toBe(false);
    expect([databaseHashes(up.dbFile), databaseHashes(down.dbFile)]).toEqual(dbs);
    expect([runnerStates(up), runnerStates(down)]).toEqual(states);

    await up.run();
    await down.wait({ interval: 0.1, timeout: 60 });
    await down.fetchResults();
    expect(down.results).toEqual([3, 5]);
    await up.close();
    await down.close();
  });

  it("with Slurm: the downstream jobs depend on the upstream jobs (ids stood in for)", async () => {
    const { up, down, opts } = chain("chsl", Computer.slurm());
    const dbs = [databaseHashes(up.dbFile), databaseHashes(down.dbFile)];
    const states = [runnerStates(up), runnerStates(down)];
    const r = await up.run({ dryRun: true });
    const [a, b] = r.dryRun.submissions;
    expect([a.dataset, b.dataset]).toEqual(["chsl-up", "chsl-down"]);
    for (const s of [a, b]) checkSubmissionFiles(s);
    expect(a.commands[0]).not.toContain("--dependency");
    expect(b.commands).toHaveLength(1);
    expect(b.commands[0]).toContain("--dependency=aftercorr:chsl-up.job0");
    expect(b.launchScript).toBeDefined();
    expect(existsSync(opts.remoteDir)).toBe(false);
    expect([databaseHashes(up.dbFile), databaseHashes(down.dbFile)]).toEqual(dbs);
    expect([runnerStates(up), runnerStates(down)]).toEqual(states);
    await up.close();
    await down.close();
  });

  it("a script Dataset: every runner's script rendered with its args, with and without a scheduler", async () => {
    for (const computer of [undefined, Computer.sge()]) {
      const { opts } = dirs("script");
      const ds = new Dataset(undefined, {
        script: "echo value #v#\n",
        name: `script-${computer ? "sge" : "direct"}`,
        skip: false,
        verbose: 0,
        ...(computer ? { computer } : {}),
        ...opts,
      });
      ds.appendRuns([{ v: "a b" }, { v: "c" }]);
      const db = databaseHashes(ds.dbFile);
      const states = runnerStates(ds);
      const r = await ds.run({ dryRun: true });
      const s = r.dryRun.submissions[0];
      checkSubmissionFiles(s);
      expect(runnerStates(ds)).toEqual(states);
      expect(readFileSync(join(s.transfer.copies, ds.folder, "runner-0.sh"), "utf8")).toContain(
        "echo value 'a b'",
      );
      expect(readFileSync(join(s.transfer.copies, ds.folder, "runner-1.sh"), "utf8")).toContain(
        "echo value c",
      );
      if (computer) expect(s.commands[0]).toMatch(/qsub/);
      else expect(s.commands[0]).toContain(`submit-${s.token}.sh`);
      expect(existsSync(opts.remoteDir)).toBe(false);
      expect(databaseHashes(ds.dbFile)).toEqual(db);
      if (!computer) {
        await ds.run();
        await ds.wait({ interval: 0.1, timeout: 60 });
        await ds.fetchResults();
        expect(ds.results.map((x) => String(x).trim())).toEqual(["value a b", "value c"]);
      }
      await ds.close();
    }
  });
});

// --------------------------------------------------------------------------------------------- SSH

const sshd = sshTestbed("rr-dry");

describe("run({ dryRun: true }) over a real sshd", () => {
  it("contacts nothing, creates no remote file, records nothing; a real run() afterwards works", async () => {
    const connection = sshd.ssh();
    const opts = sshd.dirs("ssh");
    const ds = new Dataset(double, { name: "dssh", skip: false, verbose: 0, connection, ...opts });
    ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }, { x: 4 }]);
    const db = databaseHashes(ds.dbFile);
    const states = runnerStates(ds);
    const stats = { ...connection.stats };
    const r = await ds.run({ dryRun: true });
    expect(connection.stats).toEqual(stats);
    const s = r.dryRun.submissions[0];
    checkSubmissionFiles(s);
    expect(s.connection).toBe(connection.label);
    expect(s.transfer.remoteDir).toBe(opts.remoteDir);
    expect(readFileSync(s.launchScript!, "utf8")).toContain(`cd -- ${opts.remoteDir}/${ds.folder}`);
    const probe = await connection.exec(`test -e ${opts.remoteDir} && echo there || echo absent`);
    expect(probe.stdout.trim()).toBe("absent");
    expect(databaseHashes(ds.dbFile)).toEqual(db);
    expect(runnerStates(ds)).toEqual(states);

    const real = await ds.run();
    expect(real.submitted).toEqual(r.dryRun.runners);
    await ds.wait({ interval: 0.1, timeout: 60 });
    await ds.fetchResults();
    expect(ds.results).toEqual([2, 4, 6, 8]);
    const listing = await connection.exec(`ls ${opts.remoteDir}/${ds.folder}`);
    expect(listing.stdout).toContain(`submit-${ds.runners[0].token}.sh`);
    expect(listing.stdout).not.toContain("dry-run-");
    await ds.close();
  });
});

// --------------------------------------------------------------------------------------------- CLI

const MAIN = join(ROOT, "dist/cli/main.js");
beforeAll(async () => {
  await ensureDist();
}, 120_000);

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("remoterun run --dry-run", () => {
  it("prints the summary and the paths, changes nothing; --verbose lists everything; a real run works", async () => {
    const { tmp, opts } = dirs("cli");
    const ds = new Dataset(fromSource(SOURCES.double), {
      name: "dcli",
      skip: false,
      logger: () => {},
      ...opts,
    });
    ds.appendRuns(Array.from({ length: 8 }, (_, x) => ({ x })));
    await ds.close();
    const db = databaseHashes(ds.dbFile);
    const dbName = `${basename(ds.dbFile)}.json`;

    const r = await cli(["run", "--dry-run", dbName], tmp);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("dry run of dcli: 8 runner(s) would be submitted: runner-0, runner-1");
    expect(r.stdout).toContain("… (8 in all)");
    expect(r.stdout).not.toContain("runner-7");
    expect(r.stdout).toContain("nothing was transferred, submitted or recorded");
    const launch = /launch script: (\S+)/.exec(r.stdout)?.[1];
    expect(launch).toBeDefined();
    expect(launch!.startsWith(join(opts.localDir, ds.folder, "dry-run-"))).toBe(true);
    expect(readFileSync(launch!, "utf8")).toContain("remoterun_launch");
    expect(existsSync(opts.remoteDir)).toBe(false);
    expect(databaseHashes(ds.dbFile)).toEqual(db);

    const v = await cli(["--verbose", "run", "-n", dbName], tmp);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain("runner-6, runner-7");
    expect(v.stdout.match(/dry run of dcli/g)).toHaveLength(1);
    expect(v.stdout).toContain("function.mjs");
    expect(databaseHashes(ds.dbFile)).toEqual(db);
    const status = await cli(["status", "--json", dbName], tmp);
    expect(JSON.parse(status.stdout).counts).toEqual({ created: 8 });

    const real = await cli(["run", dbName], tmp);
    expect(real.code).toBe(0);
    expect(real.stdout).toContain("submitted 8 runner(s)");
    const wait = await cli(["wait", "--interval", "0.1", "--timeout", "30", dbName], tmp);
    expect(wait.code).toBe(0);
  });
});
