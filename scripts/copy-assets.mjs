// Copies the plain-JavaScript remote runtime into dist/ so the built package can ship it to remotes.
import { cpSync, mkdirSync, readdirSync } from "node:fs";

mkdirSync("dist/remote", { recursive: true });
for (const f of readdirSync("src/remote")) {
  if (f.endsWith(".mjs")) cpSync(`src/remote/${f}`, `dist/remote/${f}`);
}
