// Copies the plain-JavaScript remote runtime into dist/ so the built package can ship it to remotes.
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { buildSync } from "esbuild";

mkdirSync("dist/remote", { recursive: true });
for (const f of readdirSync("src/remote")) {
  if (f.endsWith(".mjs")) cpSync(`src/remote/${f}`, `dist/remote/${f}`);
}

// The far side has no node_modules: the YAML serializer's library travels as one module (the same
// options as yamlBundle() in src/dataset/serializer.ts, which bundles it when running from sources).
buildSync({
  stdin: { contents: 'export { parse, stringify } from "yaml";', resolveDir: process.cwd() },
  bundle: true,
  format: "esm",
  // The package's plain ES module build (its "node" build requires node:process through CommonJS).
  platform: "neutral",
  target: "node18",
  minify: true,
  legalComments: "inline",
  outfile: "dist/remote/yaml.mjs",
});

// The CLI entry point is run directly (`remoterun` on PATH or ./dist/cli/main.js).
if (existsSync("dist/cli/main.js")) chmodSync("dist/cli/main.js", 0o755);
