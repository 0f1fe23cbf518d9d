/**
 * "Did you mean" for option keys: a key that is not an option of a call but is a likely typo of one
 * (a small Damerau–Levenshtein distance, or a remotemanager snake_case spelling of a camelCase
 * name) is refused with the name it probably meant.
 */
import { InvalidArgumentError } from "./errors.js";

/** Edit distance with adjacent transpositions (optimal string alignment): "froce" → "force" is 1. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0].push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      rows[i].push(d);
    }
  }
  return rows[a.length][b.length];
}

/** `remote_dir` → `remoteDir`, `dry-run` → `dryRun`; other keys unchanged. */
export function snakeToCamel(key: string): string {
  return key.replace(/[_-]+([A-Za-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** How many edits still make a key of this length a likely typo (none below 3 characters). */
function tolerance(length: number): number {
  if (length < 3) return 0;
  if (length <= 5) return 1;
  if (length <= 9) return 2;
  return 3;
}

/**
 * The candidate `key` most likely stands for, or undefined: the same name up to case, `_`/`-`
 * (snake_case), or within a few edits (fewer for short names). Ties go to the first candidate.
 */
export function suggestionFor(key: string, candidates: Iterable<string>): string | undefined {
  const forms = new Set([key, snakeToCamel(key)].map((f) => f.toLowerCase()));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === key) continue;
    const c = candidate.toLowerCase();
    for (const form of forms) {
      const d = editDistance(form, c);
      if (d <= tolerance(Math.min(form.length, c.length)) && d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
  }
  return best;
}

/** What a call accepts: its own option names and, when it takes run args, the run-arg names it knows. */
export interface OptionKeys {
  /** The options of the call itself. */
  own: Iterable<string>;
  /**
   * Run-arg names known for this call (native ones, the Computer's placeholders), or `false` when
   * the call takes no run args: then every unknown key is refused.
   */
  runArgs: Iterable<string> | false;
}

/**
 * Check the keys of an options object. A key that is not one of `keys.own` is refused when the call
 * takes no run args, or when it is not a known run arg and looks like a typo or snake_case spelling
 * of a known name; every other key stays (a custom run arg). `call` names the call in the error.
 */
export function checkOptionKeys(call: string, options: object, keys: OptionKeys): void {
  const own = new Set(keys.own);
  const runArgs = keys.runArgs === false ? undefined : new Set(keys.runArgs);
  for (const key of Object.keys(options)) {
    if (own.has(key) || runArgs?.has(key)) continue;
    const suggestion = suggestionFor(key, runArgs ? [...own, ...runArgs] : own);
    const hint = suggestion === undefined ? undefined : `did you mean \`${suggestion}\`?`;
    if (!runArgs) {
      const names = [...own];
      const expected = !names.length
        ? `no options (${call} takes none)`
        : hint
          ? `an option of ${call}`
          : `one of ${names.map((n) => `\`${n}\``).join(", ")}`;
      throw new InvalidArgumentError(`${call} option`, key, expected, hint);
    }
    if (hint)
      throw new InvalidArgumentError(`${call} option`, key, `an option of ${call} or a run arg`, hint);
  }
}
