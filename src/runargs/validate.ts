import { parseDuration } from "../computer/duration.js";
import { InvalidArgumentError } from "../shared/errors.js";
import { isOtherHome } from "../shared/paths.js";

const BOOLEAN_KEYS = ["skip", "force", "forceIgnoresSuccess", "asynchronous"] as const;
const DIR_KEYS = ["localDir", "remoteDir", "runDir"] as const;
const POSITIVE_INT_KEYS = ["runnersPerJob", "maxProcesses", "concurrency"] as const;

/**
 * Check the types of the native run args and that custom values are plain data. `where` names the
 * level (e.g. "Dataset run args") so errors say which call was wrong. Throws InvalidArgumentError.
 */
export function validateRunArgs(args: Record<string, unknown>, where: string): void {
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new InvalidArgumentError(where, args, "an object of run args");
  }
  // An option of a call, never a run arg: kept as one it would do nothing, and a run meant as a
  // dry run would submit.
  if ("dryRun" in args) {
    throw new InvalidArgumentError(
      `${where}.dryRun`,
      args.dryRun,
      "no dryRun here: it is an option of the call itself, run({ dryRun: true }), not a run arg",
    );
  }
  for (const key of BOOLEAN_KEYS) {
    if (key in args && args[key] !== undefined && typeof args[key] !== "boolean") {
      throw new InvalidArgumentError(`${where}.${key}`, args[key], "a boolean");
    }
  }
  for (const key of DIR_KEYS) {
    if (key in args && args[key] !== undefined) validateDir(`${where}.${key}`, args[key], key === "runDir");
    // Placeholders are filled per runner in runDir only: elsewhere they would be a folder's name.
    if (
      key !== "runDir" &&
      typeof args[key] === "string" &&
      /\{(name|index|dataset)\}/.test(args[key] as string)
    )
      throw new InvalidArgumentError(
        `${where}.${key}`,
        args[key],
        'a folder without {name}, {index} or {dataset} (they are filled per runner in runDir only, e.g. runDir: "{name}")',
      );
  }
  for (const key of POSITIVE_INT_KEYS) {
    const v = args[key];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) > 0)) {
      throw new InvalidArgumentError(`${where}.${key}`, v, "a positive integer");
    }
  }
  // Each runner's time limit: the runtime enforces it, and a scheduler's job time falls back to it.
  if (args.timeout !== undefined && !(parseDuration(args.timeout)! > 0)) {
    throw new InvalidArgumentError(
      `${where}.timeout`,
      args.timeout,
      'a positive number of seconds or a duration such as "90m" or "01:30:00"',
    );
  }
  if (args.extraFilesRecv !== undefined) checkRecvPatterns(`${where}.extraFilesRecv`, args.extraFilesRecv);
  for (const [key, value] of Object.entries(args)) checkPlain(`${where}.${key}`, value, new Set());
}

/**
 * Folders may hold spaces and shell metacharacters (everything is quoted), but not bytes that no
 * file list or shell word can carry: NUL, newline, carriage return.
 */
function validateDir(name: string, value: unknown, relative: boolean): void {
  if (typeof value !== "string" || value.trim() === "") {
    throw new InvalidArgumentError(name, value, "a non-empty folder path string");
  }
  if (/[\0\n\r]/.test(value))
    throw new InvalidArgumentError(name, value, "a path without NUL or line breaks");
  if (isOtherHome(value))
    throw new InvalidArgumentError(
      name,
      value,
      "a path that is absolute, relative, `~` or starts with `~/`",
      "`~user/…` is not expanded: give the absolute path",
    );
  if (relative) {
    if (value.startsWith("/")) throw new InvalidArgumentError(name, value, "a path relative to remoteDir");
    if (value.startsWith("~"))
      throw new InvalidArgumentError(name, value, "a path relative to remoteDir", "`~` is not a home there");
    if (value.split("/").includes(".."))
      throw new InvalidArgumentError(name, value, "a path inside remoteDir (no '..')");
    for (const m of value.matchAll(/\{([^{}]*)\}/g)) {
      if (!(RUN_DIR_PLACEHOLDERS as readonly string[]).includes(m[1]))
        throw new InvalidArgumentError(
          name,
          value,
          `a path inside remoteDir whose placeholders are ${RUN_DIR_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}`,
          `{${m[1]}} is not one of them`,
        );
    }
  }
}

/** What `runDir` may hold in braces, replaced for each runner (see expandRunDir). */
export const RUN_DIR_PLACEHOLDERS = ["name", "index", "dataset"] as const;

/**
 * A runner's `runDir` with its placeholders filled: `{name}` the runner's name, `{index}` its index,
 * `{dataset}` the Dataset's name. Names are plain (letters, digits, '.', '_', '-'), so what comes out
 * stays a relative path inside remoteDir.
 */
export function expandRunDir(
  runDir: string | undefined,
  values: { name: string; index: number; dataset: string },
): string | undefined {
  if (runDir === undefined) return undefined;
  return runDir
    .replace(/\{(name|index|dataset)\}/g, (_m, k: "name" | "index" | "dataset") => String(values[k]))
    .replace(/\/+$/, "");
}

/**
 * `extraFilesRecv`: an array of paths or glob patterns (`*`, `?`, `[...]`, `**`), each relative to the
 * runner's working folder and inside it: not absolute, no `~`, no `.` or `..` component, one line.
 */
function checkRecvPatterns(name: string, value: unknown): void {
  const rule =
    "an array of paths or glob patterns relative to the runner's working folder (remoteDir or remoteDir/runDir): not absolute, no '~', no '.' or '..' component, no line breaks";
  if (!Array.isArray(value)) throw new InvalidArgumentError(name, value, rule);
  for (const p of value) {
    if (typeof p !== "string" || p.trim() === "" || /[\0\n\r]/.test(p))
      throw new InvalidArgumentError(name, value, rule, `${JSON.stringify(p)} is not a usable path`);
    if (p.startsWith("/")) throw new InvalidArgumentError(name, value, rule, `${p} is absolute`);
    if (p.startsWith("~")) throw new InvalidArgumentError(name, value, rule, `${p}: '~' is not a home there`);
    const parts = p.replace(/\/+$/, "").split("/");
    if (parts.some((c) => c === ".." || c === "." || c === ""))
      throw new InvalidArgumentError(name, value, rule, `${p} leaves (or names) the working folder itself`);
  }
}

function checkPlain(path: string, value: unknown, seen: Set<object>): void {
  const t = typeof value;
  if (t === "function" || t === "symbol") {
    throw new InvalidArgumentError(path, value, "plain data (string, number, boolean, null, array, object)");
  }
  if (value === null || t !== "object") return;
  const obj = value as object;
  if (seen.has(obj)) throw new InvalidArgumentError(path, "[circular]", "plain data without cycles");
  seen.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((v, i) => {
      checkPlain(`${path}[${i}]`, v, seen);
    });
  } else if (!(obj instanceof Date)) {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new InvalidArgumentError(
        path,
        value,
        "plain data (string, number, boolean, null, array, object)",
        `an instance of ${proto?.constructor?.name || "a class"}`,
      );
    }
    for (const [k, v] of Object.entries(obj)) checkPlain(`${path}.${k}`, v, seen);
  }
  seen.delete(obj);
}
