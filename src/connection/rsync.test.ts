import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rsyncQuote, rsyncRsh } from "./rsync.js";

describe("rsync -e quoting", () => {
  it("real rsync splits our -e string back into the exact argv", () => {
    const dir = mkdtempSync(join(tmpdir(), "rr-rsh-"));
    const dump = join(dir, "argv.json");
    // A stand-in for ssh that records its argv and fails (rsync then gives up).
    const fake = join(dir, "fake ssh's");
    writeFileSync(
      fake,
      `#!/usr/bin/env node\nrequire("fs").writeFileSync(${JSON.stringify(dump)}, JSON.stringify(process.argv.slice(2)));\nprocess.exit(255);\n`,
    );
    chmodSync(fake, 0o755);
    const args = [
      "-o",
      "ControlPath=/tmp/a b/cm",
      "-i",
      '/k/it\'s "quoted"',
      "-l",
      "u",
      "$(x) `y` ;|&",
      "tab\there",
    ];
    const rsh = [fake, ...args].map(rsyncQuote).join(" ");
    mkdirSync(join(dir, "src"));
    spawnSync("rsync", ["-e", rsh, `${join(dir, "src")}/`, "somehost:dest/"], { encoding: "utf8" });
    const argv = JSON.parse(readFileSync(dump, "utf8")) as string[];
    expect(argv.slice(0, args.length)).toEqual(args);
    expect(argv[args.length]).toBe("somehost");
    rmSync(dir, { recursive: true, force: true });
  });

  it("rsyncRsh starts with ssh and quotes every word", () => {
    expect(rsyncRsh({ sshArgs: ["-p", "22", "it's"] })).toBe("'ssh' '-p' '22' 'it''s'");
  });
});
