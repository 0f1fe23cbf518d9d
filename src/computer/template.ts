/**
 * Job-script templates with placeholders.
 *
 * A placeholder is `#name#` or `#name:key=value:key=value#` on ONE line, where `name` is an identifier
 * (`[A-Za-z_][A-Za-z0-9_]*`). Anything else that starts with `#` (`#SBATCH`, `#!/bin/bash`, `# note`,
 * `#$ -cwd`) is plain text because a space, `!` or `$` cannot appear in an identifier.
 *
 * Keys:
 * - `default=` value used when the run args have none; may contain links in braces (`{timeout}`,
 *   `{nodes*tasksPerNode}`, `{(a??1)*(b??1)}`, see expression.ts). A value that is exactly one link
 *   keeps the linked value's type (number, string, array).
 * - `optional=true|false` (default false). A placeholder WITHOUT a default and not optional is
 *   required: no value → TemplateError. An optional placeholder without a value drops its whole line.
 * - `min=`, `max=` numeric bounds (for `format=time|minutes` in seconds).
 * - `format=time` → HH:MM:SS (hours may exceed 24); `minutes` → whole minutes (LSF `-W`);
 *   `int`, `float` → checked numbers; `list` → array or comma/space separated string joined by `sep`.
 * - `sep=` separator for arrays (default ",").
 * - `requires=a,b` this placeholder, when it has a value, needs `a` and `b` to have one too. The
 *   names must be placeholders of the same template (checked when the template is parsed).
 * Option values run up to the next `:key=` or the closing `#`, so they may contain `:` (`01:30:00`)
 * but not `#` or a newline. Run-arg values that are exactly `{...}` are links too.
 * Values are rendered as text; a value containing a newline is refused (it would inject directives).
 *
 * Rendered with `{ shell: true }` (script Datasets), every value becomes shell words instead: the
 * values given are taken literally (never read as links), each formatted value is shell-quoted into
 * ONE word (newlines allowed), and an array without a `format` becomes one quoted word per item.
 */
import { describeValue, TemplateError } from "../shared/errors.js";
import { shellQuote } from "../shared/quote.js";
import { formatHMS, formatMinutes, parseDuration } from "./duration.js";
import { ExpressionError, evaluate, expressionNames } from "./expression.js";

export type PlaceholderFormat = "time" | "minutes" | "int" | "float" | "list";
const FORMATS: readonly PlaceholderFormat[] = ["time", "minutes", "int", "float", "list"];
const KEYS = ["default", "optional", "min", "max", "format", "sep", "requires"] as const;

export interface Placeholder {
  name: string;
  /** The text as written, e.g. `#time:format=time:optional=true#`. */
  text: string;
  default?: string;
  optional: boolean;
  min?: number;
  max?: number;
  format?: PlaceholderFormat;
  sep?: string;
  requires: string[];
}

const PLACEHOLDER_RE = /#([A-Za-z_][A-Za-z0-9_]*)((?::[A-Za-z_]+=[^#\n]*)?)#/g;

type Values = Readonly<Record<string, unknown>>;

const isEmpty = (v: unknown) =>
  v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);

function parseOptions(name: string, text: string, optionText: string): Placeholder {
  const placeholder: Placeholder = { name, text, optional: false, requires: [] };
  if (optionText === "") return placeholder;
  const seen = new Set<string>();
  // split before every ":key=" so values may contain ':' (e.g. default=01:30:00)
  for (const part of optionText.slice(1).split(/:(?=[A-Za-z_]+=)/)) {
    const eq = part.indexOf("=");
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (!(KEYS as readonly string[]).includes(key))
      throw new TemplateError(
        name,
        undefined,
        `unknown option "${key}" in ${text} (known: ${KEYS.join(", ")})`,
      );
    if (seen.has(key)) throw new TemplateError(name, undefined, `option "${key}" given twice in ${text}`);
    seen.add(key);
    switch (key) {
      case "default":
        placeholder.default = value;
        checkLinks(name, value);
        break;
      case "optional":
        if (value !== "true" && value !== "false")
          throw new TemplateError(name, undefined, `optional must be true or false, got "${value}"`);
        placeholder.optional = value === "true";
        break;
      case "min":
      case "max": {
        const n = Number(value);
        if (value.trim() === "" || !Number.isFinite(n))
          throw new TemplateError(name, undefined, `${key} must be a number, got "${value}"`);
        placeholder[key] = n;
        break;
      }
      case "format":
        if (!(FORMATS as readonly string[]).includes(value))
          throw new TemplateError(
            name,
            undefined,
            `format must be one of ${FORMATS.join(", ")}, got "${value}"`,
          );
        placeholder.format = value as PlaceholderFormat;
        break;
      case "sep":
        placeholder.sep = value;
        break;
      case "requires":
        placeholder.requires = value
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        break;
    }
  }
  if (placeholder.min !== undefined && placeholder.max !== undefined && placeholder.min > placeholder.max)
    throw new TemplateError(name, undefined, `min ${placeholder.min} is above max ${placeholder.max}`);
  return placeholder;
}

