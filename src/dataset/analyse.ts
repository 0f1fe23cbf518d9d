/**
 * What a function's source says about it, read with a real parser (acorn) and scope analyser
 * (eslint-scope): the expression that ships it, its free variables with where they are used, the
 * constructs that cannot work on the far side, and the facts about its parameters.
 */

import { runInNewContext } from "node:vm";
import type { Node as AcornNode } from "acorn";
import type { Scope, ScopeManager } from "eslint-scope";
import type * as ESTree from "estree";
import { acorn, eslintScope } from "./lazy.js";

/** Any function value. */
export type AnyFunction = (...args: never[]) => unknown;

/** One use of a free variable, placed within the function's own source. */
export interface Use {
  line: number;
  column: number;
  /** The source line of the use (trimmed, shortened). */
  snippet: string;
}

/** Names the first two parameters bind when they are plain identifiers (see checkArgsAgainst). */
export interface ParamFacts {
  /** The name of each of the first two parameters when it is a plain identifier (with or without default). */
  plain: readonly (string | undefined)[];
  /** What each parameter is called in messages (its name, or its source for a pattern). */
  shown: readonly string[];
  /**
   * Whether the function reads a property of its plain first parameter (`a.x`, `a[k]`): then that
   * parameter is the args object even when an arg has its name.
   */
  firstIsObject?: boolean;
  /** The function's name for messages ("f" when it has none). */
  name: string;
}

export interface FunctionFacts {
  /** The function as a JavaScript expression (method shorthand turned into a function expression). */
  expression: string;
  /** Free variables that are not globals of the far side, each with its uses (in source order). */
  free: Map<string, Use[]>;
  /** Free variables used only as the operand of `typeof` (feature detection): fine when undeclared. */
  typeofOnly: Set<string>;
  /** What cannot work however the free variables resolve (this, super, generators...). */
  problems: string[];
  params: ParamFacts;
}

const PARSE_OPTIONS = { ecmaVersion: "latest", locations: true, ranges: true } as const;

/**
 * Globals of a Node >= 18 ES module: the ES built-ins of a fresh context and Node's own globals.
 * Not `require`, `module`, `exports`, `__dirname` or `__filename`: an ES module has none of them.
 */
const NODE_GLOBALS = [
  "process",
  "Buffer",
  "console",
  "global",
  "globalThis",
  "setTimeout",
  "clearTimeout",
  "setInterval",
  "clearInterval",
  "setImmediate",
  "clearImmediate",
  "queueMicrotask",
  "structuredClone",
  "URL",
  "URLSearchParams",
  "TextEncoder",
  "TextDecoder",
  "fetch",
  "Request",
  "Response",
  "Headers",
  "FormData",
  "crypto",
  "performance",
  "AbortController",
  "AbortSignal",
  "Blob",
  "atob",
  "btoa",
  "Event",
  "EventTarget",
  "MessageChannel",
  "MessagePort",
  "MessageEvent",
  "BroadcastChannel",
  "DOMException",
  "ReadableStream",
  "WritableStream",
  "TransformStream",
  "TextEncoderStream",
  "TextDecoderStream",
  "CompressionStream",
  "DecompressionStream",
];

let globals: ReadonlySet<string> | undefined;
/** Names a function may use without defining them (built once, on first use). */
export function farGlobals(): ReadonlySet<string> {
  globals ??= new Set([
    ...Object.getOwnPropertyNames(runInNewContext("globalThis") as object),
    ...NODE_GLOBALS,
  ]);
  return globals;
}

/** The analysis of scopes: every scope closed statically, even where a direct `eval` makes it dynamic. */
const SCOPE_OPTIONS = { ecmaVersion: 2022, optimistic: true } as const;

/** Visit `node` and every node below it. */
function walk(node: unknown, visit: (n: ESTree.Node) => void): void {
  const go = (v: unknown): void => {
    if (!v || typeof v !== "object") return;
    if (Array.isArray(v)) {
      for (const x of v) go(x);
      return;
    }
    const n = v as ESTree.Node;
    if (typeof n.type !== "string") return;
    visit(n);
    for (const [k, c] of Object.entries(n)) if (k !== "loc" && k !== "range") go(c);
  };
  go(node);
}

