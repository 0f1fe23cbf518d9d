/** Parsers for option values (commander calls them; their errors are usage errors, exit code 2). */
import { InvalidArgumentError } from "commander";

/** A number of seconds: > 0, or >= 0 with `allowZero`. */
export function seconds(allowZero = false): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new InvalidArgumentError(`expected a number of seconds ${allowZero ? ">= 0" : "> 0"}`);
    }
    return n;
  };
}

/** A whole number from `min` to `max`. */
export function wholeNumber(min: number, max: number, what: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number of ${what}, ${min} to ${max}`);
    }
    return n;
  };
}
