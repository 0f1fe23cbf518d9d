/**
 * The README points readers at the generated API reference (docs/api, `npm run docs`), never at
 * source files the package does not ship; every relative link of the README and of the reference
 * leads to a file of the repository.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/dist.js";

/** Relative targets of the Markdown links of a file (no URLs, no in-page anchors). */
function relativeLinks(text: string): string[] {
  const noCode = text.replace(/```[\s\S]*?```/g, "");
  return [...noCode.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1].split("#")[0])
    .filter((t) => t !== "" && !/^[a-z]+:/i.test(t));
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
  );
}

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

describe("documentation links", () => {
  it("the README links to the API reference and to no source file", () => {
    const links = relativeLinks(readme);
    expect(links).toContain("docs/api/README.md");
    for (const l of links) {
      expect(l, `README link ${l}`).not.toMatch(/^(\.\/)?src\//);
      expect(existsSync(join(ROOT, l)), `README link ${l}`).toBe(true);
    }
    // Outside the development notes, no source path is named for readers to go and read.
    const forUsers = readme.slice(0, readme.indexOf("\n## Development"));
    expect(forUsers).not.toMatch(/`src\/[^`]*\.(ts|mjs)`/);
  });

  it("every relative link of the generated reference leads to a file", () => {
    const api = join(ROOT, "docs/api");
    const files = markdownFiles(api);
    expect(files.map((f) => relative(api, f))).toEqual(
      expect.arrayContaining(["README.md", "classes/Dataset.md", "interfaces/WaitOptions.md"]),
    );
    for (const f of files)
      for (const l of relativeLinks(readFileSync(f, "utf8")))
        expect(existsSync(resolve(dirname(f), l)), `${relative(ROOT, f)} links ${l}`).toBe(true);
    // The wait() options, progress included, are in the reference.
    expect(readFileSync(join(api, "interfaces/WaitOptions.md"), "utf8")).toContain("progress");
  });
});
