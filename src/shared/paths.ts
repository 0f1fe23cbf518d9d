/**
 * Paths as users give them: `~` and `~/…` mean a home folder, relative paths a base folder. Each
 * path option is normalised once, where it is given, so a later `process.chdir` does not change it.
 */
import { homedir } from "node:os";
import { resolve } from "node:path";
import { InvalidArgumentError } from "./errors.js";

/** `~user/…` (another user's home) is refused: it cannot be told right on both sides. */
function refuseOtherHome(path: string, argument: string): void {
  if (/^~[^/]/.test(path)) {
    throw new InvalidArgumentError(
      argument,
      path,
      "a path that is absolute, relative, `~` or starts with `~/`",
      "`~user/…` is not expanded: give the absolute path",
    );
  }
}

/**
 * The absolute local path for `path`: `~` and `~/…` under the local home (HOME, else the user's
 * home), other relative paths under `base` (default: the working folder now).
 */
export function localPath(path: string, argument: string, base: string = process.cwd()): string {
  if (typeof path !== "string" || path === "")
    throw new InvalidArgumentError(argument, path, "a non-empty path");
  refuseOtherHome(path, argument);
  if (path === "~" || path.startsWith("~/")) return resolve(homedir(), path.slice(2));
  return resolve(base, path);
}

/**
 * A remote folder for commands and transfers over SSH: absolute, or relative to the remote home
 * (where ssh commands, rsync and scp start). `~` is `.` and `~/x` is `x`.
 */
export function remoteHomePath(path: string, argument: string): string {
  if (typeof path !== "string" || path === "")
    throw new InvalidArgumentError(argument, path, "a non-empty path");
  refuseOtherHome(path, argument);
  if (path === "~" || /^~\/+$/.test(path)) return ".";
  if (path.startsWith("~/")) return path.slice(2).replace(/^\/+/, "");
  return path;
}

/** Whether a path option names another user's home (`~user/…`), which is refused. */
export function isOtherHome(path: string): boolean {
  return /^~[^/]/.test(path);
}
