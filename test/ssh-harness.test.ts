import { existsSync, readlinkSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SshdServer, sshRun, startSshd } from "./harness/sshd.js";

describe("sshd harness", () => {
  let a: SshdServer;
  let b: SshdServer;
  beforeAll(async () => {
    // two servers at once: distinct folders and ports, concurrent user creation is safe
    [a, b] = await Promise.all([startSshd(), startSshd()]);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("runs two private servers on distinct free ports with key-only auth", async () => {
    expect(a.port).not.toBe(b.port);
    expect(a.dir).not.toBe(b.dir);
    expect(a.port).toBeGreaterThan(1024);
    expect(readlinkSync(`/proc/${a.pid}/exe`)).toContain("sshd");
    const who = await sshRun(a, "id -un");
    expect(who.stdout.trim()).toBe(a.user);
    if (process.getuid?.() === 0) expect(a.user).toBe("rmtest");
  });

  it("gives the login user node on its non-interactive PATH", async () => {
    const r = await sshRun(b, "node --version");
    expect(r.stdout.trim()).toMatch(/^v\d+\./);
  });

  it("refuses a key that is not authorised", async () => {
    const stranger = await a.makeUnauthorizedKey();
    await expect(sshRun({ ...a, keyfile: stranger }, "true")).rejects.toThrow(/Permission denied/);
  });

  it("stop() kills the server by pid and removes its folder", async () => {
    const c = await startSshd({ checkNode: false });
    const { pid, dir } = c;
    await c.stop();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await c.stop(); // idempotent
  });
});
