import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { localPath, remoteHomePath } from "./paths.js";

describe("localPath", () => {
  let home: string;
  const saved = process.env.HOME;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), "rr-home-"));
    process.env.HOME = home;
  });
  afterEach(() => {
    process.env.HOME = saved;
    rmSync(home, { recursive: true, force: true });
  });

  it("expands ~ and ~/… to the local home, resolves relative paths against the base", () => {
    expect(localPath("~", "p")).toBe(home);
    expect(localPath("~/", "p")).toBe(home);
    expect(localPath("~/a/b", "p")).toBe(join(home, "a/b"));
    expect(localPath("rel/x", "p", "/base")).toBe("/base/rel/x");
    expect(localPath("/abs/x", "p", "/base")).toBe("/abs/x");
    expect(localPath("a~b", "p", "/base")).toBe("/base/a~b");
    expect(localPath("rel", "p")).toBe(join(process.cwd(), "rel"));
  });

  it("refuses ~user/… and empty paths", () => {
    expect(() => localPath("~bob/x", "localDir")).toThrow(InvalidArgumentError);
    expect(() => localPath("~bob/x", "localDir")).toThrow(/localDir.*~user/);
    expect(() => localPath("", "dbDir")).toThrow(InvalidArgumentError);
  });
});

describe("remoteHomePath", () => {
  it("makes ~ and ~/… relative to the remote home, where ssh commands and transfers start", () => {
    expect(remoteHomePath("~", "r")).toBe(".");
    expect(remoteHomePath("~/", "r")).toBe(".");
    expect(remoteHomePath("~/x/y", "r")).toBe("x/y");
    expect(remoteHomePath("~//x", "r")).toBe("x");
    expect(remoteHomePath("x", "r")).toBe("x");
    expect(remoteHomePath("/abs", "r")).toBe("/abs");
    expect(() => remoteHomePath("~bob/x", "remoteDir")).toThrow(/remoteDir.*~user/);
  });
});
