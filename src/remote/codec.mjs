// @ts-check
/**
 * Faithful JSON encoding of plain data, shared by the driver and the remote runtime (Node built-ins
 * only, runs on Node 18). Plain JSON loses types; this keeps them with small tagged objects:
 *   Date -> {"$date": iso}      BigInt -> {"$bigint": "123"}   Set -> {"$set": [...]}
 *   Map -> {"$map": [[k, v]]}   undefined -> {"$undefined": 1} NaN/±Infinity/-0 -> {"$num": "NaN"}
 *   Uint8Array/Buffer -> {"$bytes": base64}
 *   an object with one key that starts with "$" -> {"$obj": {...}} (so user data never looks like a tag)
 * Empty arrays, Sets and Maps survive. Functions, symbols, class instances and cycles are refused with
 * an error naming the path of the bad value (`err.path`).
 */

/**
 * @param {unknown} value
 * @param {string} [path]
 * @returns {string}
 */
export function encode(value, path = "value") {
  return JSON.stringify(toTagged(value, path, new Set()));
}

/**
 * @param {string} text
 * @returns {unknown}
 */
export function decode(text) {
  return fromTagged(JSON.parse(text));
}

/**
 * Convert to a JSON-safe tagged tree.
 * @param {unknown} value
 * @param {string} path
 * @param {Set<object>} seen
 * @returns {unknown}
 */
export function toTagged(value, path, seen) {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isNaN(value)) return { $num: "NaN" };
      if (value === Number.POSITIVE_INFINITY) return { $num: "Infinity" };
      if (value === Number.NEGATIVE_INFINITY) return { $num: "-Infinity" };
      if (Object.is(value, -0)) return { $num: "-0" };
      return value;
    case "bigint":
      return { $bigint: value.toString() };
    case "undefined":
      return { $undefined: 1 };
    case "function":
    case "symbol":
      throw codecError(path, value, `is a ${typeof value}, which cannot be sent to another process`);
  }
  if (value === null) return null;
  const obj = /** @type {object} */ (value);
  if (seen.has(obj)) throw codecError(path, value, "refers to itself (circular reference)");
  seen.add(obj);
  try {
    // Array.from visits holes too (as undefined): map() would keep them and JSON would make them null.
    if (Array.isArray(obj)) return Array.from(obj, (v, i) => toTagged(v, `${path}[${i}]`, seen));
    if (obj instanceof Date) {
      if (Number.isNaN(obj.getTime())) throw codecError(path, value, "is an invalid Date");
      return { $date: obj.toISOString() };
    }
    if (obj instanceof Set) return { $set: [...obj].map((v, i) => toTagged(v, `${path}<set ${i}>`, seen)) };
    if (obj instanceof Map) {
      return {
        $map: [...obj].map(([k, v], i) => [
          toTagged(k, `${path}<key ${i}>`, seen),
          toTagged(v, `${path}<value ${i}>`, seen),
        ]),
      };
    }
    if (obj instanceof Uint8Array)
      return { $bytes: Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString("base64") };
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = proto?.constructor?.name ?? "unknown";
      throw codecError(
        path,
        value,
        `is an instance of ${name}; only plain objects, arrays, Date, Map, Set, BigInt and Uint8Array can be sent`,
      );
    }
    /** @type {Record<string, unknown>} */
    const out = {};
    const keys = Object.keys(obj);
    for (const k of keys)
      out[k] = toTagged(/** @type {Record<string, unknown>} */ (obj)[k], `${path}.${k}`, seen);
    if (keys.length === 1 && keys[0].startsWith("$")) return { $obj: out };
    return out;
  } finally {
    seen.delete(obj);
  }
}

/**
 * @param {unknown} node
 * @returns {unknown}
 */
export function fromTagged(node) {
  if (node === null || typeof node !== "object") return node;
  if (Array.isArray(node)) return node.map(fromTagged);
  const o = /** @type {Record<string, any>} */ (node);
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const k = keys[0];
    switch (k) {
      case "$date":
        return new Date(o.$date);
      case "$bigint":
        return BigInt(o.$bigint);
      case "$set":
        return new Set(o.$set.map(fromTagged));
      case "$map":
        return new Map(
          o.$map.map((/** @type {[unknown, unknown]} */ [a, b]) => [fromTagged(a), fromTagged(b)]),
        );
      case "$undefined":
        return undefined;
      case "$num":
        return Number(o.$num);
      case "$bytes":
        return new Uint8Array(Buffer.from(o.$bytes, "base64"));
      case "$obj": {
        /** @type {Record<string, unknown>} */
        const out = {};
        for (const [kk, vv] of Object.entries(o.$obj)) out[kk] = fromTagged(vv);
        return out;
      }
    }
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const k of keys) out[k] = fromTagged(o[k]);
  return out;
}

/**
 * @param {string} path
 * @param {unknown} value
 * @param {string} reason
 */
function codecError(path, value, reason) {
  const err = /** @type {Error & {path: string, value: unknown, reason: string}} */ (
    new TypeError(`${path} ${reason}`)
  );
  err.path = path;
  err.value = value;
  err.reason = reason;
  return err;
}
