/**
 * `~` and relative paths: `~/…` is the local home for localDir, dbDir, extraFilesSend and the
 * connect() files, the remote home for remoteDir over SSH (both transports); relative local paths
 * keep the meaning they had where they were given, whatever `process.chdir` comes later; and
 * runner identities hash the run args as given, so reopened Datasets find their runners.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../src/connection/index.js";
import { Dataset, InvalidArgumentError } from "../src/index.js";
import { defaultRunArgs } from "../src/runargs/index.js";
import { runnerIdentity } from "../src/runner/index.js";
import { sshTestbed } from "./helpers/ssh.js";

const sshd = sshTestbed("rr-home");

/**
 * Reads a file sent with extraFilesSend (into remoteDir, where runs start) and returns x + its text.
 * Written as source text so that the test runner does not rewrite its dynamic import.
 */
const withExtra = new Function(
  "args",
  'return import("node:fs/promises").then((fs) => fs.readFile("extra.txt", "utf8")).then((t) => args.x + ":" + t.trim());',
) as (args: { x: number }) => Promise<string>;

const savedHome = process.env.HOME;
const savedCwd = process.cwd();
let home: string;
let work: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "rr-home-local-"));
  work = mkdtempSync(join(tmpdir(), "rr-home-cwd-"));
  writeFileSync(join(home, "extra.txt"), "from-home\n");
  process.env.HOME = home;
  process.chdir(work);
});
afterAll(() => {
  process.chdir(savedCwd);
  process.env.HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const wait = { interval: 0.05, timeout: 60 };

describe("~ on a local connection", () => {
  it("localDir, dbDir, extraFilesSend and remoteDir under ~/ land in the home; no folder named ~", async () => {
    const ds = new Dataset(withExtra, {
      name: "tilde",
      skip: false,
      verbose: 0,
      dbDir: "~/db",
      localDir: "~/stage",
      remoteDir: "~/far",
      extraFilesSend: ["~/extra.txt"],
    });
    expect(ds.dbFile.startsWith(join(home, "db"))).toBe(true);
    expect(ds.extraFilesSend).toEqual([join(home, "extra.txt")]);
    ds.appendRuns([{ x: 1 }, { x: 2 }]);
    await ds.run();
    await ds.wait(wait);
    expect(await ds.fetchResults()).toEqual(["1:from-home", "2:from-home"]);
    expect(existsSync(join(home, "stage", ds.folder))).toBe(true);
    expect(existsSync(join(home, "far", ds.folder))).toBe(true);
    expect(existsSync(join(home, "far", "extra.txt"))).toBe(true);
    expect(readdirSync(join(home, "db")).some((f) => f.startsWith("tilde-"))).toBe(true);
    expect(existsSync(join(work, "~"))).toBe(false);
    await ds.close();
  });

  it("~user/… is refused for localDir, remoteDir and dbDir where given", () => {
    expect(() => new Dataset(withExtra, { name: "u1", dbDir: "~nobody/db" })).toThrow(InvalidArgumentError);
    expect(() => new Dataset(withExtra, { name: "u2", localDir: "~nobody/x" })).toThrow(/~user/);
    expect(() => new Dataset(withExtra, { name: "u3", remoteDir: "~nobody/x" })).toThrow(/~user/);
    expect(readdirSync(work)).toEqual([]);
  });
});

describe("relative local paths after process.chdir", () => {
  it("keep the folder they named where they were given (Dataset and appendRun levels)", async () => {
    const a = join(work, "a");
    const b = join(work, "b");
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, "extra.txt"), "from-home\n");
    process.chdir(a);
    const ds = new Dataset(withExtra, {
      name: "rel",
      skip: false,
      verbose: 0,
      dbDir: "db",
      localDir: "stage",
      remoteDir: "far",
      extraFilesSend: ["extra.txt"],
    });
    process.chdir(b);
    ds.appendRun({ x: 1 });
    ds.appendRun({ x: 2 }, { localDir: "stage-b", remoteDir: "far-b" }); // given in b: under b
    await ds.run();
    await ds.wait(wait);
    expect(await ds.fetchResults()).toEqual(["1:from-home", "2:from-home"]);
    expect(existsSync(join(a, "stage", ds.folder))).toBe(true);
    expect(existsSync(join(a, "far", ds.folder))).toBe(true);
    expect(existsSync(join(b, "stage-b", ds.folder))).toBe(true);
    expect(readdirSync(a).sort()).toEqual(["db", "extra.txt", "far", "stage"]);
    expect(readdirSync(b).sort()).toEqual(["far-b", "stage-b"]);
    // wipeLocal finds both staging folders from anywhere.
    process.chdir(work);
    expect(ds.wipeLocal().sort()).toEqual(
      [join(a, "stage", ds.folder), join(b, "stage-b", ds.folder)].sort(),
    );
    // Identity hashes the run args as given: the same relative names give the same runners,
    // whatever folder a Dataset is reopened from, and databases written before keep theirs.
    const id = runnerIdentity(
      { x: 1 },
      { ...defaultRunArgs(), localDir: "stage", remoteDir: "far" },
      ds.identity,
    );
    expect(ds.runners[0].identity).toBe(id);
    await ds.close();
    process.chdir(b);
    const again = new Dataset(withExtra, {
      name: "rel",
      verbose: 0,
      dbDir: join(a, "db"),
      localDir: "stage",
      remoteDir: "far",
    });
    expect(again.restored).toBe(true);
    again.appendRun({ x: 1 });
    expect(again.runners).toHaveLength(2); // a duplicate, not a new runner
    await again.close();
  });
});

