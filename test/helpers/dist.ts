/**
 * Child processes in these tests import the built package (dist/), like a user's script would.
 * ensureDist() builds it once when it is missing or older than the sources; parallel test files
 * share one build through a lock folder.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const DIST_INDEX = join(ROOT, "dist/index.js");

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function builtAt(): number {
  try {
    return Math.min(statSync(DIST_INDEX).mtimeMs, statSync(join(ROOT, "dist/remote/runtime.mjs")).mtimeMs);
  } catch {
    return 0;
  }
}

export async function ensureDist(): Promise<void> {
  const lock = join(ROOT, "node_modules/.rr-test-build.lock");
  for (;;) {
    if (builtAt() >= newestSource(join(ROOT, "src"))) return;
    try {
      mkdirSync(lock);
    } catch {
      // Another test file is building (or a build died: give up waiting after a while).
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {}
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      if (builtAt() >= newestSource(join(ROOT, "src"))) return;
      try {
        execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], {
          cwd: ROOT,
          stdio: "pipe",
        });
      } catch {
        // tsc still emits on type errors (work in progress elsewhere in the tree).
      }
      execFileSync(process.execPath, ["scripts/copy-assets.mjs"], { cwd: ROOT, stdio: "pipe" });
      if (builtAt() === 0) throw new Error("could not build dist/ (run npm run build)");
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}
