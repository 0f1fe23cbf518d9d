/** Job-script templates with placeholders; the grammar is documented on the Template class. */
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
/** What is left of a placeholder whose closing `#` is missing: `#name:key=` with a known key. */
const UNCLOSED_RE = new RegExp(`#([A-Za-z_][A-Za-z0-9_]*):(?:${KEYS.join("|")})=`);
/** Stands for one placeholder while a line is scanned (cannot occur in a template). */
const MARK = "\u0000";

/** How a placeholder's value is written, by where it stands (see the module comment). */
export type PlaceholderContext =
  | "directive" // scheduler directive line, strict: refuse what the scheduler would split
  | "slurm" // #SBATCH / #SLURM line: quote what sbatch would split
  | "slurm-quoted" // the same, inside quotes of the line
  | "comment"
  | "word" // unquoted shell code
  | "double" // inside "..."
  | "single" // inside '...'
  | "ansi" // inside $'...'
  | "heredoc" // body of <<EOF
  | "heredoc-literal"; // body of <<'EOF'

interface HereDoc {
  delimiter: string;
  stripTabs: boolean;
  literal: boolean;
}

const WORD_START = /[\s;&|()<>]/;
const WORD_END = /[\s;&|()<>]/;

/**
 * Where each placeholder of the template stands: one context per placeholder occurrence, line by line.
 * `lines` are the template's lines with every placeholder replaced by MARK. Quotes and here-documents
 * may span lines; command substitutions are not followed (their quotes count as the outer ones);
 * `<<` inside `(( ))` / `$(( ))` is a shift, not a here-document.
 */
function scan(lines: readonly string[]): PlaceholderContext[][] {
  let quote: "" | "'" | '"' | "$'" = "";
  let body: HereDoc | undefined;
  const pending: HereDoc[] = [];
  let arithmetic = 0; // inside (( )) or $(( )), where << is a shift
  return lines.map((s) => {
    const out: PlaceholderContext[] = [];
    const mark = (context: PlaceholderContext) => out.push(context);
    if (body) {
      const here = body;
      if ((here.stripTabs ? s.replace(/^\t+/, "") : s) === here.delimiter) body = pending.shift();
      for (const c of s) if (c === MARK) mark(here.literal ? "heredoc-literal" : "heredoc");
      return out;
    }
    if (quote === "" && /^#(SBATCH|SLURM)(\s|$)/.test(s)) {
      // sbatch's reading of the line (src/sbatch/opt.c, _get_argument): a backslash escapes the next
      // character, "..." and '...' quote, an unquoted # ends the line.
      let q = "";
      for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (c === MARK) mark(q === "" ? "slurm" : "slurm-quoted");
        else if (c === "\\") i++;
        else if (q !== "") {
          if (c === q) q = "";
        } else if (c === '"' || c === "'") q = c;
        else if (c === "#" && i > 0) {
          for (const rest of s.slice(i)) if (rest === MARK) mark("comment");
          break;
        }
      }
      return out;
    }
    if (quote === "" && s.startsWith("#")) {
      const kind: PlaceholderContext = /^#[^\s!]/.test(s) ? "directive" : "comment";
      for (const c of s) if (c === MARK) mark(kind);
      return out;
    }
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (quote === "'") {
        if (c === "'") quote = "";
        else if (c === MARK) mark("single");
        continue;
      }
      if (quote === "$'" || quote === '"') {
        if (c === MARK) mark(quote === '"' ? "double" : "ansi");
        else if (c === "\\") {
          if (s[i + 1] === MARK) mark(quote === '"' ? "double" : "ansi");
          i++;
        } else if (c === (quote === '"' ? '"' : "'")) quote = "";
        continue;
      }
      if (c === MARK) mark("word");
      else if (c === "\\") {
        if (s[i + 1] === MARK) mark("word");
        i++;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === "$" && s[i + 1] === "'") {
        quote = "$'";
        i++;
      } else if (c === "#" && (i === 0 || WORD_START.test(s[i - 1]))) {
        for (const rest of s.slice(i)) if (rest === MARK) mark("comment");
        break;
      } else if (c === "(" && s[i + 1] === "(") {
        arithmetic++;
        i++;
      } else if (c === ")" && s[i + 1] === ")" && arithmetic > 0) {
        arithmetic--;
        i++;
      } else if (c === "<" && s[i + 1] === "<" && s[i + 2] !== "<" && arithmetic === 0) {
        let j = i + 2;
        const stripTabs = s[j] === "-";
        if (stripTabs) j++;
        while (s[j] === " " || s[j] === "\t") j++;
        let word = "";
        let literal = false;
        let q = "";
        for (; j < s.length && (q !== "" || !WORD_END.test(s[j])); j++) {
          const d = s[j];
          if (d === MARK) mark("word"); // a placeholder in a delimiter: as a word (odd, but harmless)
          if (q !== "") {
            if (d === q) q = "";
            else word += d;
          } else if (d === "'" || d === '"') {
            q = d;
            literal = true;
          } else if (d === "\\") {
            literal = true;
            word += s[++j] ?? "";
          } else word += d;
        }
        if (word !== "") pending.push({ delimiter: word, stripTabs, literal });
        i = j - 1;
      }
    }
    if (quote === "" && pending.length) body = pending.shift();
    return out;
  });
}

