// Copies the plain-JavaScript remote runtime into dist/ so the built package can ship it to remotes.
import { cpSync, mkdirSync, readdirSync } from "node:fs";

mkdirSync("dist/remote", { recursive: true });
for (const f of readdirSync("src/remote")) {
  if (f.endsWith(".mjs")) cpSync(`src/remote/${f}`, `dist/remote/${f}`);
}

// The CLI entry point is run directly (`remoterun` on PATH or ./dist/cli/main.js).
import { chmodSync, existsSync } from "node:fs";

if (existsSync("dist/cli/main.js")) chmodSync("dist/cli/main.js", 0o755);
