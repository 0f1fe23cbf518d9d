/**
 * Where a function value was defined: the script V8 compiled it from (through an in-process
 * inspector session, whose calls answer synchronously) and, when that script is a module file, how
 * each of the function's free variables is bound in it: an import, a top-level function, a helper
 * that TypeScript tooling injected, or something that cannot be shipped.
 */
import { Session } from "node:inspector";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Scope, Variable } from "eslint-scope";
import type * as ESTree from "estree";
import { type AnyFunction, freeNamesOf, type ParsedModule, parseModule } from "./analyse.js";

/** The script a function comes from and the offset of its location in it. */
export interface Origin {
  url: string;
  source: string;
  /** Offset (in UTF-16 units) of V8's [[FunctionLocation]] in `source`. */
  offset: number;
}

type Post = <T>(method: string, params?: object) => T;

/** The scripts already looked up, by V8 script id (only those that defined a Dataset's function). */
const scripts = new Map<string, { url: string; source: string }>();

/** The script that defines `fn` (undefined when the inspector cannot tell). */
export function originOf(fn: AnyFunction): Origin | undefined {
  const session = new Session();
  try {
    session.connect();
  } catch {
    return undefined; // another inspector client may hold the process
  }
  const post: Post = <T>(method: string, params?: object): T => {
    let out: unknown;
    let failure: unknown;
    let answered = false;
    session.post(method, params ?? {}, (err: Error | null, res?: object) => {
      answered = true;
      failure = err;
      out = res;
    });
    if (!answered) throw new Error(`inspector ${method} did not answer synchronously`);
    if (failure) throw failure;
    return out as T;
  };
  const key = `__remoterun_locate_${process.pid}_${Date.now()}`;
  const g = globalThis as Record<string, unknown>;
  try {
    g[key] = fn;
    let location: { scriptId: string; lineNumber: number; columnNumber: number } | undefined;
    try {
      const { result } = post<{ result: { objectId?: string } }>("Runtime.evaluate", {
        expression: `globalThis[${JSON.stringify(key)}]`,
      });
      if (!result.objectId) return undefined;
      const props = post<{ internalProperties?: { name: string; value?: { value?: unknown } }[] }>(
        "Runtime.getProperties",
        { objectId: result.objectId, ownProperties: true },
      );
      location = props.internalProperties?.find((p) => p.name === "[[FunctionLocation]]")?.value
        ?.value as typeof location;
      post("Runtime.releaseObject", { objectId: result.objectId });
    } finally {
      delete g[key];
    }
    if (!location) return undefined;
    // A script never changes under its id: a second function of the same module skips the debugger.
    const known = scripts.get(location.scriptId);
    if (known) return { ...known, offset: offsetOf(known.source, location) };
    let url: string | undefined;
    session.on("Debugger.scriptParsed", (m: { params: { scriptId: string; url: string } }) => {
      if (m.params.scriptId === location.scriptId) url = m.params.url;
    });
    post("Debugger.enable");
    try {
      const { scriptSource } = post<{ scriptSource: string }>("Debugger.getScriptSource", {
        scriptId: location.scriptId,
      });
      if (!url) return undefined;
      scripts.set(location.scriptId, { url, source: scriptSource });
      return { url, source: scriptSource, offset: offsetOf(scriptSource, location) };
    } finally {
      post("Debugger.disable");
    }
  } catch {
    return undefined;
  } finally {
    session.disconnect();
  }
}

function offsetOf(source: string, loc: { lineNumber: number; columnNumber: number }): number {
  let at = 0;
  for (let line = 0; line < loc.lineNumber; line++) {
    const nl = source.indexOf("\n", at);
    if (nl < 0) return source.length;
    at = nl + 1;
  }
  return at + loc.columnNumber;
}

