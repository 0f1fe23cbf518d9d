// @ts-check
/**
 * The serialisers a Dataset may choose (`serializer` option) for its args and results, on the driver
 * and on the far side (Node >= 18, built-ins only; YAML's parser is handed in: the driver passes the
 * `yaml` package, the runtime the bundle of it shipped beside this file as `yaml.mjs`).
 *
 * Each turns a value into its *wire form*, a JSON value that sits in the batch document (args), in
 * result documents and in the database, and back:
 *   json  the tagged JSON tree of codec.mjs (the default, and the only form older versions know);
 *   yaml  a string of YAML 1.2 text (plus `!!timestamp` for Dates and `!!binary` for bytes);
 *   v8    a string: base64 of node:v8 serialize (structured clone: typed arrays, RegExp, Error,
 *         cycles and shared references too).
 * Every serialiser refuses what it cannot carry faithfully, naming the path of the value, and values
 * nested deeper than its `maxDepth` (error with `path`, `value` and `reason`, as the codec's).
 */
import v8 from "node:v8";
import { codecError, depthError, fromTagged, MAX_DEPTH, put, toTagged } from "./codec.mjs";

/** The serialiser names; json is the default. */
export const SERIALIZERS = /** @type {const} */ (["json", "yaml", "v8"]);

/**
 * The YAML library nests a stack frame chain per level (parsing and printing), so YAML allows less.
 */
export const YAML_MAX_DEPTH = 200;

/**
 * @typedef {{ stringify(value: unknown, options?: object): string,
 *   parse(text: string, options?: object): unknown }} YamlLib
 * @typedef {{ name: "json" | "yaml" | "v8", maxDepth: number,
 *   toWire(value: unknown, path: string): unknown, fromWire(node: unknown): unknown }} Serializer
 */

const YAML_OPTIONS = {
  customTags: ["timestamp", "binary"],
  // No folding of long strings, no anchors for objects met twice: plain, readable, exact text.
  lineWidth: 0,
  aliasDuplicateObjects: false,
};

/**
 * The serialiser of this name. `yaml` is needed for "yaml" only.
 * @param {string} name @param {YamlLib} [yaml] @returns {Serializer}
 */
export function serializer(name, yaml) {
  switch (name) {
    case "json":
      return {
        name: "json",
        maxDepth: MAX_DEPTH,
        toWire: (value, path) => toTagged(value, path, new Set(), 1, MAX_DEPTH),
        fromWire: (node) => fromTagged(node),
      };
    case "yaml": {
      if (!yaml) throw new Error("internal error: the yaml serializer needs the YAML library");
      const lib = yaml;
      return {
        name: "yaml",
        maxDepth: YAML_MAX_DEPTH,
        toWire: (value, path) => {
          checkYaml(value, path, new Set(), 1);
          return lib.stringify(value, YAML_OPTIONS);
        },
        fromWire: (node) => {
          const text = wireString(node, "yaml");
          checkYamlText(text);
          return plainBytes(lib.parse(text, YAML_OPTIONS));
        },
      };
    }
    case "v8":
      return {
        name: "v8",
        maxDepth: MAX_DEPTH,
        toWire: (value, path) => {
          checkV8(value, path, new Set(), 1);
          return v8.serialize(value).toString("base64");
        },
        fromWire: (node) => readV8(Buffer.from(wireString(node, "v8"), "base64")),
      };
  }
  throw new Error(`unknown serializer ${JSON.stringify(name)}, expected one of ${SERIALIZERS.join(", ")}`);
}

/**
 * How deep YAML text may nest before the `yaml` library is asked to parse it. Its parser recurses
 * once or more per level and overflows V8's stack near 800 levels; after such an overflow the same
 * process can abort on the next parse, so text that could nest that deep is refused unparsed.
 */
export const YAML_PARSE_LIMIT = 500;

/**
 * Throw (an Error whose message says so) when YAML text might nest deeper than YAML_PARSE_LIMIT. A
 * bound, not a parse: each level needs one more column of indentation, one more leading `- `/`? `
 * marker, or one more open `[`/`{`, so their sum on a line bounds the depth there. Brackets inside
 * quoted strings count too: such text is refused although it nests less.
 * @param {string} text
 */
export function checkYamlText(text) {
  let flow = 0;
  let lineStart = true;
  let block = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      lineStart = true;
      block = 0;
      continue;
    }
    if (lineStart) {
      // Indentation and the compact `- - x` / `? x` markers at the start of a line.
      if (c === 32 || c === 9) {
        block++;
        continue;
      }
      if ((c === 45 || c === 63) && (text.charCodeAt(i + 1) === 32 || text.charCodeAt(i + 1) === 9)) {
        block += 2;
        i++;
        continue;
      }
      lineStart = false;
    }
    if (c === 91 || c === 123) flow++;
    else if ((c === 93 || c === 125) && flow > 0) flow--;
    if (flow + block > YAML_PARSE_LIMIT)
      throw new Error(`YAML nested deeper than ${YAML_PARSE_LIMIT} levels (refused unparsed)`);
  }
  if (block > YAML_PARSE_LIMIT)
    throw new Error(`YAML nested deeper than ${YAML_PARSE_LIMIT} levels (refused unparsed)`);
}

/** @param {unknown} node @param {string} name @returns {string} */
function wireString(node, name) {
  if (typeof node !== "string")
    throw new TypeError(`the ${name} serializer expects a string, got ${typeof node}`);
  return node;
}

/**
 * The class name of an object that is not plain, or undefined.
 * @param {object} obj
 */
