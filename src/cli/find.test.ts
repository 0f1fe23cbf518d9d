import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "./exit-codes.js";
import { findDatabases, parseDbFileName, resolveDbFile } from "./find.js";

const root = mkdtempSync(join(tmpdir(), "rr-cli-find-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function touch(...parts: string[]): string {
  const f = join(root, ...parts);
  mkdirSync(join(f, ".."), { recursive: true });
  writeFileSync(f, "{}");
  return f;
}

// A project: two Datasets here, one below, one deep; the same name twice in two folders;
// databases where nothing should look (dependencies, VCS, hidden, a Dataset's own folder).
const alpha = touch("alpha-0123abcd.remoterun.json");
touch("alpha-0123abcd.remoterun.journal");
const sweep = touch("sweep.v2-89abcdef.remoterun.json");
const nested = touch("sub", "nested-11111111.remoterun.json");
const twinA = touch("a", "twin-22222222.remoterun.json");
const twinB = touch("b", "twin-33333333.remoterun.json");
const deep = touch("l1", "l2", "l3", "l4", "deep-44444444.remoterun.json");
const tooDeep = touch("l1", "l2", "l3", "l4", "l5", "gone-55555555.remoterun.json");
touch("node_modules", "pkg", "dep-66666666.remoterun.json");
touch(".git", "x-77777777.remoterun.json");
touch(".cache", "y-88888888.remoterun.json");
touch("local", "alpha-0123abcd", "runtime-x", "z-99999999.remoterun.json");
const atTop = touch("local", "alpha-0123abcd", "top-aaaaaaaa.remoterun.json");
touch("notes.remoterun.json"); // no id: not a database name
mkdirSync(join(root, "empty"));

describe("finding databases", () => {
  it("parses <name>-<id>.remoterun.json (names may hold '-' and '.')", () => {
    expect(parseDbFileName("/x/my-data.v1-0123abcd.remoterun.json")).toEqual({
      name: "my-data.v1",
      id: "0123abcd",
    });
    expect(parseDbFileName("a-0123abcd.remoterun.journal")).toBeUndefined();
    expect(parseDbFileName("a-xyz.remoterun.json")).toBeUndefined();
  });

  it("walks down to the depth, skipping node_modules, .git, hidden folders and a Dataset folder's subfolders", () => {
    const files = findDatabases(root).map((d) => d.file);
    expect(files).toEqual([alpha, twinA, twinB, deep, atTop, sweep, nested].sort());
    expect(files).not.toContain(tooDeep);
    expect(findDatabases(root, 5).map((d) => d.file)).toContain(tooDeep);
    expect(findDatabases(root, 0).map((d) => d.file)).toEqual([alpha, sweep]);
    expect(findDatabases(join(root, "empty"))).toEqual([]);
    expect(findDatabases(join(root, "missing"))).toEqual([]);
  });
});

describe("resolveDbFile", () => {
  it("a Dataset's name or <name>-<id>, here or below", () => {
    expect(resolveDbFile("alpha", root)).toBe(alpha);
    expect(resolveDbFile("alpha-0123abcd", root)).toBe(alpha);
    expect(resolveDbFile("sweep.v2", root)).toBe(sweep);
    expect(resolveDbFile("nested", root)).toBe(nested);
    expect(resolveDbFile("deep", root)).toBe(deep);
    expect(resolveDbFile("twin-33333333", root)).toBe(twinB);
  });

  it("a name that several databases have is an error listing them", () => {
    const e = (() => {
      try {
        resolveDbFile("twin", root);
      } catch (err) {
        return err as Error;
      }
    })();
    expect(e).toBeInstanceOf(UsageError);
    expect(e?.message).toContain("2 Datasets match twin");
    expect(e?.message).toContain(join("a", "twin-22222222.remoterun.json"));
    expect(e?.message).toContain(join("b", "twin-33333333.remoterun.json"));
    expect(e?.message).toContain("<name>-<id>");
  });

  it("a name nobody has is an error pointing to remoterun list", () => {
    expect(() => resolveDbFile("nobody", root)).toThrow(/no Dataset named nobody .*remoterun list/);
    expect(() => resolveDbFile("gone", root)).toThrow(UsageError);
  });

  it("paths as before: the file, without .json, or a folder with one database", () => {
    expect(resolveDbFile(alpha, "/")).toBe(alpha);
    expect(resolveDbFile(alpha.replace(/\.json$/, ""), "/")).toBe(alpha);
    expect(resolveDbFile("sub/nested-11111111.remoterun.json", root)).toBe(nested);
    expect(resolveDbFile("./sub", root)).toBe(nested);
    // A word that is no Dataset's name but a folder here: the folder.
    expect(resolveDbFile("sub", root)).toBe(nested);
    expect(() => resolveDbFile("./empty", root)).toThrow(/no \*\.remoterun\.json database/);
  });

  it("a word that is both a Dataset's name and a folder with another database: an error naming both", () => {
    const dir = join(root, "clash");
    const own = touch("clash", "inner-bbbbbbbb.remoterun.json");
    const named = touch("clash", "deeper", "clash-cccccccc.remoterun.json");
    void named;
    expect(() => resolveDbFile("clash", root)).toThrow(
      /clash is both the Dataset .* and the folder \.\/clash/,
    );
    expect(resolveDbFile("./clash", root)).toBe(own);
    expect(resolveDbFile("clash-cccccccc", root)).toBe(named);
    rmSync(dir, { recursive: true });
  });

  it("without an argument: the only database here; none here names those below", () => {
    expect(() => resolveDbFile(undefined, root)).toThrow(/3 databases in the current folder/);
    expect(resolveDbFile(undefined, join(root, "sub"))).toBe(nested);
    expect(() => resolveDbFile(undefined, join(root, "l1"))).toThrow(/below it: deep \(l2.*deep-44444444/);
    expect(() => resolveDbFile(undefined, join(root, "empty"))).toThrow(
      /no \*\.remoterun\.json database in the current folder; give/,
    );
  });
});