/** A parsed program and where the function sits in it. */
interface Parsed {
  expression: string;
  /** Characters before the function's own source on the first line of the parsed text. */
  prefix: number;
  program: AcornNode;
  fn: ESTree.Function;
  /** Parsed as a method of an object literal (its `super` is the object's): cannot ship. */
  method?: boolean;
  /** A getter or a setter: read or written through its object, never called with args. */
  accessor?: "get" | "set";
}

function parseExpression(expression: string): { program: AcornNode; e: ESTree.Expression } | undefined {
  // An ES module's syntax (`import.meta`) parses only as a module: tried second, to refuse it by name.
  for (const sourceType of ["script", "module"] as const) {
    if (sourceType === "module" && !expression.includes("import")) break;
    try {
      const program = acorn().parse(`(${expression})`, { ...PARSE_OPTIONS, sourceType });
      const body = (program as unknown as ESTree.Program).body;
      const stmt = body.length === 1 ? body[0] : undefined;
      if (stmt?.type === "ExpressionStatement") return { program, e: stmt.expression };
    } catch {
      /* the next form */
    }
  }
  return undefined;
}

/**
 * Sources of arrows and `function`s are expressions; method shorthand (`f(x) {...}`,
 * `async f(x) {...}`) becomes one with `function` before it.
 */
function parseFunction(src: string): Parsed | undefined {
  const forms = [src, `function ${src}`];
  if (src.startsWith("async ")) forms.push(`async function ${src.slice(6)}`);
  for (const expression of forms) {
    const parsed = parseExpression(expression);
    if (!parsed) continue;
    const { program, e } = parsed;
    if (
      e.type === "FunctionExpression" ||
      e.type === "ArrowFunctionExpression" ||
      e.type === "ClassExpression"
    ) {
      if (e.type === "ClassExpression") return { expression, prefix: 1, program, fn: e as never };
      return { expression, prefix: 1 + expression.length - src.length, program, fn: e };
    }
  }
  // A method whose key is quoted, numeric, computed or a reserved word (`"a b"({ x }) {...}`):
  // its function is what follows the key. One that uses `super` parses only inside an object:
  // analysed there, never shipped. Getters and setters are refused.
  const inObject = parseExpression(`{${src}}`);
  const obj = inObject?.e;
  const prop =
    obj?.type === "ObjectExpression" && obj.properties.length === 1 ? obj.properties[0] : undefined;
  if (inObject && prop?.type === "Property" && prop.value.type === "FunctionExpression") {
    const value = prop.value;
    const accessor = prop.kind === "get" || prop.kind === "set" ? prop.kind : undefined;
    if (!accessor && prop.method) {
      // In `({src})` the function node starts at its parameters, 2 characters after src's offset.
      const k = (value as unknown as { start: number }).start - 2;
      const head = `${value.async ? "async " : ""}function${value.generator ? "*" : ""} `;
      const expression = head + src.slice(k);
      const parsed = parseExpression(expression);
      if (parsed?.e.type === "FunctionExpression")
        return { expression, prefix: 1 + head.length - k, program: parsed.program, fn: parsed.e };
    }
    return { expression: "", prefix: 2, program: inObject.program, fn: value, method: true, accessor };
  }
  return undefined;
}

/** Why a function value cannot be shipped as source at all, or undefined. */
export function unshippable(fn: AnyFunction, src: string): string | undefined {
  if (fn.name.startsWith("bound ") && src.includes("[native code]"))
    return "a bound function has no source of its own: give the function itself (args come in its one args object)";
  if (src.includes("[native code]") && parseFunction(src) === undefined)
    return "a native function has no JavaScript source: wrap it, e.g. ({ x }) => Math.sqrt(x)";
  return undefined;
}