function checkLinks(name: string, text: string): void {
  for (const [, expr] of text.matchAll(/\{([^{}]*)\}/g)) {
    try {
      expressionNames(expr);
    } catch (e) {
      throw new TemplateError(name, undefined, (e as Error).message);
    }
  }
}

function samePlaceholder(a: Placeholder, b: Placeholder): boolean {
  const { text: _a, ...restA } = a;
  const { text: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

export class Template {
  readonly source: string;
  /** Placeholders by name, in order of first appearance. */
  readonly placeholders: ReadonlyMap<string, Placeholder>;
  private readonly lines: { text: string; names: string[] }[];

  private constructor(source: string, placeholders: Map<string, Placeholder>, lines: Template["lines"]) {
    this.source = source;
    this.placeholders = placeholders;
    this.lines = lines;
  }

  /** Parse a template; malformed placeholders throw a TemplateError (with no runner). */
  static parse(source: string): Template {
    if (typeof source !== "string")
      throw new TemplateError("template", undefined, "the template must be a string");
    const placeholders = new Map<string, Placeholder>();
    const lines = source.split("\n").map((text) => {
      const names: string[] = [];
      for (const m of text.matchAll(PLACEHOLDER_RE)) {
        const parsed = parseOptions(m[1], m[0], m[2]);
        const known = placeholders.get(parsed.name);
        // a later bare #name# refers to the earlier definition; two different definitions conflict
        if (known && m[2] !== "" && !samePlaceholder(known, parsed))
          throw new TemplateError(
            parsed.name,
            undefined,
            `defined twice differently: ${known.text} and ${parsed.text}`,
          );
        if (!known) placeholders.set(parsed.name, parsed);
        names.push(parsed.name);
      }
      return { text, names };
    });
    for (const p of placeholders.values())
      for (const other of p.requires)
        if (!placeholders.has(other))
          throw new TemplateError(
            p.name,
            undefined,
            `requires "${other}", which is not a placeholder of this template`,
          );
    return new Template(source, placeholders, lines);
  }

  /**
   * Render for one runner: substitute, drop optional empty lines, check every rule. With `shell`,
   * values are literal and shell-quoted (see the module comment).
   */
  render(values: Values, runner?: string, options: { shell?: boolean } = {}): string {
    const resolver = new Resolver(this, values, runner, options.shell === true);
    const out: string[] = [];
    for (const line of this.lines) {
      if (line.names.length === 0) {
        out.push(line.text);
        continue;
      }
      const rendered = new Map<string, string | undefined>();
      for (const name of line.names) rendered.set(name, resolver.rendered(name));
      if ([...rendered.values()].some((v) => v === undefined)) continue; // an optional placeholder is empty
      out.push(line.text.replace(PLACEHOLDER_RE, (_m, name: string) => rendered.get(name) as string));
    }
    return out.join("\n");
  }
}

/** Resolves the values of one render (memoised, with cycle detection). */
class Resolver {
  private readonly raw = new Map<string, unknown>();
  private readonly active = new Set<string>();

  constructor(
    private readonly template: Template,
    private readonly values: Values,
    private readonly runner: string | undefined,
    private readonly shell = false,
  ) {}

  private error(name: string, message: string): TemplateError {
    return new TemplateError(name, this.runner, message);
  }

  /** The value of a name before formatting: run arg, else default; links evaluated. */
  resolve(name: string, from: string = name): unknown {
    if (this.raw.has(name)) return this.raw.get(name);
    if (this.active.has(name)) throw this.error(from, `links form a cycle through "${name}"`);
    this.active.add(name);
    try {
      const placeholder = this.template.placeholders.get(name);
      let value = this.shell ? this.values[name] : this.link(name, this.values[name]);
      if (isEmpty(value) && placeholder?.default !== undefined) value = this.link(name, placeholder.default);
      this.raw.set(name, value);
      return value;
    } finally {
      this.active.delete(name);
    }
  }

  private link(name: string, value: unknown): unknown {
    if (typeof value !== "string" || !value.includes("{")) return value;
    const evalOne = (expr: string) => {
      try {
        return evaluate(expr, (other) => this.resolve(other, name));
      } catch (e) {
        if (e instanceof ExpressionError) throw this.error(name, e.message);
        throw e;
      }
    };
    const whole = /^\{([^{}]*)\}$/.exec(value);
    if (whole) return evalOne(whole[1]);
    let empty = false;
    const text = value.replace(/\{([^{}]*)\}/g, (_m, expr: string) => {
      const v = evalOne(expr);
      if (isEmpty(v)) empty = true;
      return isEmpty(v) ? "" : this.scalar(name, v, ",");
    });
    return empty ? undefined : text;
  }

  /** The text for a placeholder, or undefined when it is optional and empty (the line is dropped). */
  rendered(name: string): string | undefined {
    const p = this.template.placeholders.get(name) as Placeholder;
    const value = this.resolve(name);
    if (isEmpty(value)) {
      if (p.optional) return undefined;
      const why = p.default !== undefined ? `its default ${p.default} has no value` : "no value was given";
      throw this.error(name, `required but ${why} (set run arg "${name}")`);
    }
    for (const other of p.requires)
      if (isEmpty(this.resolve(other, name)))
        throw this.error(
          name,
          `requires "${other}", which has no value (placeholder ${name} = ${describeValue(value)})`,
        );
    if (this.shell) return this.quoted(p, value);
    const text = this.format(p, value);
    if (/[\r\n]/.test(text))
      throw this.error(name, `value must not contain a newline: ${describeValue(text)}`);
    return text;
  }

  /** Shell words: one quoted word, or one per item of an array given without a format. */
  private quoted(p: Placeholder, value: unknown): string {
    const items = Array.isArray(value) && p.format === undefined ? value : [value];
    return items
      .map((item) => {
        const text = this.format(p, item);
        if (text.includes("\0")) throw this.error(p.name, "value must not contain a NUL byte");
        return shellQuote(text);
      })
      .join(" ");
  }

  private format(p: Placeholder, value: unknown): string {
    const sep = p.sep ?? ",";
    switch (p.format) {
      case "time":
      case "minutes": {
        const seconds = parseDuration(value);
        if (seconds === undefined)
          throw this.error(
            p.name,
            `${describeValue(value)} is not a duration (use seconds, "1h30m", "1d2h" or "HH:MM:SS")`,
          );
        this.checkRange(p, seconds, " seconds");
        return p.format === "time" ? formatHMS(seconds) : formatMinutes(seconds);
      }
      case "int":
      case "float": {
        const n = this.number(p, value);
        if (p.format === "int" && !Number.isInteger(n))
          throw this.error(p.name, `${describeValue(value)} is not an integer`);
        this.checkRange(p, n);
        return String(n);
      }
      case "list": {
        const items = Array.isArray(value) ? value : String(value).split(/[\s,]+/);
        return items
          .map((item) => this.scalar(p.name, item, sep))
          .filter((s) => s !== "")
          .join(sep);
      }
      default:
        if (p.min !== undefined || p.max !== undefined) this.checkRange(p, this.number(p, value));
        return this.scalar(p.name, value, sep);
    }
  }

  private number(p: Placeholder, value: unknown): number {
    const n =
      typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
    if (!Number.isFinite(n) || (typeof value === "string" && value.trim() === ""))
      throw this.error(p.name, `${describeValue(value)} is not a number`);
    return n;
  }

  private checkRange(p: Placeholder, n: number, unit = ""): void {
    if (p.min !== undefined && n < p.min) throw this.error(p.name, `${n}${unit} is below min ${p.min}`);
    if (p.max !== undefined && n > p.max) throw this.error(p.name, `${n}${unit} is above max ${p.max}`);
  }

  private scalar(name: string, value: unknown, sep: string): string {
    if (Array.isArray(value)) return value.map((v) => this.scalar(name, v, sep)).join(sep);
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
      return String(value);
    throw this.error(
      name,
      `cannot put ${describeValue(value)} in a job script (use a string, number or array)`,
    );
  }
}
