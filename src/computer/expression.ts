/**
 * A tiny, safe evaluator for placeholder links such as `{nodes*tasksPerNode}` or `{timeout}`.
 * Grammar (no eval):
 *   expr    := coalesce
 *   coalesce:= sum ('??' sum)*          -- left if it has a value, else right
 *   sum     := product (('+'|'-') product)*
 *   product := unary (('*'|'/') unary)*
 *   unary   := '-' unary | atom
 *   atom    := number | identifier | '(' expr ')'
 * An identifier resolves through `lookup`; `undefined` means "no value" and makes any arithmetic it
 * takes part in have no value too (so an optional placeholder linked to it is dropped). A lone
 * identifier passes its value through unchanged (a string or an array, not only numbers).
 */

export type Lookup = (name: string) => unknown;

/** Thrown for malformed expressions or non-numeric operands; the caller wraps it in a TemplateError. */
export class ExpressionError extends Error {}

type Token = { kind: "num"; value: number } | { kind: "id"; value: string } | { kind: "op"; value: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\?\?|[-+*/()]))/y;
  let pos = 0;
  while (pos < source.length) {
    if (/^\s*$/.test(source.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(source);
    if (!m) throw new ExpressionError(`unexpected character ${JSON.stringify(source[pos])} in {${source}}`);
    if (m[1] !== undefined) tokens.push({ kind: "num", value: Number(m[1]) });
    else if (m[2] !== undefined) tokens.push({ kind: "id", value: m[2] });
    else tokens.push({ kind: "op", value: m[3] });
    pos = re.lastIndex;
  }
  return tokens;
}

const isEmpty = (v: unknown) =>
  v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);

function toNumber(v: unknown, source: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) throw new ExpressionError(`{${source}}: ${JSON.stringify(v)} is not a number`);
  return n;
}

/** The identifiers an expression mentions (used to check links at parse time). */
export function expressionNames(source: string): string[] {
  return tokenize(source)
    .filter((t): t is { kind: "id"; value: string } => t.kind === "id")
    .map((t) => t.value);
}

export function evaluate(source: string, lookup: Lookup): unknown {
  const tokens = tokenize(source);
  if (tokens.length === 0) throw new ExpressionError("empty expression {}");
  let i = 0;
  const peek = () => tokens[i];
  const isOp = (value: string) => peek()?.kind === "op" && peek()?.value === value;

  const arith = (a: unknown, b: unknown, op: string): unknown => {
    if (isEmpty(a) || isEmpty(b)) return undefined;
    const x = toNumber(a, source);
    const y = toNumber(b, source);
    if (op === "+") return x + y;
    if (op === "-") return x - y;
    if (op === "*") return x * y;
    if (y === 0) throw new ExpressionError(`{${source}}: division by zero`);
    return x / y;
  };

  function atom(): unknown {
    const t = tokens[i++];
    if (!t) throw new ExpressionError(`{${source}}: unexpected end`);
    if (t.kind === "num") return t.value;
    if (t.kind === "id") return lookup(t.value);
    if (t.value === "(") {
      const v = coalesce();
      if (!isOp(")")) throw new ExpressionError(`{${source}}: missing ")"`);
      i++;
      return v;
    }
    throw new ExpressionError(`{${source}}: unexpected "${t.value}"`);
  }
  function unary(): unknown {
    if (isOp("-")) {
      i++;
      const v = unary();
      return isEmpty(v) ? undefined : -toNumber(v, source);
    }
    return atom();
  }
  function product(): unknown {
    let v = unary();
    while (isOp("*") || isOp("/")) {
      const op = tokens[i++].value as string;
      v = arith(v, unary(), op);
    }
    return v;
  }
  function sum(): unknown {
    let v = product();
    while (isOp("+") || isOp("-")) {
      const op = tokens[i++].value as string;
      v = arith(v, product(), op);
    }
    return v;
  }
  function coalesce(): unknown {
    let v = sum();
    while (isOp("??")) {
      i++;
      const right = sum();
      if (isEmpty(v)) v = right;
    }
    return v;
  }

  const result = coalesce();
  if (i !== tokens.length) throw new ExpressionError(`{${source}}: unexpected "${String(tokens[i].value)}"`);
  return result;
}