function className(obj) {
  const proto = Object.getPrototypeOf(obj);
  if (proto === Object.prototype || proto === null) return undefined;
  return proto?.constructor?.name ?? "unknown";
}

/**
 * What YAML carries: strings (any, escaped as needed), numbers (NaN, ±Infinity and -0 too), booleans,
 * null, arrays, plain objects, Dates and Uint8Array/Buffer. Not: undefined (YAML would drop it or
 * make it null), BigInt, Map, Set, cycles, class instances.
 * @param {unknown} value @param {string} path @param {Set<object>} seen @param {number} depth
 */
function checkYaml(value, path, seen, depth) {
  const no = (/** @type {string} */ why) =>
    codecError(path, value, `${why}, which YAML cannot carry (the json serializer can)`);
  switch (typeof value) {
    case "string":
    case "boolean":
    case "number":
      return;
    case "undefined":
      throw codecError(
        path,
        value,
        "has no YAML form (YAML would drop it or make it null): use null, or the json serializer",
      );
    case "bigint":
      throw no("is a BigInt");
    case "function":
    case "symbol":
      throw codecError(path, value, `is a ${typeof value}, which cannot be sent to another process`);
  }
  if (value === null) return;
  const obj = /** @type {object} */ (value);
  if (seen.has(obj)) throw codecError(path, value, "refers to itself (circular reference)");
  if (depth > YAML_MAX_DEPTH) throw depthError(path, value, YAML_MAX_DEPTH);
  if (obj instanceof Date) {
    if (Number.isNaN(obj.getTime())) throw codecError(path, value, "is an invalid Date");
    return;
  }
  if (obj instanceof Uint8Array) return;
  if (obj instanceof Map) throw no("is a Map");
  if (obj instanceof Set) throw no("is a Set");
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) checkYaml(obj[i], `${path}[${i}]`, seen, depth + 1);
      return;
    }
    const name = className(obj);
    if (name !== undefined)
      throw codecError(
        path,
        value,
        `is an instance of ${name}; YAML carries only plain objects, arrays, Date and Uint8Array`,
      );
    const o = /** @type {Record<string, unknown>} */ (obj);
    for (const k of Object.keys(o)) checkYaml(o[k], `${path}.${k}`, seen, depth + 1);
  } finally {
    seen.delete(obj);
  }
}

/**
 * YAML's `!!binary` gives Buffers: plain Uint8Arrays, as the other serialisers give.
 * @param {unknown} v @returns {unknown}
 */
export function plainBytes(v) {
  if (v === null || typeof v !== "object" || v instanceof Date) return v;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = plainBytes(v[i]);
    return v;
  }
  const o = /** @type {Record<string, unknown>} */ (v);
  for (const k of Object.keys(o)) {
    const b = plainBytes(o[k]);
    if (b !== o[k]) put(o, k, b);
  }
  return v;
}

/** Built-in classes whose instances v8 serialize keeps as they are. */
const V8_CLASSES = [Date, RegExp, Map, Set, ArrayBuffer, Error, Number, String, Boolean, BigInt];

/**
 * What v8 serialize carries faithfully: everything structured clone knows (plain objects, arrays,
 * Date, RegExp, Map, Set, ArrayBuffer and its views, Buffer, errors, BigInt, boxed primitives, cycles
 * and shared references). Not: functions, symbols, other class instances (v8 would quietly make
 * them plain objects).
 * @param {unknown} value @param {string} path @param {Set<object>} seen @param {number} depth
 */
function checkV8(value, path, seen, depth) {
  if (typeof value === "function" || typeof value === "symbol")
    throw codecError(path, value, `is a ${typeof value}, which cannot be sent to another process`);
  if (value === null || typeof value !== "object") return;
  const obj = /** @type {object} */ (value);
  // Met before: v8 writes a reference to it, nothing deeper (cycles and shared objects are fine).
  if (seen.has(obj)) return;
  if (depth > MAX_DEPTH) throw depthError(path, value, MAX_DEPTH);
  seen.add(obj);
  const d = depth + 1;
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return;
  if (obj instanceof Map) {
    let i = 0;
    for (const [k, v] of obj) {
      checkV8(k, `${path}<key ${i}>`, seen, d);
      checkV8(v, `${path}<value ${i}>`, seen, d);
      i++;
    }
    return;
  }
  if (obj instanceof Set) {
    let i = 0;
    for (const v of obj) checkV8(v, `${path}<set ${i++}>`, seen, d);
    return;
  }
  if (!Array.isArray(obj) && className(obj) !== undefined && !V8_CLASSES.some((c) => obj instanceof c))
    throw codecError(
      path,
      value,
      `is an instance of ${className(obj)}, which v8 serialize would turn into a plain object`,
    );
  const o = /** @type {Record<string, unknown>} */ (obj);
  const keys = Array.isArray(obj) ? obj.map((_, i) => i) : Object.keys(o);
  for (const k of keys) checkV8(o[k], Array.isArray(obj) ? `${path}[${k}]` : `${path}.${k}`, seen, d);
}

/**
 * v8 deserialize, with a message that says what is wrong when the data comes from a newer V8 than
 * this Node's (its format version is byte 1 of the header).
 * @param {Buffer} buf
 */
function readV8(buf) {
  try {
    return v8.deserialize(buf);
  } catch (e) {
    const version = buf[0] === 0xff ? buf[1] : undefined;
    throw new Error(
      `cannot read v8-serialised data (format version ${version ?? "unknown"}) with Node ${process.version}: ${/** @type {Error} */ (e).message}; the Node on both sides must read each other's v8 format (Node 18 to 22 write version 15), or use the json serializer`,
    );
  }
}
