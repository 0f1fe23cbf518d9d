import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname } from "node:path";
import { fileURLToPath } from "node:url";
import type * as ESTree from "estree";
import { InvalidArgumentError } from "../shared/errors.js";
import { localPath } from "../shared/paths.js";
import { checkOptionKeys } from "../shared/suggest.js";
import {
  type AnyFunction,
  analyseFunction,
  destructuringForm,
  type ParamFacts,
  type Use,
  unshippable,
} from "./analyse.js";
import { bundle, type Entry, exportsOf } from "./bundle.js";
import { type Binding, type Captured, captureFrom, originOf } from "./capture.js";
import { acorn, esbuild } from "./lazy.js";

/** The Dataset's function: called with its runner's args and a context. */
export type Fn<Args, Result> = (
  args: Args,
  context: { name: string; upstream?: unknown },
) => Result | Promise<Result>;

/**
 * A Dataset's function given as a module of the user's project and the name of its export: the
 * module is bundled with its imports (relative modules and packages from node_modules).
 */
export interface FunctionModule {
  /** The module: a path (relative to the working folder, or absolute) or a file: URL. */
  module: string | URL;
  /** The export that is the function (default "default"). */
  export?: string;
}

/** What ships: one ES module whose default export is the function, and its parameter facts. */
export interface ShippedFunction {
  source: string;
  /** Undefined when the function was not analysed (a module's export, a stored bundle). */
  params?: ParamFacts;
  /** The identity a database recorded for this source, when it differs from today's hash of it. */
  identity?: string;
}

/** Marks a function given as module source (Dataset.open), not as a JavaScript function. */
const FROM_SOURCE = Symbol("remoterun.functionSource");
type SourceCarrier = { [FROM_SOURCE]: { source: string; identity?: string } };

/**
 * Stands for a function already turned into module source (what a database records). `identity`
 * keeps the identity a database recorded when it was hashed another way (before normalisation).
 */
export function fromSource<Args, Result>(source: string, identity?: string): Fn<Args, Result> {
  const carrier: SourceCarrier = {
    [FROM_SOURCE]: identity === undefined ? { source } : { source, identity },
  };
  return carrier as unknown as Fn<Args, Result>;
}

/** The module source of a function, or the source a fromSource() stand-in carries. */
export function sourceOf(fn: unknown): string {
  return shippedFunction(fn).source;
}

/** Helpers TypeScript tooling (esbuild's keep-names, as tsx uses it) injects into functions. */
const TOOLING_HELPERS: Record<string, string> = {
  __defProp: "var __defProp = Object.defineProperty;",
  __name:
    'var __name = (target, value) => Object.defineProperty(target, "name", { value, configurable: true });',
};

const COMMONJS_ONLY = new Set(["require", "module", "exports", "__dirname", "__filename"]);

const SELF_CONTAINED =
  "a self-contained function: one that uses only its args, its own variables, globals of Node, and imports and top-level functions of the module that defines it";
const MODULE_HINT =
  "Give what varies in the args, or put the function in a module of your project and give " +
  '{ module: "./work.ts", export: "work" } instead of the function: the module is bundled with its imports';

/** Turn the Dataset's function (a function, a { module, export }, or a stored bundle) into what ships. */
export function shippedFunction(fn: unknown): ShippedFunction {
  const carried = fn as Partial<SourceCarrier> | null;
  const stored = carried && typeof carried === "object" ? carried[FROM_SOURCE] : undefined;
  if (stored) return { ...stored };
  if (fn && typeof fn === "object" && !Array.isArray(fn) && Object.hasOwn(fn, "module"))
    return moduleFunction(fn as FunctionModule);
  if (typeof fn !== "function") {
    throw new InvalidArgumentError(
      "function",
      fn,
      "a function, a { module, export } naming one (or the `script` option for a script Dataset)",
    );
  }
  return inlineFunction(fn as AnyFunction);
}