/** Analyse a function's source (Function.prototype.toString). Undefined when it is not a function. */
export function analyseFunction(src: string): FunctionFacts | undefined {
  const parsed = parseFunction(src);
  if (!parsed) return undefined;
  const { fn, expression } = parsed;
  const lines = src.split("\n");
  const place = (node: { loc?: ESTree.SourceLocation | null }): Use => {
    const start = node.loc?.start ?? { line: 1, column: 0 };
    const line = start.line;
    const column = (line === 1 ? start.column - parsed.prefix : start.column) + 1;
    return { line, column, snippet: snippetOf(lines[line - 1] ?? "", column - 1) };
  };
  if ((fn as ESTree.Node).type === "ClassExpression") {
    return {
      expression,
      free: new Map(),
      typeofOnly: new Set(),
      problems: ["a class: give a function to call with each runner's args (a class cannot be called)"],
      params: { plain: [], shown: [], name: "f" },
    };
  }
  const problems: string[] = [];
  if (fn.generator)
    problems.push(
      `${fn.async ? "an async generator" : "a generator"}: the function must return its result (or a promise of it), not yield values`,
    );
  problems.push(...contextUses(fn, place));
  if (parsed.accessor)
    problems.push(
      `a ${parsed.accessor === "get" ? "getter" : "setter"}: it is used through its object, not called with args; give a function that takes what it needs from the args`,
    );
  else if (parsed.method && problems.length === 0)
    problems.push("a method that needs its object: give a function that takes what it needs from the args");

  const free = new Map<string, Use[]>();
  const known = farGlobals();
  const scopes = eslintScope().analyze(parsed.program as unknown as ESTree.Program, {
    ...SCOPE_OPTIONS,
    sourceType: "script",
  });
  const through = new Set<unknown>((scopes.globalScope?.through ?? []).map((r) => r.identifier));
  // Which identifiers are the operand of `typeof`, or the object of a member access.
  const typeofOperands = new Set<unknown>();
  const objects = new Set<unknown>();
  walk(fn, (n) => {
    if (n.type === "UnaryExpression" && n.operator === "typeof") typeofOperands.add(n.argument);
    else if (n.type === "MemberExpression") objects.add(n.object);
    else if (n.type === "MetaProperty" && n.meta.name === "import") {
      const u = place(n);
      problems.push(
        `\`import.meta\` at ${u.line}:${u.column} (${u.snippet}) is not available in a shipped inline function: give the function as { module, export } (where import.meta is the bundle's)`,
      );
    } else if (
      n.type === "CallExpression" &&
      n.callee.type === "Identifier" &&
      n.callee.name === "eval" &&
      through.has(n.callee)
    ) {
      const u = place(n);
      problems.push(
        `a direct \`eval\` at ${u.line}:${u.column} (${u.snippet}): the code it runs can use variables the function's analysis cannot see; write that code in the function`,
      );
    }
  });
  const notTypeof = new Set<string>();
  for (const ref of scopes.globalScope?.through ?? []) {
    const name = ref.identifier.name;
    if (name === "arguments" && fn.type === "ArrowFunctionExpression") {
      const u = place(ref.identifier);
      problems.push(
        `\`arguments\` at ${u.line}:${u.column} (${u.snippet}) is the arguments of a function around this arrow, which does not exist on the far side`,
      );
      continue;
    }
    if (known.has(name)) continue;
    if (!typeofOperands.has(ref.identifier)) notTypeof.add(name);
    const uses = free.get(name) ?? [];
    uses.push(place(ref.identifier));
    free.set(name, uses);
  }
  const typeofOnly = new Set([...free.keys()].filter((n) => !notTypeof.has(n)));
  const params = paramFacts(fn, src, parsed.prefix);
  // The first parameter is the args object when the function reads properties of it.
  const first = params.plain[0];
  const own = scopes.scopes.find((s) => s.block === (fn as unknown) && s.type === "function");
  const firstVar = first === undefined ? undefined : own?.set.get(first);
  if (firstVar?.references.some((r) => objects.has(r.identifier))) params.firstIsObject = true;
  return { expression, free, typeofOnly, problems, params };
}

