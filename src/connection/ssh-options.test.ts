import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../shared/errors.js";
import { connect } from "./connect.js";
import { rsyncRsh } from "./rsync.js";
import { SshConnection } from "./ssh.js";
import { resolveSshOptions, sshBaseArgs, sshConfigValue, sshLabel } from "./ssh-options.js";

const dir = mkdtempSync(join(tmpdir(), "rr-opts-"));
const key = join(dir, "key with space%");
writeFileSync(key, "not really a key");
chmodSync(key, 0o600);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bad(options: unknown, argument: string) {
  try {
    resolveSshOptions(options);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as InvalidArgumentError).argument).toBe(argument);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe("resolveSshOptions", () => {
  it("applies documented defaults and returns a frozen copy", () => {
    const input = { host: "h" };
    const o = resolveSshOptions(input);
    expect(o).toMatchObject({
      host: "h",
      timeout: 10,
      maxRetries: 2,
      strictHostKeyChecking: true,
      node: "node",
      transport: "rsync",
      controlPersist: 60,
    });
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.sshOptions)).toBe(true);
    expect(input).toEqual({ host: "h" });
  });

  it("rejects bad values and names them", () => {
    expect(bad({ host: "" }, "host")).toContain('""');
    expect(bad({ host: "-oProxyCommand=x" }, "host")).toContain("-oProxyCommand=x");
    expect(bad({ host: "a b" }, "host")).toContain("a b");
    expect(bad({ host: "h", user: "-x" }, "user")).toContain("-x");
    expect(bad({ host: "h", port: 0 }, "port")).toContain("0");
    expect(bad({ host: "h", port: 65536 }, "port")).toContain("65536");
    expect(bad({ host: "h", port: 22.5 }, "port")).toContain("22.5");
    expect(bad({ host: "h", port: "22" }, "port")).toContain('"22"');
    expect(bad({ host: "h", keyfile: join(dir, "missing") }, "keyfile")).toContain("missing");
    expect(bad({ host: "h", keyfile: dir }, "keyfile")).toContain(dir);
    expect(bad({ host: "h", timeout: -1 }, "timeout")).toContain("-1");
    expect(bad({ host: "h", maxRetries: 1.5 }, "maxRetries")).toContain("1.5");
    expect(bad({ host: "h", transport: "ftp" }, "transport")).toContain("ftp");
    expect(bad({ host: "h", strictHostKeyChecking: "yes" }, "strictHostKeyChecking")).toContain("yes");
    expect(bad({ host: "h", sshOptions: ["-oProxyCommand=x"] }, "sshOptions[0]")).toContain("-oProxyCommand");
    expect(bad({ host: "h", sshOptions: { "Bad Key": "x" } }, "sshOptions key")).toContain("Bad Key");
    expect(bad({ host: "h", sshOptions: { A: "x\ny" } }, "sshOptions.A")).toContain("x\\ny");
    expect(bad({ host: "h", ignoreStderr: ["x"] }, "ignoreStderr[0]")).toContain("x");
    expect(bad({ host: "h", node: "node\nrm -rf" }, "node")).toContain("rm -rf");
    expect(bad({ host: "h", hots: 1 }, "connection option")).toContain("hots");
  });

  it("copies RegExps so caller state (lastIndex, g flag) cannot leak in", () => {
    const re = /noise/g;
    const o = resolveSshOptions({ host: "h", ignoreStderr: [re] });
    const mine = o.ignoreStderr[o.ignoreStderr.length - 1];
    expect(mine).not.toBe(re);
    expect(mine.flags).toBe("");
  });
});

describe("sshBaseArgs", () => {
  it("puts user options first (they win), then our defaults, then port/user/key/jump", () => {
    const o = resolveSshOptions({
      host: "h",
      user: "u",
      port: 2222,
      keyfile: key,
      proxyJump: "j@jump:22",
      knownHostsFile: "/k h/known",
      sshOptions: { Compression: true, ServerAliveInterval: 5 },
    });
    const a = sshBaseArgs(o, "/tmp/rr-x/cm");
    expect(a.slice(0, 4)).toEqual(["-o", "Compression=yes", "-o", "ServerAliveInterval=5"]);
    expect(a).toContain("BatchMode=yes");
    expect(a).toContain("ControlMaster=auto");
    expect(a).toContain("ControlPath=/tmp/rr-x/cm");
    expect(a).toContain("StrictHostKeyChecking=yes");
    expect(a).toContain('UserKnownHostsFile="/k h/known"');
    expect(a.join(" ")).toContain("-p 2222 -l u");
    expect(a.slice(a.indexOf("-i"), a.indexOf("-i") + 4)).toEqual([
      "-i",
      key.replace("%", "%%"),
      "-o",
      "IdentitiesOnly=yes",
    ]);
    expect(a.slice(-2)).toEqual(["-J", "j@jump:22"]);
    expect(sshLabel(o)).toBe("u@h:2222");
  });

  it("maps strictHostKeyChecking and omits what is not set (so ~/.ssh/config applies)", () => {
    expect(sshBaseArgs(resolveSshOptions({ host: "h", strictHostKeyChecking: false }), "/s")).toContain(
      "StrictHostKeyChecking=no",
    );
    const a = sshBaseArgs(resolveSshOptions({ host: "h", strictHostKeyChecking: "accept-new" }), "/s");
    expect(a).toContain("StrictHostKeyChecking=accept-new");
    for (const flag of ["-p", "-l", "-i", "-J"]) expect(a).not.toContain(flag);
  });

  it("sshConfigValue quotes for ssh's own parser and escapes % tokens", () => {
    expect(sshConfigValue("/plain/path")).toBe("/plain/path");
    expect(sshConfigValue("/a b/c")).toBe('"/a b/c"');
    expect(sshConfigValue('/a"b')).toBe('"/a\\"b"');
    expect(sshConfigValue("/100%")).toBe("/100%%");
  });
});