describe("~ over SSH", () => {
  it("connect() reads keyfile, knownHostsFile and configFile from ~/…", async () => {
    const o = sshd.server.connectionOptions();
    mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
    copyFileSync(o.keyfile, join(home, ".ssh", "id_test"));
    copyFileSync(o.knownHostsFile, join(home, ".ssh", "known_hosts_test"));
    writeFileSync(join(home, ".ssh", "config_test"), "Host *\n  LogLevel ERROR\n", { mode: 0o600 });
    const c = connect({
      ...o,
      keyfile: "~/.ssh/id_test",
      knownHostsFile: "~/.ssh/known_hosts_test",
      configFile: "~/.ssh/config_test",
    });
    try {
      const r = await c.exec("echo connected");
      expect(r.stdout.trim()).toBe("connected");
    } finally {
      await c.close();
    }
  });

  it.each(["rsync", "scp"] as const)(
    "remoteDir ~/… is under the remote home with the %s transport: results come back, nothing in a folder named ~",
    async (transport) => {
      const connection = sshd.ssh({ transport });
      const { dbDir, localDir, remoteDir } = sshd.dirs(`tilde-${transport}`);
      const ds = new Dataset(withExtra, {
        name: `ssh-${transport}`,
        skip: false,
        verbose: 0,
        connection,
        dbDir,
        localDir,
        remoteDir: `~/${remoteDir}`,
        extraFilesSend: ["~/extra.txt"],
      });
      ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
      await ds.run();
      await ds.wait(wait);
      expect(await ds.fetchResults()).toEqual(["1:from-home", "2:from-home", "3:from-home"]);
      const check = await connection.exec(
        `test -d "$HOME"/${remoteDir}/${ds.folder} && test -f "$HOME"/${remoteDir}/extra.txt && echo under-home; test -e "$HOME/~" && echo tilde-folder; true`,
      );
      expect(check.stdout.trim()).toBe("under-home");
      expect(existsSync(join(work, "~"))).toBe(false);
      expect(await ds.wipeRemote()).toEqual([`${remoteDir}/${ds.folder}`]);
      const gone = await connection.exec(`test -e "$HOME"/${remoteDir}/${ds.folder} && echo left; true`);
      expect(gone.stdout.trim()).toBe("");
      await ds.close();
    },
  );
});