function inlineFunction(fn: AnyFunction): ShippedFunction {
  const src = Function.prototype.toString.call(fn);
  const native = unshippable(fn, src);
  if (native) throw new InvalidArgumentError("function", fn, "a function written in JavaScript", native);
  const facts = analyseFunction(src);
  if (!facts)
    throw new InvalidArgumentError(
      "function",
      fn,
      "a function whose source can be sent on its own (arrow, function or method)",
    );
  const problems = [...facts.problems];
  if (facts.params.shown.length > 2) {
    problems.push(
      `it declares ${facts.params.shown.length} parameters, but it is called with one args object (and a context): write ${destructuringForm(facts.params, facts.params.shown)}`,
    );
  }
  const names = [...facts.free.keys()];
  // The inspector is asked only when some free variable may come from the defining module.
  const captured: Captured | undefined = names.some((n) => !Object.hasOwn(TOOLING_HELPERS, n))
    ? captureOf(fn, src, names)
    : undefined;
  const imports: string[] = [];
  const declarations: { source: string; at: number; requires?: boolean }[] = [];
  const helpers: string[] = [];
  const bad: string[] = [];
  let self: string | undefined;
  const place = (name: string, uses: Use[] | undefined) =>
    uses?.length
      ? ` at ${uses
          .slice(0, 3)
          .map((u) => `${u.line}:${u.column} (${u.snippet})`)
          .join(", ")}${uses.length > 3 ? ` and ${uses.length - 3} more` : ""}`
      : ` (used by ${captured?.usedBy.get(name) ?? "a top-level function"}, which the function uses)`;
  const seen = new Set(names);
  for (const name of captured?.bindings.keys() ?? []) seen.add(name);
  for (const name of seen) {
    const binding: Binding | undefined = captured?.bindings.get(name);
    if (binding?.kind === "self") self = name;
    else if (binding?.kind === "import") imports.push(binding.statement);
    else if (binding?.kind === "declaration") {
      // One declaration may bind several names (`const { a, b } = require("x")`).
      if (!declarations.some((d) => d.at === binding.at)) declarations.push(binding);
    } else if (Object.hasOwn(TOOLING_HELPERS, name)) helpers.push(TOOLING_HELPERS[name]);
    else if (facts.typeofOnly.has(name) && (!binding || (binding.kind === "none" && binding.undeclared))) {
      // `typeof x` of a name declared nowhere is "undefined" on the far side too.
    } else {
      const why = COMMONJS_ONLY.has(name)
        ? "exists only in CommonJS modules; the function runs in an ES module (use import, or import.meta.url)"
        : (binding?.why ??
          (captured
            ? "is not defined (not a global of Node)"
            : "is not a global of Node, and the module defining the function could not be read to import it from"));
      bad.push(`${name}${place(name, facts.free.get(name))} ${why}`);
    }
  }
  if (bad.length)
    problems.push(
      `it uses ${bad.length === 1 ? "a variable" : "variables"} it does not define:\n${bad.map((b) => `  - ${b}`).join("\n")}\n${MODULE_HINT}`,
    );
  if (problems.length)
    throw new InvalidArgumentError(
      "function",
      fn,
      SELF_CONTAINED,
      problems.length === 1 ? problems[0] : problems.map((p) => `\n- ${p}`).join(""),
    );
  declarations.sort((a, b) => a.at - b.at);
  const entry: Entry = {
    contents: [
      ...imports,
      ...helpers,
      ...declarations.map((d) => d.source),
      ...(self
        ? [`const ${self} = (${facts.expression});`, `export default ${self};`]
        : [`export default (${facts.expression});`]),
      "",
    ].join("\n"),
    folder: captured?.folder ?? process.cwd(),
    imports: imports.length > 0 || declarations.some((d) => d.requires),
  };
  return { source: bundle(entry, "function", fn), params: facts.params };
}

function captureOf(fn: AnyFunction, src: string, names: string[]): Captured | undefined {
  try {
    const origin = originOf(fn);
    return origin && captureFrom(origin, src, names);
  } catch {
    return undefined; // a module that cannot be read: its variables are refused by name
  }
}

function moduleFunction(spec: FunctionModule): ShippedFunction {
  checkOptionKeys("function module", spec, { own: ["module", "export"], runArgs: false });
  const given = spec.module;
  let file: string;
  try {
    file =
      given instanceof URL || (typeof given === "string" && given.startsWith("file:"))
        ? fileURLToPath(given)
        : typeof given === "string" && given !== ""
          ? localPath(given, "function module") // `~/…` and relative paths, as other local paths
          : "";
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    file = "";
  }
  if (!file)
    throw new InvalidArgumentError(
      "function module",
      given,
      "a module path (relative to the working folder, or absolute) or a file: URL",
    );
  if (!existsSync(file) || !statSync(file).isFile())
    throw new InvalidArgumentError(
      "function module",
      given,
      "an existing module file",
      `${file} does not exist`,
    );
  const name = spec.export ?? "default";
  if (typeof name !== "string" || name === "")
    throw new InvalidArgumentError("function export", name, "the name of an export of the module");
  const notFunction = staticNotFunction(file, name);
  if (notFunction)
    throw new InvalidArgumentError(
      "function export",
      name,
      `the name of an export of ${file} that is a function`,
      notFunction,
    );
  const entry: Entry = {
    contents: `export { ${name === "default" ? "default" : JSON.stringify(name)} as default } from ${JSON.stringify(file)};\n`,
    folder: dirname(file),
    imports: true,
  };
  const label = { module: given instanceof URL ? given.href : given, export: name };
  try {
    // The first line names the module and export as the user gave them, for the far side's
    // messages (a comment: the Dataset's identity ignores it).
    return {
      source: `${FUNCTION_LABEL}${JSON.stringify(label)}\n${bundle(entry, "function module", label)}`,
    };
  } catch (e) {
    // Only a failed bundle pays for a second look at what the module exports.
    const exported = exportsOf(file);
    if (exported && !exported.includes(name))
      throw new InvalidArgumentError(
        "function export",
        name,
        `an export of ${file}`,
        exported.length ? `it exports ${exported.join(", ")}` : "it exports nothing",
      );
    throw e;
  }
}