/** Values that fill a template's placeholders, by name. */
export type Values = Readonly<Record<string, unknown>>;

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

/**
 * A job-script template (a Computer's, or a script Dataset's script) with placeholders.
 *
 * A placeholder is `#name#` or `#name:key=value:key=value#` on ONE line, where `name` is an identifier
 * (`[A-Za-z_][A-Za-z0-9_]*`). Anything else that starts with `#` (`#SBATCH`, `#!/bin/bash`, `# note`,
 * `#$ -cwd`) is plain text because a space, `!` or `$` cannot appear in an identifier. An UNCLOSED
 * placeholder, `#name:key=` with one of the keys below and no closing `#` on its line (`#time:format=time`),
 * is a TemplateError naming the line; `#name` alone cannot be told from a directive and is text.
 *
 * Keys:
 * - `default=` value used when the run args have none; may contain links in braces (`{timeout}`,
 *   `{nodes*tasksPerNode}`, `{(a??1)*(b??1)}`: arithmetic, `??` and parentheses). A value that is exactly one link
 *   keeps the linked value's type (number, string, array).
 * - `optional=true|false` (default false). A placeholder WITHOUT a default and not optional is
 *   required: no value → TemplateError. An optional placeholder without a value drops its whole line.
 * - `min=`, `max=` numeric bounds (for `format=time|minutes` in seconds).
 * - `format=time` → HH:MM:SS (hours may exceed 24); `minutes` → whole minutes (LSF `-W`);
 *   `int`, `float` → checked numbers; `list` → array or comma/space separated string joined by `sep`
 *   into ONE value (a comma-joined list by default).
 * - `sep=` separator for arrays (default ",").
 * - `requires=a,b` this placeholder, when it has a value, needs `a` and `b` to have one too. The
 *   names must be placeholders of the same template (checked when the template is parsed).
 * Option values run up to the next `:key=` or the closing `#`, so they may contain `:` (`01:30:00`)
 * but not `#` or a newline. Run-arg values that are exactly `{...}` are links too.
 *
 * Where a placeholder stands decides how its value is written (the template is read the way bash
 * and the scheduler read it):
 * - On a DIRECTIVE line (`#` in column 0 followed by a non-blank other than `!`: `#SBATCH`, `#PBS`,
 *   `#$`, `#BSUB`...) the value is text for the scheduler, an array joined by `sep`. sbatch reads
 *   quotes and backslash escapes on `#SBATCH`/`#SLURM` lines, so a value with whitespace, quotes, `\`
 *   or `#` is written quoted there (`--partition="short queue"`; escaped only when the line already
 *   quotes it; after an unquoted `#`, sbatch's comment, it is text); other schedulers document no
 *   quoting of directive values, so there such a value is a TemplateError naming placeholder and value.
 * - On a COMMENT (`#!...`, `# ...`, or after an unquoted `#` that starts a word) it is plain text.
 * - In shell code it is SHELL-QUOTED: unquoted, it becomes one shell word, an array one word per item
 *   (`format=list` makes one word of the joined list); inside `"..."`, `'...'` or `$'...'` on the line
 *   it is escaped for that quoting and stays literal text of the string (an array: items joined by
 *   spaces); in a here-document body it is escaped for the body (`\`, `$`, backquote), or written as
 *   is when the delimiter is quoted (`<<'EOF'`).
 * A value containing a newline is refused in Computer templates (it would inject directives or
 * commands), and wherever a newline would end the construct (comments, directives, here-documents).
 *
 * Rendered with `{ shell: true }` (script Datasets), the values given are taken literally (never read
 * as links), there are no directive lines (a `#` line is a comment), and a newline may stand in a
 * quoted word or string.
 */
export class Template {
  readonly source: string;
  /** Placeholders by name, in order of first appearance. */
  readonly placeholders: ReadonlyMap<string, Placeholder>;
  private readonly lines: { text: string; names: string[]; contexts: PlaceholderContext[] }[];

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
    const texts = source.split("\n");
    const masked: string[] = [];
    const parsed = texts.map((text, index) => {
      if (text.includes(MARK))
        throw new TemplateError("template", undefined, "the template must not contain NUL bytes", {
          line: index + 1,
        });
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
      const rest = text.replace(PLACEHOLDER_RE, MARK);
      const open = UNCLOSED_RE.exec(rest);
      if (open) {
        const shown = rest.slice(open.index).split(MARK)[0].trimEnd();
        throw new TemplateError(
          open[1],
          undefined,
          `unclosed placeholder ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)}: no closing # on the line (write #${open[1]}:...#)`,
          { line: index + 1 },
        );
      }
      masked.push(rest);
      return { text, names };
    });
    const contexts = scan(masked);
    const lines = parsed.map((l, i) => ({ ...l, contexts: contexts[i] }));
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
      const rendered = line.names.map((name, i) =>
        resolver.rendered(name, line.contexts[i] ?? "word", line.text),
      );
      if (rendered.some((v) => v === undefined)) continue; // an optional placeholder is empty
      let i = 0;
      out.push(line.text.replace(PLACEHOLDER_RE, () => rendered[i++] as string));
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

