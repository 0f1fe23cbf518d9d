/**
 * POSIX shell quoting. Every byte except NUL survives: the value is wrapped in single quotes and
 * each embedded single quote becomes '\'' (close, escaped quote, reopen).
 */
export function shellQuote(value: string): string {
  if (value.includes("\0")) throw new TypeError("a shell argument cannot contain a NUL byte");
  if (value !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quote every argument and join them into one command line. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shellQuote).join(" ");
}