describe("configFile (-F)", () => {
  const cfg = join(dir, "ssh_config");
  writeFileSync(cfg, "Host jump\n  HostName 127.0.0.1\n");

  it("is resolved to an absolute path; a missing file, a folder, an odd path or a non-string is refused", () => {
    const rel = relative(process.cwd(), cfg);
    expect(resolveSshOptions({ host: "h", configFile: rel }).configFile).toBe(cfg);
    expect(bad({ host: "h", configFile: join(dir, "nope") }, "configFile")).toContain("nope");
    expect(bad({ host: "h", configFile: dir }, "configFile")).toContain(dir);
    expect(bad({ host: "h", configFile: "" }, "configFile")).toContain('""');
    expect(bad({ host: "h", configFile: 3 }, "configFile")).toContain("3");
    // ssh expands % in it and hands it unquoted to a shell for jump hops: such paths are refused
    for (const name of ["with space", "pct%h", "semi;colon", "dollar$x", "quote'"]) {
      const odd = join(dir, name);
      writeFileSync(odd, "");
      expect(bad({ host: "h", configFile: odd }, "configFile")).toMatch(/shell for ProxyJump/);
    }
  });

  it("comes first in every ssh's arguments, rsync's -e included, and only when set", () => {
    const input = { host: "h", configFile: cfg, proxyJump: "jump", sshOptions: ["Compression=yes"] };
    const copy = structuredClone(input);
    const o = resolveSshOptions(input);
    expect(input).toEqual(copy);
    const a = sshBaseArgs(o, "/s");
    expect(a.slice(0, 4)).toEqual(["-F", cfg, "-o", "Compression=yes"]);
    expect(a.slice(-2)).toEqual(["-J", "jump"]);
    expect(rsyncRsh({ sshArgs: a }).startsWith(`'ssh' '-F' '${cfg}' `)).toBe(true);
    expect(sshBaseArgs(resolveSshOptions({ host: "h" }), "/s")).not.toContain("-F");
  });

  it("is part of toJSON(), and connect() accepts the description back", () => {
    const c = new SshConnection({ host: "h", configFile: cfg, proxyJump: "jump" });
    const spec = c.toJSON();
    expect(spec).toMatchObject({ kind: "ssh", host: "h", configFile: cfg, proxyJump: "jump" });
    expect(new SshConnection({ host: "h" }).toJSON()).not.toHaveProperty("configFile");
    const again = connect(JSON.parse(JSON.stringify(spec))) as SshConnection;
    expect(again.sshArgs().slice(0, 2)).toEqual(["-F", cfg]);
  });
});

describe("~ in the path options", () => {
  it("keyfile, knownHostsFile and configFile starting with ~/ are under the local home", () => {
    const home = mkdtempSync(join(tmpdir(), "rr-home-"));
    const saved = process.env.HOME;
    try {
      process.env.HOME = home;
      for (const f of ["id_test", "known_hosts", "config"])
        writeFileSync(join(home, f), "x\n", { mode: 0o600 });
      const o = resolveSshOptions({
        host: "h",
        keyfile: "~/id_test",
        knownHostsFile: "~/known_hosts",
        configFile: "~/config",
      });
      expect(o.keyfile).toBe(join(home, "id_test"));
      expect(o.knownHostsFile).toBe(join(home, "known_hosts"));
      expect(o.configFile).toBe(join(home, "config"));
      // A file that does not exist is still named as given.
      expect(bad({ host: "h", keyfile: "~/missing" }, "keyfile")).toContain('"~/missing"');
    } finally {
      process.env.HOME = saved;
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("~user/… is refused with a clear error, not looked up as a relative folder named ~user", () => {
    for (const k of ["keyfile", "knownHostsFile", "configFile"])
      expect(bad({ host: "h", [k]: "~root/x" }, k)).toContain("`~user/…` is not expanded");
  });

  it("typos of option names are refused with a suggestion", () => {
    expect(bad({ host: "h", known_hosts_file: "x" }, "connection option")).toContain(
      "did you mean `knownHostsFile`?",
    );
  });
});
