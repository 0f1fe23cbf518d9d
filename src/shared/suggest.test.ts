import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { checkOptionKeys, editDistance, snakeToCamel, suggestionFor } from "./suggest.js";

describe("suggestions", () => {
  it("edit distance counts an adjacent swap as one edit", () => {
    expect(editDistance("froce", "force")).toBe(1);
    expect(editDistance("nmae", "name")).toBe(1);
    expect(editDistance("timout", "timeout")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("snake_case and kebab-case become camelCase", () => {
    expect(snakeToCamel("force_ignores_success")).toBe("forceIgnoresSuccess");
    expect(snakeToCamel("dry-run")).toBe("dryRun");
    expect(snakeToCamel("plain")).toBe("plain");
  });

  it("suggests only likely typos: short names need a closer match", () => {
    const names = ["name", "skip", "force", "localDir", "remoteDir", "timeout", "mem", "nodes"];
    expect(suggestionFor("remote_dir", names)).toBe("remoteDir");
    expect(suggestionFor("REMOTEDIR", names)).toBe("remoteDir");
    expect(suggestionFor("froce", names)).toBe("force");
    expect(suggestionFor("node", names)).toBe("nodes");
    expect(suggestionFor("time", names)).toBeUndefined();
    expect(suggestionFor("gpu", names)).toBeUndefined();
    expect(suggestionFor("me", names)).toBeUndefined();
    expect(suggestionFor("partition", names)).toBeUndefined();
  });

  it("checkOptionKeys passes custom run args and refuses typos, or every unknown key without run args", () => {
    const own = ["name", "quiet"];
    expect(() => checkOptionKeys("f", { name: 1, custom: 2 }, { own, runArgs: ["timeout"] })).not.toThrow();
    expect(() => checkOptionKeys("f", { qiuet: 1 }, { own, runArgs: ["timeout"] })).toThrow(
      /did you mean `quiet`\?/,
    );
    expect(() => checkOptionKeys("f", { custom: 1 }, { own, runArgs: false })).toThrow(InvalidArgumentError);
    expect(() => checkOptionKeys("f", { custom: 1 }, { own, runArgs: false })).toThrow(
      /one of `name`, `quiet`/,
    );
  });
});