/** Starts the first line of a module function's bundle; src/remote/worker.mjs reads it. */
const FUNCTION_LABEL = "// remoterun-function ";

const LOADERS: Record<string, "ts" | "tsx" | "jsx" | "js"> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".jsx": "jsx",
};

/**
 * Why the export `name` of the module `file` is statically known not to be a function
 * (`export const name = 3`, an object or array literal, a string...), or undefined.
 */
function staticNotFunction(file: string, name: string): string | undefined {
  let program: ESTree.Program;
  try {
    const code = esbuild().transformSync(readFileSync(file, "utf8"), {
      loader: LOADERS[extname(file)] ?? "js",
      logLevel: "silent",
    }).code;
    program = acorn().parse(code, {
      ecmaVersion: "latest",
      sourceType: "module",
    }) as unknown as ESTree.Program;
  } catch {
    return undefined; // the bundle says what is wrong
  }
  const valueKind = (e: ESTree.Node | null | undefined): string | undefined => {
    if (!e) return undefined;
    if (e.type === "Literal")
      return e.value === null
        ? "null"
        : typeof e.value === "object"
          ? "a regular expression"
          : `a ${typeof e.value}`;
    if (e.type === "TemplateLiteral") return "a string";
    if (e.type === "ObjectExpression") return "an object";
    if (e.type === "ArrayExpression") return "an array";
    if (e.type === "UnaryExpression" && e.operator === "-" && e.argument.type === "Literal")
      return "a number";
    return undefined;
  };
  // Top-level consts with their values' kinds, and the local name the export stands for.
  const consts = new Map<string, string | undefined>();
  let local: string | undefined;
  for (const s of program.body) {
    if (name === "default" && s.type === "ExportDefaultDeclaration") {
      const kind = valueKind(s.declaration as ESTree.Node);
      if (kind) return `the default export of ${file} is ${kind}, not a function`;
    }
    const decl = s.type === "ExportNamedDeclaration" ? s.declaration : s;
    if (decl?.type === "VariableDeclaration" && decl.kind === "const")
      for (const d of decl.declarations) {
        if (d.id.type !== "Identifier") continue;
        consts.set(d.id.name, valueKind(d.init));
        if (s.type === "ExportNamedDeclaration" && d.id.name === name) local = name;
      }
    if (s.type === "ExportNamedDeclaration" && !s.source)
      for (const spec of s.specifiers) {
        const exported =
          spec.exported.type === "Identifier" ? spec.exported.name : String(spec.exported.value);
        if (exported === name && spec.local.type === "Identifier") local = spec.local.name;
      }
  }
  const kind = local === undefined ? undefined : consts.get(local);
  return kind ? `${file} exports ${name} as ${kind}, not a function` : undefined;
}

/**
 * Refuse args that a function's plain parameters name (`function f(a, b)` with `{ a, b }`): the
 * function gets one args object, so `a` would be the whole object. O(1) per call.
 */
export function checkArgsAgainst(params: ParamFacts | undefined, args: Record<string, unknown>): void {
  if (!params) return;
  const [first, second] = params.plain;
  // A first parameter the function reads properties of is the args object, whatever its name.
  const named = [params.firstIsObject ? undefined : first, second].filter(
    (p): p is string => p !== undefined && Object.hasOwn(args, p),
  );
  if (named.length === 0) return;
  throw new InvalidArgumentError(
    "args",
    args,
    `args for a function that takes one args object: write ${destructuringForm(params, params.shown.length ? params.plain.filter((p): p is string => p !== undefined) : named)}`,
    `its parameter${named.length > 1 ? "s" : ""} ${named.join(" and ")} would get the whole args object (and the context), not the arg${named.length > 1 ? "s" : ""} of that name`,
  );
}