/** `this` and `super` where they are the function's own (or an outer one's, in arrows). */
function contextUses(fn: ESTree.Function, place: (n: ESTree.Node) => Use): string[] {
  const out: string[] = [];
  const visit = (node: unknown, own: boolean): void => {
    if (!node || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const n of node) visit(n, own);
      return;
    }
    const n = node as ESTree.Node;
    if (typeof n.type !== "string") return;
    if (!own && (n.type === "ThisExpression" || n.type === "Super")) {
      const u = place(n);
      const word = n.type === "Super" ? "super" : "this";
      out.push(
        `\`${word}\` at ${u.line}:${u.column} (${u.snippet}): the function is called on its own on the far side, with no object; take what it needs from the args`,
      );
      return;
    }
    // A non-arrow function or a class has its own `this` (and a method its own `super`).
    const inner =
      own ||
      n.type === "FunctionExpression" ||
      n.type === "FunctionDeclaration" ||
      n.type === "ClassBody" ||
      n.type === "StaticBlock";
    for (const [k, v] of Object.entries(n)) {
      if (k === "loc" || k === "range") continue;
      // A class's `extends` expression and computed keys are evaluated outside its body.
      if (n.type === "ClassDeclaration" || n.type === "ClassExpression") {
        visit(v, own || k === "body");
        continue;
      }
      visit(v, inner);
    }
  };
  visit(fn.params, false);
  visit(fn.body, false);
  return out;
}

function paramFacts(fn: ESTree.Function, src: string, prefix: number): ParamFacts {
  const plain = fn.params.slice(0, 2).map((p) => {
    if (p.type === "Identifier") return p.name;
    if (p.type === "AssignmentPattern" && p.left.type === "Identifier") return p.left.name;
    return undefined;
  });
  const shown = fn.params.map((p) => {
    const q = p.type === "AssignmentPattern" ? p.left : p;
    if (q.type === "Identifier") return q.name;
    if (q.type === "RestElement" && q.argument.type === "Identifier") return `...${q.argument.name}`;
    const { start, end } = q as unknown as { start: number; end: number };
    return src.slice(start - prefix, end - prefix);
  });
  const id = (fn as ESTree.FunctionExpression).id;
  return { plain, shown, name: id?.name ?? "f" };
}

/** The destructuring form of a function's parameters, for messages: `function f({ a, b })`. */
export function destructuringForm(params: ParamFacts, names: readonly string[]): string {
  return `function ${params.name}({ ${names.join(", ")} })`;
}

function snippetOf(line: string, column: number): string {
  const text = line.trim();
  if (text.length <= 60) return text;
  const lead = line.length - line.trimStart().length;
  const at = Math.max(0, column - lead - 25);
  return `${at > 0 ? "..." : ""}${text.slice(at, at + 60)}${at + 60 < text.length ? "..." : ""}`;
}

/** Free variable names of a standalone piece of source (a top-level declaration of a module). */
export function freeNamesOf(source: string): string[] {
  const program = acorn().parse(source, { ecmaVersion: "latest", sourceType: "module", ranges: true });
  const scopes = eslintScope().analyze(program as unknown as ESTree.Program, {
    ...SCOPE_OPTIONS,
    sourceType: "module",
  });
  const known = farGlobals();
  return [...new Set((scopes.globalScope?.through ?? []).map((r) => r.identifier.name))].filter(
    (n) => !known.has(n),
  );
}

/** A module's source parsed for scope analysis (ES module, or a CommonJS body as a fallback). */
export interface ParsedModule {
  source: string;
  program: ESTree.Program;
  scopes: ScopeManager;
  /** The module's own top-level scope. */
  top: Scope;
}

export function parseModule(source: string): ParsedModule | undefined {
  for (const sourceType of ["module", "commonjs"] as const) {
    try {
      const program = acorn().parse(source, {
        ecmaVersion: "latest",
        sourceType: sourceType === "module" ? "module" : "script",
        allowReturnOutsideFunction: sourceType === "commonjs",
        allowHashBang: true,
        ranges: true,
      }) as unknown as ESTree.Program;
      const scopes = eslintScope().analyze(program, { ...SCOPE_OPTIONS, sourceType });
      const top = scopes.globalScope?.childScopes[0];
      if (top) return { source, program, scopes, top };
    } catch {
      /* try the next form */
    }
  }
  return undefined;
}
