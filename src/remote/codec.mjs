// @ts-check
/**
 * Faithful JSON encoding of plain data, shared by the driver and the remote runtime (Node built-ins
 * only, runs on Node 18). Plain JSON loses types; this keeps them with small tagged objects:
 *   Date -> {"$date": iso}      BigInt -> {"$bigint": "123"}   Set -> {"$set": [...]}
 *   Map -> {"$map": [[k, v]]}   undefined -> {"$undefined": 1} NaN/±Infinity/-0 -> {"$num": "NaN"}
 *   Uint8Array/Buffer -> {"$bytes": base64}
 *   an object with one key that starts with "$" -> {"$obj": {...}} (so user data never looks like a tag)
 * Empty arrays, Sets and Maps survive, and so do own keys named `__proto__` (made with
 * defineProperty, never by assignment). Functions, symbols, class instances, cycles and values nested
 * deeper than MAX_DEPTH containers are refused with an error naming the path of the bad value
 * (`err.path`).
 */

/**
 * How many containers (objects, arrays, Sets, Maps) deep a value may nest, the outermost counting as
 * one. Far below what the stack of any supported Node allows for encoding and decoding (JSON, v8),
 * so that too deep a value is refused with a message instead of a RangeError on either side.
 */
export const MAX_DEPTH = 1000;

/**
 * @param {unknown} value
 * @param {string} [path]
 * @returns {string}
 */
export function encode(value, path = "value", maxDepth = MAX_DEPTH) {
  return JSON.stringify(toTagged(value, path, new Set(), 1, maxDepth));
}

/**
 * @param {string} text
 * @returns {unknown}
 */
export function decode(text) {
  return fromTagged(JSON.parse(text));
}

/**
 * The tagged form of a number, bigint or undefined (what plain JSON cannot carry: NaN, ±Infinity,
 * -0, bigints, undefined); other numbers as they are. Shared with the identity hash.
 * @param {number | bigint | undefined} value
 * @returns {unknown}
 */
export function tagScalar(value) {
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value === undefined) return { $undefined: 1 };
  if (Number.isNaN(value)) return { $num: "NaN" };
  if (value === Number.POSITIVE_INFINITY) return { $num: "Infinity" };
  if (value === Number.NEGATIVE_INFINITY) return { $num: "-Infinity" };
  if (Object.is(value, -0)) return { $num: "-0" };
  return value;
}

/**
 * Convert to a JSON-safe tagged tree.
 * @param {unknown} value
 * @param {string} path
 * @param {Set<object>} seen
 * @param {number} [depth] how many containers deep `value` is if it is one (the outermost is 1)
 * @param {number} [maxDepth]
 * @returns {unknown}
 */
export function toTagged(value, path, seen, depth = 1, maxDepth = MAX_DEPTH) {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
    case "bigint":
    case "undefined":
      return tagScalar(value);
    case "function":
    case "symbol":
      throw codecError(path, value, `is a ${typeof value}, which cannot be sent to another process`);
  }
  if (value === null) return null;
  const obj = /** @type {object} */ (value);
  if (seen.has(obj)) throw codecError(path, value, "refers to itself (circular reference)");
  if (depth > maxDepth) throw depthError(path, value, maxDepth);
  const d = depth + 1;
  seen.add(obj);
  try {
    // Array.from visits holes too (as undefined): map() would keep them and JSON would make them null.
    if (Array.isArray(obj)) return Array.from(obj, (v, i) => toTagged(v, `${path}[${i}]`, seen, d, maxDepth));
    if (obj instanceof Date) {
      if (Number.isNaN(obj.getTime())) throw codecError(path, value, "is an invalid Date");
      return { $date: obj.toISOString() };
    }
    if (obj instanceof Set)
      return { $set: [...obj].map((v, i) => toTagged(v, `${path}<set ${i}>`, seen, d, maxDepth)) };
    if (obj instanceof Map) {
      return {
        $map: [...obj].map(([k, v], i) => [
          toTagged(k, `${path}<key ${i}>`, seen, d, maxDepth),
          toTagged(v, `${path}<value ${i}>`, seen, d, maxDepth),
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
      put(
        out,
        k,
        toTagged(/** @type {Record<string, unknown>} */ (obj)[k], `${path}.${k}`, seen, d, maxDepth),
      );
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
        for (const [kk, vv] of Object.entries(o.$obj)) put(out, kk, fromTagged(vv));
        return out;
      }
    }
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const k of keys) put(out, k, fromTagged(o[k]));
  return out;
}

/**
 * Set an own property, even one named `__proto__` (which an assignment would take for the prototype).
 * @param {Record<string, unknown>} obj @param {string} key @param {unknown} value
 */
export function put(obj, key, value) {
  if (key === "__proto__")
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * The refusal of a value nested deeper than the limit; the path is shortened in the message.
 * @param {string} path @param {unknown} value @param {number} maxDepth
 */
export function depthError(path, value, maxDepth) {
  const shown = path.length > 120 ? `${path.slice(0, 60)}…${path.slice(-40)}` : path;
  return codecError(
    shown,
    value,
    `nests deeper than ${maxDepth} levels (the limit): flatten it or send it as a string`,
  );
}

/**
 * @param {string} path
 * @param {unknown} value
 * @param {string} reason
 */
export function codecError(path, value, reason) {
  const err = /** @type {Error & {path: string, value: unknown, reason: string}} */ (
    new TypeError(`${path} ${reason}`)
  );
  err.path = path;
  err.value = value;
  err.reason = reason;
  return err;
}
