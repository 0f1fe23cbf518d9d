import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CommandError, InvalidArgumentError } from "../shared/errors.js";
import { LocalConnection } from "./local.js";

const dir = mkdtempSync(join(tmpdir(), "rr-local-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("LocalConnection", () => {
  it("exec: exit status decides, stderr alone never fails", async () => {
    const c = new LocalConnection();
    expect(await c.exec("echo noise >&2; echo ok")).toEqual({
      stdout: "ok\n",
      stderr: "noise\n",
      exitCode: 0,
    });
    await expect(c.exec("exit 3")).rejects.toBeInstanceOf(CommandError);
    expect((await c.exec("exit 3", { allowFailure: true })).exitCode).toBe(3);
  });

  it("push/pull copy relative paths, skip missing files on pull, refuse escaping paths", async () => {
    const c = new LocalConnection();
    writeFileSync(join(dir, "a b"), "A");
    await c.push(dir, join(dir, "remote/deep"), ["a b"]);
    await c.pull(join(dir, "remote/deep"), join(dir, "back"), ["a b", "missing"]);
    expect(readFileSync(join(dir, "back/a b"), "utf8")).toBe("A");
    await expect(c.push(dir, join(dir, "r"), ["../x"])).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("testConnection reports this node and no clock offset", async () => {
    const r = await new LocalConnection().testConnection();
    expect(r.node?.version).toBe(process.version);
    expect(r.clockOffsetMs).toBe(0);
    expect(r.host).toBe("localhost");
  });
});
