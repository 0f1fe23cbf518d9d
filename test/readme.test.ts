/**
 * The README's runnable snippets (those under `<!-- readme-test: run -->`) are executed as a user
 * would run them — TypeScript stripped by esbuild, `remoterun` resolved to the built package — and
 * every `// → text` comment must appear in their output, in order.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_INDEX, ensureDist, ROOT } from "./helpers/dist.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const snippets = [...readme.matchAll(/<!-- readme-test: run -->\s*```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const scratch: string[] = [];

beforeAll(() => ensureDist());
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** The expected output lines: the text after `// →`, in order. */
function expectations(code: string): string[] {
  return [...code.matchAll(/\/\/ → (.*)$/gm)].map((m) => m[1].trim());
}

describe("README snippets", () => {
  it("there are runnable snippets to check", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(2);
  });

  snippets.forEach((code, i) => {
    it(`snippet ${i + 1} runs and prints what the README says`, async () => {
      const js = (await transform(code, { loader: "ts", format: "esm" })).code.replace(
        /from "remoterun"/g,
        `from ${JSON.stringify(pathToFileURL(DIST_INDEX).href)}`,
      );
      const dir = mkdtempSync(join(tmpdir(), "rr-readme-"));
      scratch.push(dir);
      writeFileSync(join(dir, "snippet.mjs"), js);
      const out = execFileSync(process.execPath, ["snippet.mjs"], {
        cwd: dir,
        encoding: "utf8",
        timeout: 60_000,
      });
      const lines = out.split("\n").map((l) => l.trim());
      let at = 0;
      for (const want of expectations(code)) {
        const found = lines.indexOf(want, at);
        expect(found, `"${want}" in output after line ${at}:\n${out}`).toBeGreaterThanOrEqual(0);
        at = found + 1;
      }
    });
  });
});
