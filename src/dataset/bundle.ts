/**
 * Bundle a Dataset's function with what it imports into one ES module for Node >= 18 (esbuild), and
 * the normalised form of such a module that a Dataset's identity hashes.
 */
import type { BuildFailure, Message } from "esbuild";
import { InvalidArgumentError } from "../shared/errors.js";
import { esbuild } from "./lazy.js";

/** The entry module: its text, the folder its imports resolve from, whether it has any. */
export interface Entry {
  contents: string;
  folder: string;
  imports: boolean;
}

/**
 * CommonJS packages bundled into an ES module call `require` for Node's built-ins: give them one.
 * (esbuild's `__require` shim uses a `require` in scope when there is one.)
 */
const REQUIRE_BANNER =
  'import { createRequire as __remoterunCreateRequire } from "node:module";\n' +
  "const require = __remoterunCreateRequire(import.meta.url);";

/**
 * One self-contained ES module whose default export is the function. A failure is refused as an
 * InvalidArgumentError of `what` that shows `shown` (what the user gave) and esbuild's first error.
 */
export function bundle(entry: Entry, what: string, shown: unknown): string {
  try {
    const out = esbuild().buildSync({
      stdin: {
        contents: entry.contents,
        resolveDir: entry.folder,
        sourcefile: "remoterun-function.mjs",
        loader: "js",
      },
      // Paths esbuild writes into the bundle are relative to the module's folder, so the bundle
      // (and the Dataset's identity) do not depend on the working folder.
      absWorkingDir: entry.folder,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node18",
      write: false,
      sourcemap: false,
      logLevel: "silent",
      charset: "utf8",
      ...(entry.imports ? { banner: { js: REQUIRE_BANNER } } : {}),
    });
    return out.outputFiles[0].text;
  } catch (e) {
    const errors = (e as BuildFailure).errors;
    if (!Array.isArray(errors)) throw e;
    const more =
      errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
    throw new InvalidArgumentError(
      what,
      shown,
      "a function whose imports can be bundled",
      errors.length ? `${describeMessage(errors[0])}${more}` : "esbuild failed",
    );
  }
}

function describeMessage(m: Message): string {
  const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : "";
  return `${at}${m.text}`;
}

/** The names a module exports (with everything it re-exports), or undefined when esbuild cannot tell. */
export function exportsOf(file: string): string[] | undefined {
  try {
    const out = esbuild().buildSync({
      entryPoints: [file],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node18",
      write: false,
      metafile: true,
      logLevel: "silent",
      outdir: "out",
    });
    const outputs = Object.values(out.metafile?.outputs ?? {});
    return outputs.find((o) => o.entryPoint !== undefined)?.exports;
  } catch {
    return undefined; // the bundle itself reports what is wrong
  }
}

/**
 * What a Dataset's identity hashes of its function's module: the code with comments removed and
 * whitespace minified (identifiers kept), so that a comment or a formatting change is the same
 * function. (esbuild keeps some comments in a bundle, with parentheses around them: minifying
 * removes both.)
 */
export function normalisedSource(source: string): string {
  try {
    return esbuild().transformSync(source, {
      loader: "js",
      minifyWhitespace: true,
      legalComments: "none",
      charset: "utf8",
    }).code;
  } catch {
    return source; // not JavaScript (a database written by hand): hash it as it is
  }
}
