import { createHash } from "node:crypto";
import { put, tagScalar } from "../remote/codec.mjs";

/**
 * Canonical JSON: object keys sorted, so equal data hashes equally in every process and machine.
 * Values are tagged as the codec tags them (`{"$num":"NaN"}`, `{"$undefined":1}`, `{"$date":…}`…),
 * so NaN, ±Infinity, -0, undefined and null all differ, and own `__proto__` keys count. For plain
 * JSON data the text is the plain JSON with sorted keys, as it always was: identities of runners
 * with ordinary args do not change. An object whose only key is one of the tags is wrapped
 * (`{"$obj":…}`) so that it never reads as the tagged value. What only the v8 serializer carries
 * has tags of its own (typed arrays, RegExp, errors, boxed primitives, cycles as `{"$ref":levels up}`).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value, []));
}

const TAGS = new Set([
  "$date",
  "$bigint",
  "$set",
  "$map",
  "$undefined",
  "$num",
  "$bytes",
  "$obj",
  "$typed",
  "$regexp",
  "$error",
  "$box",
  "$ref",
]);

function canonical(value: unknown, ancestors: object[]): unknown {
  switch (typeof value) {
    case "number":
    case "bigint":
    case "undefined":
      return tagScalar(value);
    case "function":
    case "symbol":
      return { $unsendable: String(value) };
    case "string":
    case "boolean":
      return value;
  }
  if (value === null) return null;
  const obj = value as object;
  const up = ancestors.lastIndexOf(obj);
  if (up >= 0) return { $ref: ancestors.length - up };
  ancestors.push(obj);
  try {
    const c = (v: unknown) => canonical(v, ancestors);
    if (Array.isArray(obj)) return Array.from(obj, c);
    if (obj instanceof Date) return { $date: Number.isNaN(obj.getTime()) ? "invalid" : obj.toISOString() };
    if (obj instanceof Set) return { $set: [...obj].map(c) };
    if (obj instanceof Map) return { $map: [...obj].map(([k, v]) => [c(k), c(v)]) };
    if (obj instanceof Uint8Array && (obj.constructor === Uint8Array || Buffer.isBuffer(obj)))
      return { $bytes: Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString("base64") };
    if (ArrayBuffer.isView(obj))
      return {
        $typed: [
          obj.constructor.name,
          Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString("base64"),
        ],
      };
    if (obj instanceof ArrayBuffer) return { $typed: ["ArrayBuffer", Buffer.from(obj).toString("base64")] };
    if (obj instanceof RegExp) return { $regexp: [obj.source, obj.flags] };
    if (obj instanceof Error) return { $error: [obj.name, obj.message] };
    if (obj instanceof Number || obj instanceof String || obj instanceof Boolean || obj instanceof BigInt)
      return { $box: c(obj.valueOf()) };
    const out: Record<string, unknown> = {};
    const keys = Object.keys(obj).sort();
    for (const k of keys) put(out, k, c((obj as Record<string, unknown>)[k]));
    if (keys.length === 1 && TAGS.has(keys[0])) return { $obj: out };
    return out;
  } finally {
    ancestors.pop();
  }
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Stable hash of any data (see canonicalJson). */
export function hashOf(value: unknown): string {
  return sha256(canonicalJson(value));
}
