import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveDbFile, useColor } from "./context.js";
import { UsageError } from "./exit-codes.js";

const dir = mkdtempSync(join(tmpdir(), "rr-cli-ctx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveDbFile", () => {
  const one = join(dir, "one");
  const two = join(dir, "two");
  const none = join(dir, "none");
  mkdirSync(one);
  mkdirSync(two);
  mkdirSync(none);
  writeFileSync(join(one, "a-123.remoterun.json"), "{}");
  writeFileSync(join(one, "a-123.remoterun.journal"), "");
  writeFileSync(join(two, "a-1.remoterun.json"), "{}");
  writeFileSync(join(two, "b-2.remoterun.json"), "{}");

  it("takes the path with or without .json, relative to the working directory, or a folder", () => {
    const file = join(one, "a-123.remoterun.json");
    expect(resolveDbFile(file, "/")).toBe(file);
    expect(resolveDbFile(join(one, "a-123.remoterun"), "/")).toBe(file);
    expect(resolveDbFile("a-123.remoterun.json", one)).toBe(file);
    expect(resolveDbFile("one", dir)).toBe(file);
  });

  it("without a path: the only database of the working directory", () => {
    expect(resolveDbFile(undefined, one)).toBe(join(one, "a-123.remoterun.json"));
    expect(() => resolveDbFile(undefined, none)).toThrow(/no \*\.remoterun\.json database/);
    expect(() => resolveDbFile(undefined, two)).toThrow(/2 databases .*a-1\.remoterun\.json, b-2/);
  });

  it("a missing or foreign file is a usage error", () => {
    expect(() => resolveDbFile("missing-1.remoterun.json", one)).toThrow(UsageError);
    expect(() => resolveDbFile("package.json", one)).toThrow(/not a remoterun database/);
  });
});

describe("useColor", () => {
  it("only on a terminal, never with NO_COLOR or --no-color; FORCE_COLOR forces", () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(useColor({ isTTY: true }, {}, false)).toBe(false);
    expect(useColor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(useColor({ isTTY: true }, { FORCE_COLOR: "0" })).toBe(true);
  });
});