/** How a free variable of the function is bound in its module. */
export type Binding =
  | { kind: "import"; statement: string }
  | {
      kind: "declaration";
      source: string;
      at: number;
      /** A CommonJS `require` of a module (bundled; Node's built-ins required on the far side). */
      requires?: boolean;
    }
  /** The top-level variable the function itself is assigned to (`const work = (...) => ... work(...)`). */
  | { kind: "self" }
  /** `undeclared`: the name is declared nowhere in the module (nor a global of Node). */
  | { kind: "none"; why: string; undeclared?: boolean };

/** What the module of a function gives its free variables. */
export interface Captured {
  /** The module's folder (imports resolve from it). */
  folder: string;
  /** Each free variable (and, recursively, those of the declarations it brings) and its binding. */
  bindings: Map<string, Binding>;
  /** For a name that a declaration brought along: the name of that declaration. */
  usedBy: Map<string, string>;
}

/**
 * Resolve the free variables `names` of the function at `origin` in its module. Undefined when the
 * module is not a file or its source cannot be read as JavaScript.
 */
export function captureFrom(
  origin: Origin,
  fnSource: string,
  names: readonly string[],
): Captured | undefined {
  if (!origin.url.startsWith("file:")) return undefined;
  const mod = parseModule(origin.source);
  if (!mod) return undefined;
  const scope = functionScope(mod, origin.offset, fnSource);
  if (!scope) return undefined;
  const bindings = new Map<string, Binding>();
  // Where each free name of the function resolves, as eslint-scope sees it in the module.
  const resolved = new Map<string, Variable | null>();
  for (const ref of scope.through) {
    if (!resolved.has(ref.identifier.name) || ref.resolved)
      resolved.set(ref.identifier.name, ref.resolved ?? null);
  }
  const usedBy = new Map<string, string>();
  const todo = [...names];
  for (let name = todo.shift(); name !== undefined; name = todo.shift()) {
    if (bindings.has(name)) continue;
    // Names of the function itself resolve as the analysis of the module says; names that included
    // top-level declarations use resolve at the module's top level.
    const variable = resolved.has(name) ? resolved.get(name) : (mod.top.set.get(name) ?? null);
    const binding = isSelf(variable, scope.block)
      ? { kind: "self" as const }
      : bindingOf(mod, variable ?? null, name);
    bindings.set(name, binding);
    if (binding.kind === "declaration") {
      for (const n of freeNamesOf(binding.source)) {
        if (bindings.has(n) || usedBy.has(n) || names.includes(n)) continue;
        if (n === "require" && binding.requires) continue; // the bundle defines it
        usedBy.set(n, name);
        todo.push(n);
      }
    }
  }
  return { folder: dirname(fileURLToPath(origin.url)), bindings, usedBy };
}

type Ranged = ESTree.Node & { start: number; end: number };

/** The scope of the function node V8 located at `offset` whose source is `fnSource`. */
function functionScope(mod: ParsedModule, offset: number, fnSource: string): Scope | undefined {
  let best: Scope | undefined;
  for (const scope of mod.scopes.scopes) {
    if (scope.type !== "function") continue;
    const node = scope.block as Ranged;
    if (node.start > offset || node.end < offset) continue;
    const text = mod.source.slice(node.start, node.end);
    // A method's source starts at its name, before the function node.
    if (text === fnSource || fnSource.endsWith(text)) {
      if (!best || (best.block as Ranged).start <= node.start) best = scope;
    }
  }
  return best;
}

const UNDECLARED: Binding = { kind: "none", why: "is not defined (not a global of Node)", undeclared: true };

