/** What every command needs: output streams with colours, the database path, the opened Dataset. */
import { dirname } from "node:path";
import pc from "picocolors";
import { Dataset } from "../index.js";
import { resolveDbFile } from "./find.js";
import type { Paint } from "./format.js";

export { resolveDbFile } from "./find.js";

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

/** How a command opens its Dataset. */
export interface OpenFlags {
  /** stdout carries machine-readable output: library messages go to stderr. */
  json?: boolean;
  /** A dry run: the library's "dry run: …" line per item is left out (the command summarises). */
  dryRun?: boolean;
}

export class Ctx {
  readonly out: Paint;
  readonly err: Paint;
  /** The working directory the command started in (opening a Dataset changes process.cwd()). */
  readonly cwd: string;
  constructor(
    readonly io: Io,
    readonly globals: GlobalOptions,
  ) {
    this.cwd = io.cwd();
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
  openWithFile(dbArg: string | undefined, options: OpenFlags = {}): { ds: Dataset; file: string } {
    const file = this.dbFile(dbArg);
    process.chdir(dirname(file));
    const to = options.json ? this.io.stderr : this.io.stdout;
    const dim = options.json ? this.err.dim : this.out.dim;
    const ds = Dataset.open(file, {
      logger: (m: string) => {
        // The command prints its own summary of a dry run instead of the line per item.
        if (options.dryRun && m.startsWith("dry run: ")) return;
        to.write(`${dim(m)}\n`);
      },
      verbose: this.globals.verbose ? 2 : 0,
    });
    return { ds, file };
  }

  /** The database file the [db] argument names (see resolveDbFile), from the starting folder. */
  dbFile(dbArg: string | undefined): string {
    return resolveDbFile(dbArg, this.cwd);
  }

  open(dbArg: string | undefined, options: OpenFlags = {}): Dataset {
    return this.openWithFile(dbArg, options).ds;
  }
}

export const sleep = (seconds: number) => new Promise<void>((r) => setTimeout(r, seconds * 1000));
