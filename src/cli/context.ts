/** What every command needs: output streams with colours, the database path, the opened Dataset. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import pc from "picocolors";
import { Dataset } from "../index.js";
import { UsageError } from "./exit-codes.js";
import type { Paint } from "./format.js";

/** Where output goes; a seam for tests and for `--json` (messages then go to stderr). */
export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  cwd(): string;
}

export const processIo = (): Io => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: () => process.cwd(),
});

/** Options every command accepts (they are declared on the program). */
export interface GlobalOptions {
  debug?: boolean;
  verbose?: boolean;
  color?: boolean;
}

/** Colours only on a terminal, never with NO_COLOR or --no-color; FORCE_COLOR forces them. */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag?: boolean): boolean {
  if (flag === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

export function paintFor(enabled: boolean): Paint {
  return pc.createColors(enabled);
}

export class Ctx {
  readonly out: Paint;
  readonly err: Paint;
  constructor(
    readonly io: Io,
    readonly globals: GlobalOptions,
  ) {
    this.out = paintFor(useColor(io.stdout, io.env, globals.color));
    this.err = paintFor(useColor(io.stderr, io.env, globals.color));
  }

  print(line = ""): void {
    this.io.stdout.write(`${line}\n`);
  }

  warn(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  get isTTY(): boolean {
    return this.io.stdout.isTTY === true;
  }

  /**
   * Open the Dataset of a database file. Library messages go to stdout, or to stderr when stdout
   * carries machine-readable output. The working directory becomes the database's folder, so that
   * relative localDir/remoteDir resolve as they did where the Dataset was created.
   */
  openWithFile(dbArg: string | undefined, options: { json?: boolean } = {}): { ds: Dataset; file: string } {
    const file = resolveDbFile(dbArg, this.io.cwd());
    process.chdir(dirname(file));
    const to = options.json ? this.io.stderr : this.io.stdout;
    const dim = options.json ? this.err.dim : this.out.dim;
    const ds = Dataset.open(file, {
      logger: (m: string) => {
        to.write(`${dim(m)}\n`);
      },
      verbose: this.globals.verbose ? 2 : 0,
    });
    return { ds, file };
  }

  open(dbArg: string | undefined, options: { json?: boolean } = {}): Dataset {
    return this.openWithFile(dbArg, options).ds;
  }
}

const SUFFIX = ".remoterun.json";

/**
 * The database file a command works on: the path given (with or without `.json`, or a folder that
 * holds exactly one database), or the only `*.remoterun.json` of the working directory.
 */
export function resolveDbFile(arg: string | undefined, cwd: string): string {
  if (arg === undefined || arg === "") return onlyDatabaseIn(cwd, "the current folder");
  const p = resolve(cwd, arg);
  if (existsSync(p) && statSync(p).isDirectory()) return onlyDatabaseIn(p, p);
  const file = p.endsWith(".json") ? p : `${p}.json`;
  if (!file.endsWith(SUFFIX)) {
    throw new UsageError(`${arg} is not a remoterun database (expected a file named <name>-<id>${SUFFIX})`);
  }
  if (!existsSync(file)) throw new UsageError(`no remoterun database at ${file}`);
  return file;
}

function onlyDatabaseIn(dir: string, label: string): string {
  let found: string[];
  try {
    found = readdirSync(dir).filter((f) => f.endsWith(SUFFIX));
  } catch {
    throw new UsageError(`cannot read the folder ${dir}`);
  }
  if (found.length === 1) return join(dir, found[0]);
  if (found.length === 0) {
    throw new UsageError(`no *${SUFFIX} database in ${label}; give the database file as an argument`);
  }
  throw new UsageError(
    `${found.length} databases in ${label} (${found
      .sort()
      .map((f) => basename(f))
      .join(", ")}); say which one`,
  );
}

export const sleep = (seconds: number) => new Promise<void>((r) => setTimeout(r, seconds * 1000));