function bindingOf(mod: ParsedModule, variable: Variable | null, name: string): Binding {
  if (!variable) return UNDECLARED;
  if (variable.scope !== mod.top)
    return {
      kind: "none",
      why: "is a local variable of a function around this one: its value cannot be shipped",
    };
  const def = variable.defs[0];
  if (!def) return UNDECLARED;
  if (def.type === "ImportBinding") {
    const decl = def.parent as ESTree.ImportDeclaration;
    const spec = def.node as
      | ESTree.ImportSpecifier
      | ESTree.ImportDefaultSpecifier
      | ESTree.ImportNamespaceSpecifier;
    const from = JSON.stringify(decl.source.value);
    if (spec.type === "ImportDefaultSpecifier")
      return { kind: "import", statement: `import ${name} from ${from};` };
    if (spec.type === "ImportNamespaceSpecifier")
      return { kind: "import", statement: `import * as ${name} from ${from};` };
    const imported =
      spec.imported.type === "Identifier" ? spec.imported.name : JSON.stringify(spec.imported.value);
    return { kind: "import", statement: `import { ${imported} as ${name} } from ${from};` };
  }
  const text = (n: ESTree.Node) => mod.source.slice((n as Ranged).start, (n as Ranged).end);
  if (
    (def.type === "FunctionName" && def.node.type === "FunctionDeclaration") ||
    (def.type === "ClassName" && def.node.type === "ClassDeclaration")
  ) {
    if (isTopLevel(mod, def.node)) {
      // Assigned again, its value at run time may not be its declaration.
      const what = def.type === "FunctionName" ? "function" : "class";
      const write = variable.references.find((r) => r.isWrite());
      if (write || variable.defs.length > 1)
        return {
          kind: "none",
          why: `is a top-level ${what} of its module that the module ${write ? `assigns again (at line ${lineOf(mod.source, (write.identifier as Ranged).start)})` : "declares again"}: like a top-level let, its value can change at run time, so it cannot be shipped as its declaration (give the function as { module, export }, which bundles the whole module)`,
        };
      return { kind: "declaration", source: text(def.node), at: (def.node as Ranged).start };
    }
  }
  const enumeration = enumOf(mod, variable);
  if (enumeration) return enumeration;
  if (def.type === "Variable" && name.startsWith("__") && def.parent && isTopLevel(mod, def.parent)) {
    const declarator = def.node as ESTree.VariableDeclarator;
    if (declarator.id.type === "Identifier" && declarator.init)
      return { kind: "declaration", source: `var ${text(declarator)};`, at: (declarator as Ranged).start };
  }
  if (def.type === "Variable" && def.parent && isTopLevel(mod, def.parent)) {
    const declarator = def.node as ESTree.VariableDeclarator;
    if (declarator.init && isRequire(declarator.init))
      return {
        kind: "declaration",
        source: `var ${text(declarator)};`,
        at: (declarator as Ranged).start,
        requires: true,
      };
  }
  if (def.type === "Variable")
    return {
      kind: "none",
      why: "is a top-level variable of its module: an inline function takes along only imports and top-level function declarations (give the value in the args, or the function as { module, export }, which bundles the whole module)",
    };
  return { kind: "none", why: `is a ${def.type} of its module, which cannot be shipped` };
}

