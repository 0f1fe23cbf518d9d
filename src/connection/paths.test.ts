import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../shared/errors.js";
import { checkRelativeFiles, nulList, remotePath } from "./paths.js";

describe("paths", () => {
  it("accepts hostile but relative names", () => {
    expect(() => checkRelativeFiles(["a b/c'd", "-x", "new\nline", "é/🧪", ".hidden", "a..b"])).not.toThrow();
  });

  it("rejects absolute, '..', NUL and empty entries, naming the index", () => {
    for (const [bad, idx] of [
      [["ok", "/etc/passwd"], 1],
      [["a/../b"], 0],
      [[".."], 0],
      [["x\0y"], 0],
      [[""], 0],
    ] as const) {
      try {
        checkRelativeFiles(bad);
        throw new Error("accepted");
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidArgumentError);
        expect((e as InvalidArgumentError).argument).toBe(`files[${idx}]`);
      }
    }
  });

  it("remotePath drops a leading ~/ (commands start in the home)", () => {
    expect(remotePath("~/runs/a")).toBe("runs/a");
    expect(remotePath("~")).toBe(".");
    expect(remotePath("/abs")).toBe("/abs");
    expect(remotePath("~user/x")).toBe("~user/x");
    expect(() => remotePath("")).toThrow(InvalidArgumentError);
  });

  it("nulList separates with NUL and prefixes", () => {
    expect(nulList(["a", "b\nc"], "./").toString()).toBe("./a\0./b\nc\0");
  });
});
