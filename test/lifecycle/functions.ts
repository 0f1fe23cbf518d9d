/**
 * Functions that run on the far side, written as source text: the test runner rewrites the source of
 * functions defined in test files (dynamic imports, helpers), and child processes must build the very
 * same function (a Dataset's identity is a hash of the function's source).
 */
export const SOURCES = {
  double: "({ x }) => x * 2",
  failOnTwo: `({ x }) => {
    if (x === 2) throw new Error("boom");
    return x * 10;
  }`,
  /** Async sleep; reports when it ran and in which process. */
  sleepStamp: `async ({ i, ms }) => {
    const start = Date.now();
    await new Promise((r) => setTimeout(r, ms));
    return { i, start, end: Date.now(), pid: process.pid };
  }`,
  /** Synchronous busy wait: only separate processes can run two of these at once. */
  busyStamp: `({ i, ms }) => {
    const start = Date.now();
    while (Date.now() - start < ms) {}
    return { i, start, end: Date.now(), pid: process.pid };
  }`,
  /** Counts its calls per key in a file of the working folder; the second call is slower. */
  counter: `async ({ key }) => {
    const fs = await import("node:fs");
    const file = "counter-" + key;
    const n = fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) + 1 : 1;
    fs.writeFileSync(file, String(n));
    if (n > 1) await new Promise((r) => setTimeout(r, 300));
    return { key, n };
  }`,
  /** Fails on its first call per key, succeeds afterwards. */
  flaky: `async ({ key }) => {
    const fs = await import("node:fs");
    const file = "attempted-" + key;
    if (!fs.existsSync(file)) {
      fs.writeFileSync(file, "1");
      throw new Error("first attempt of " + key + " fails");
    }
    return "second attempt of " + key;
  }`,
  /** Slow on its first call per key (sleepMs), instant afterwards. */
  slowFirst: `async ({ key, sleepMs }) => {
    const fs = await import("node:fs");
    const file = "called-" + key;
    const first = !fs.existsSync(file);
    fs.writeFileSync(file, "1");
    if (first) await new Promise((r) => setTimeout(r, sleepMs));
    return first ? "first call" : "second call";
  }`,
  /** Works with files relative to where it runs. */
  files: `async ({ tag }) => {
    const fs = await import("node:fs");
    fs.writeFileSync("written-" + tag + ".txt", "hello " + tag);
    return {
      cwd: process.cwd(),
      readBack: fs.readFileSync("written-" + tag + ".txt", "utf8"),
      extra: fs.existsSync("../extra-input.txt") ? fs.readFileSync("../extra-input.txt", "utf8") : null,
    };
  }`,
  long: `async ({ x }) => {
    await new Promise((r) => setTimeout(r, 30000));
    return x;
  }`,
  /** Sleeps, then returns a value derived from its args. */
  sleepThenSquare: `async ({ x, ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return { x, square: x * x };
  }`,
} as const;

export type FunctionName = keyof typeof SOURCES;

// biome-ignore lint/suspicious/noExplicitAny: remote functions take and return arbitrary data
export type AnyFn = (args: any) => any;

/** The function whose source text is exactly `source`. */
export function fromSource(source: string): AnyFn {
  return new Function(`return (${source});`)() as AnyFn;
}

export function remoteFn(name: FunctionName): AnyFn {
  return fromSource(SOURCES[name]);
}

export interface Stamp {
  i: number;
  start: number;
  end: number;
  pid: number;
}

/** Pairs of runs whose [start, end) intervals overlap. */
export function overlaps(stamps: Stamp[]): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a < stamps.length; a++)
    for (let b = a + 1; b < stamps.length; b++)
      if (stamps[a].start < stamps[b].end && stamps[b].start < stamps[a].end)
        out.push([stamps[a].i, stamps[b].i]);
  return out;
}
