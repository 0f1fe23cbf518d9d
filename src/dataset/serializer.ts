import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import * as YAML from "yaml";
import { SERIALIZERS, type Serializer, serializer } from "../remote/serial.mjs";

export { SERIALIZERS };
export type SerializerName = (typeof SERIALIZERS)[number];

const cache = new Map<string, Serializer>();

/** The driver's serialiser of this name (YAML from the `yaml` package). */
export function driverSerializer(name: SerializerName): Serializer {
  let s = cache.get(name);
  if (!s) {
    s = serializer(name, YAML);
    cache.set(name, s);
  }
  return s;
}

/** The file name of the YAML library shipped beside the runtime (built by scripts/copy-assets.mjs). */
export const YAML_BUNDLE = "yaml.mjs";
let bundle: string | undefined;

/**
 * The `yaml` package as one ES module for the far side (which has no node_modules): the copy built
 * into dist/remote/, or, running from the sources, bundled now with esbuild (once per process).
 */
export function yamlBundle(): string {
  if (bundle !== undefined) return bundle;
  const built = fileURLToPath(new URL(`../remote/${YAML_BUNDLE}`, import.meta.url));
  if (existsSync(built)) bundle = readFileSync(built, "utf8");
  else {
    const esbuild = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
    bundle = esbuild.buildSync(YAML_BUNDLE_OPTIONS).outputFiles?.[0]?.text ?? "";
  }
  return bundle;
}

/** How the YAML bundle is built (here and by scripts/copy-assets.mjs). */
export const YAML_BUNDLE_OPTIONS = {
  stdin: {
    contents: 'export { parse, stringify } from "yaml";',
    resolveDir: fileURLToPath(new URL("../..", import.meta.url)),
  },
  bundle: true,
  format: "esm",
  // The package's plain ES module build (its "node" build requires node:process through CommonJS).
  platform: "neutral",
  target: "node18",
  minify: true,
  write: false,
  legalComments: "inline",
} as const;