  private error(name: string, message: string, value?: unknown): TemplateError {
    return new TemplateError(name, this.runner, message, value === undefined ? {} : { value });
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

  /**
   * The text for a placeholder standing in `context` on the template line `line`, or undefined when
   * it is optional and empty (the line is dropped).
   */
  rendered(name: string, context: PlaceholderContext = "word", line = ""): string | undefined {
    const p = this.template.placeholders.get(name) as Placeholder;
    const value = this.resolve(name);
    if (isEmpty(value)) {
      if (p.optional) return undefined;
      const why = p.default !== undefined ? `its default ${p.default} has no value` : "no value was given";
      const hint = this.shell ? `appendRun args need key "${name}"` : `set run arg "${name}"`;
      throw this.error(name, `required but ${why} (${hint})`);
    }
    for (const other of p.requires)
      if (isEmpty(this.resolve(other, name)))
        throw this.error(
          name,
          `requires "${other}", which has no value (placeholder ${name} = ${describeValue(value)})`,
        );
    if (this.shell && (context === "directive" || context.startsWith("slurm"))) context = "comment";
    // Arrays without a format: one shell word per item; in a string, items joined by spaces.
    const items = Array.isArray(value) && p.format === undefined ? value : [value];
    const texts = items.map((item) => {
      const text = this.format(p, item);
      if (text.includes("\0")) throw this.error(name, "value must not contain a NUL byte", text);
      const newlineEnds = !["word", "double", "single", "ansi"].includes(context);
      if (/[\r\n]/.test(text) && (newlineEnds || !this.shell))
        throw this.error(
          name,
          `value must not contain a newline (it would inject ${context.startsWith("slurm") || context === "directive" ? "directives" : "lines"}): ${describeValue(text)}`,
          text,
        );
      return text;
    });
    switch (context) {
      case "word":
        return texts.map(shellQuote).join(" ");
      case "double":
        return texts.join(" ").replace(/[\\"$`]/g, "\\$&");
      case "single":
        return texts.join(" ").replace(/'/g, "'\\''");
      case "ansi":
        return texts.join(" ").replace(/[\\']/g, "\\$&");
      case "heredoc":
        return texts.join(" ").replace(/[\\$`]/g, "\\$&");
      case "heredoc-literal":
        return texts.join(" ");
      case "comment":
        return this.scalar(name, texts, p.sep ?? ",");
      case "slurm":
      case "slurm-quoted":
      case "directive":
        return this.directive(p, this.scalar(name, texts, p.sep ?? ","), context, line);
    }
  }

  /**
   * A value on a scheduler directive line. sbatch splits `#SBATCH` lines into arguments at unquoted
   * whitespace, honours "..." and '...' quotes and backslash escapes (also inside quotes), and ends
   * the line at an unquoted `#` (Slurm's src/sbatch/opt.c, `_get_argument`; a backslash does NOT keep
   * whitespace in an argument): a value with whitespace, quotes, backslashes or `#` is written in
   * double quotes with `\` and quotes backslash-escaped (inside quotes the line already has: escaped
   * only). sbatch also blanks out the words "hetjob" and "packjob" anywhere on the line: refused.
   * Other schedulers document no quoting of directive values: whitespace, quotes, backslashes and `#`
   * are refused there.
   */
  private directive(
    p: Placeholder,
    text: string,
    context: "slurm" | "slurm-quoted" | "directive",
    line: string,
  ): string {
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(text))
      throw this.error(p.name, `value ${describeValue(text)} has control characters (line "${line}")`, text);
    if (context !== "directive") {
      if (/hetjob|packjob/i.test(text))
        throw this.error(
          p.name,
          `value ${describeValue(text)} cannot stand on the directive line "${line}": sbatch blanks out the words hetjob and packjob there`,
          text,
        );
      if (!/[\s"'\\#]/.test(text)) return text;
      const escaped = text.replace(/["'\\]/g, "\\$&");
      return context === "slurm" ? `"${escaped}"` : escaped;
    }
    if (/[\s"'\\#]/.test(text))
      throw this.error(
        p.name,
        `value ${describeValue(text)} cannot stand on the directive line "${line}": the scheduler would split or misread it (whitespace, quotes, backslashes and # are refused there; #SBATCH lines quote them)`,
        text,
      );
    return text;
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