function lineOf(source: string, offset: number): number {
  let line = 1;
  for (let i = source.indexOf("\n"); i >= 0 && i < offset; i = source.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * A TypeScript `enum` as tsc compiles it (`var X;` and, just after it,
 * `(function (X) { X[X["A"] = 0] = "A"; })(X || (X = {}));`) or as esbuild (tsx) does
 * (`var X = /* @__PURE__ *\/ ((X2) => { ...; return X2; })(X || {});`): shipped as that code, the
 * same in both forms, when the module assigns X nowhere else. Undefined when it is not one.
 */
function enumOf(mod: ParsedModule, variable: Variable): Binding | undefined {
  const def = variable.defs[0];
  if (def?.type !== "Variable" || variable.defs.length !== 1 || def.parent?.type !== "VariableDeclaration")
    return undefined;
  const decl = def.parent;
  const declarator = def.node as ESTree.VariableDeclarator;
  if (decl.kind !== "var" || decl.declarations.length !== 1 || declarator.id.type !== "Identifier")
    return undefined;
  const name = declarator.id.name;
  const body = mod.program.body;
  const at = body.findIndex(
    (s) => s === decl || (s.type === "ExportNamedDeclaration" && s.declaration === decl),
  );
  if (at < 0) return undefined;
  let call: ESTree.Node | null | undefined = declarator.init;
  let last: ESTree.Node = decl;
  if (!call) {
    const next = body[at + 1];
    if (next?.type !== "ExpressionStatement") return undefined;
    call = next.expression;
    last = next;
  }
  if (call.type !== "CallExpression" || call.arguments.length !== 1) return undefined;
  const fn = call.callee;
  if (
    (fn.type !== "FunctionExpression" && fn.type !== "ArrowFunctionExpression") ||
    fn.async ||
    fn.generator ||
    fn.params.length !== 1 ||
    fn.params[0].type !== "Identifier" ||
    fn.body.type !== "BlockStatement"
  )
    return undefined;
  const inner = fn.params[0].name;
  // `X || {}` (esbuild) or `X || (X = {})` (tsc; `X || (exports.X = X = {})` as CommonJS).
  const [arg] = call.arguments;
  if (
    arg.type !== "LogicalExpression" ||
    arg.operator !== "||" ||
    arg.left.type !== "Identifier" ||
    arg.left.name !== name
  )
    return undefined;
  // The body only sets members of the enum object (and returns it).
  const onlyMembers = fn.body.body.every(
    (s) =>
      (s.type === "ReturnStatement" && s.argument?.type === "Identifier" && s.argument.name === inner) ||
      (s.type === "ExpressionStatement" &&
        s.expression.type === "AssignmentExpression" &&
        s.expression.left.type === "MemberExpression" &&
        s.expression.left.object.type === "Identifier" &&
        s.expression.left.object.name === inner),
  );
  if (!onlyMembers) return undefined;
  const start = (decl as Ranged).start;
  const end = (last as Ranged).end;
  const writes = variable.references.filter((r) => r.isWrite());
  if (writes.some((r) => (r.identifier as Ranged).start < start || (r.identifier as Ranged).end > end))
    return {
      kind: "none",
      why: `is a TypeScript enum that its module assigns again: its value can change at run time, so it cannot be shipped (give the function as { module, export }, which bundles the whole module)`,
    };
  const code = mod.source.slice((fn as Ranged).start, (fn as Ranged).end);
  const source = declarator.init
    ? `var ${name} = (${code})(${name} || {});`
    : `var ${name};\n(${code})(${name} || (${name} = {}));`;
  return { kind: "declaration", source, at: start };
}

/** Whether `variable` is declared with the function itself as its value (or wrapped: `__name(fn, "f")`). */
function isSelf(variable: Variable | null | undefined, fn: ESTree.Node): boolean {
  const node = variable?.defs[0]?.node;
  if (node?.type !== "VariableDeclarator" || !node.init || variable?.defs.length !== 1) return false;
  const init = node.init;
  return init === fn || (init.type === "CallExpression" && init.arguments[0] === fn);
}

/**
 * `require("x")`, or a module-interop helper around it (`__importDefault(require("x"))`,
 * `__toESM(require("x"))`): how CommonJS output of TypeScript tooling imports.
 */
function isRequire(init: ESTree.Expression): boolean {
  if (init.type !== "CallExpression" || init.callee.type !== "Identifier") return false;
  const [arg] = init.arguments;
  if (init.callee.name === "require")
    return init.arguments.length === 1 && arg.type === "Literal" && typeof arg.value === "string";
  return init.callee.name.startsWith("__") && arg?.type === "CallExpression" && isRequire(arg);
}

function isTopLevel(mod: ParsedModule, node: ESTree.Node): boolean {
  return mod.program.body.some(
    (s) =>
      s === node ||
      ((s.type === "ExportNamedDeclaration" || s.type === "ExportDefaultDeclaration") &&
        s.declaration === node),
  );
}
