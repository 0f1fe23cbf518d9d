/** Running the built `remoterun` command (and other node scripts) as a user would, colours off. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./dist.js";

export const MAIN = join(ROOT, "dist/cli/main.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node <file> ...args` in `cwd`; resolves with the exit code and both outputs. */
export function runNode(file: string, args: string[], cwd: string): Promise<CliResult> {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `remoterun ...args` in `cwd`. */
export const cli = (args: string[], cwd: string) => runNode(MAIN, args, cwd);
