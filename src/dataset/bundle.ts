/**
 * Bundle a Dataset's function with what it imports into one ES module for Node >= 18 (esbuild), and
 * the normalised form of such a module that a Dataset's identity hashes.
 */
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import type { BuildFailure, Message, Metafile } from "esbuild";
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
  'import { fileURLToPath as __remoterunFileURLToPath } from "node:url";\n' +
  'import { dirname as __remoterunDirname } from "node:path";\n' +
  "const require = __remoterunCreateRequire(import.meta.url);\n" +
  // CommonJS code reads __filename/__dirname too: the bundle's own (esbuild's `define` replaces
  // only names no module declares).
  "const __remoterun_filename = __remoterunFileURLToPath(import.meta.url);\n" +
  "const __remoterun_dirname = __remoterunDirname(__remoterun_filename);";

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
      ...(entry.imports
        ? {
            banner: { js: REQUIRE_BANNER },
            define: { __filename: "__remoterun_filename", __dirname: "__remoterun_dirname" },
          }
        : {}),
      metafile: true,
    });
    refuseDriver(out.metafile, entry.folder, what, shown);
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

/**
 * A bundle that takes in the driver script itself (the function's module imports it, directly or
 * not) would run the driver's top-level code — its `new Dataset`, its `run()` — on the far side.
 */
function refuseDriver(meta: Metafile | undefined, folder: string, what: string, shown: unknown): void {
  const main = process.argv[1];
  if (!meta || !main) return;
  let driver: string;
  try {
    driver = realpathSync(main);
  } catch {
    return;
  }
  for (const input of Object.keys(meta.inputs)) {
    let file: string;
    try {
      file = realpathSync(resolve(folder, input));
    } catch {
      continue;
    }
    if (file === driver)
      throw new InvalidArgumentError(
        what,
        shown,
        "a function whose imports do not include the driver script",
        `its bundle would take in ${driver}, the script that is running, and run its top-level code (new Dataset, run()...) on the far side: move what the function needs from it into a module of its own`,
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
