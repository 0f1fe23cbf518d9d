import { InvalidArgumentError } from "../shared/errors.js";
import type { RunArgs } from "./defaults.js";
import { validateRunArgs } from "./validate.js";

/**
 * The three levels merged: Dataset, overlaid by Runner, overlaid by the temporary args of the
 * current run(). Returns a new object; no level is mutated.
 */
export function deriveRunArgs(dataset: RunArgs, runner: RunArgs, temporary: RunArgs = {}): RunArgs {
  return { ...dataset, ...runner, ...temporary };
}

/**
 * setRunArgs(keys, vals) or setRunArgs(key, val) on one level's run-args object.
 * Validates everything before writing anything.
 */
export function setRunArgsOn(target: RunArgs, where: string, keys: unknown, vals: unknown): void {
  const update: Record<string, unknown> = {};
  if (Array.isArray(keys)) {
    if (!Array.isArray(vals))
      throw new InvalidArgumentError(`${where} values`, vals, "an array as long as the keys");
    if (keys.length !== vals.length) {
      throw new InvalidArgumentError(
        `${where} values`,
        vals,
        `${keys.length} value(s) to match keys ${JSON.stringify(keys)}`,
        `got ${vals.length}`,
      );
    }
    keys.forEach((k, i) => {
      checkKey(where, k);
      update[k as string] = vals[i];
    });
  } else {
    checkKey(where, keys);
    update[keys as string] = vals;
  }
  updateRunArgsOn(target, where, update);
}

/** updateRunArgs(obj): validate then merge into one level. */
export function updateRunArgsOn(target: RunArgs, where: string, update: unknown): void {
  if (update === null || typeof update !== "object" || Array.isArray(update)) {
    throw new InvalidArgumentError(where, update, "an object of run args");
  }
  validateRunArgs(update as Record<string, unknown>, where);
  Object.assign(target, update);
}

function checkKey(where: string, key: unknown): void {
  if (typeof key !== "string" || key === "")
    throw new InvalidArgumentError(`${where} key`, key, "a non-empty string");
}
