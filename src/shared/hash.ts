import { createHash } from "node:crypto";

/** Canonical JSON: object keys sorted, so equal data hashes equally in every process and machine. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (value instanceof Set) return { $set: [...value].map(sortKeys) };
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [sortKeys(k), sortKeys(v)]) };
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Stable hash of any plain data. */
export function hashOf(value: unknown): string {
  return sha256(canonicalJson(value));
}
