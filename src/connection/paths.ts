/** Checks and small normalisations of the paths handed to push/pull/exec. */
import { InvalidArgumentError } from "../shared/errors.js";

/**
 * Every entry must be a relative '/'-separated path without NUL, without '..' components and not
 * absolute. Anything else (spaces, quotes, newlines, unicode, leading '-') is allowed.
 */
export function checkRelativeFiles(files: readonly string[], argument = "files"): void {
  if (!Array.isArray(files)) throw new InvalidArgumentError(argument, files, "an array of relative paths");
  files.forEach((f, i) => {
    const what = "a relative path without '..' components or NUL bytes";
    if (typeof f !== "string" || f === "") throw new InvalidArgumentError(`${argument}[${i}]`, f, what);
    if (f.includes("\0")) throw new InvalidArgumentError(`${argument}[${i}]`, f, what, "contains NUL");
    if (f.startsWith("/")) throw new InvalidArgumentError(`${argument}[${i}]`, f, what, "is absolute");
    if (f.split("/").includes(".."))
      throw new InvalidArgumentError(`${argument}[${i}]`, f, what, "contains '..'");
  });
}

/**
 * A remote folder as given by the user: absolute, or relative to the remote home. A leading `~/`
 * (or a lone `~`) means the home and is dropped, since commands already start there.
 */
export function remotePath(path: string, argument = "remote path"): string {
  if (typeof path !== "string" || path === "" || path.includes("\0")) {
    throw new InvalidArgumentError(argument, path, "a non-empty path without NUL bytes");
  }
  if (path === "~" || path === "~/") return ".";
  if (path.startsWith("~/")) return path.slice(2).replace(/^\/+/, "") || ".";
  return path;
}

/** NUL-separated list, the form rsync --from0 and tar --null read. */
export function nulList(files: readonly string[], prefix = ""): Buffer {
  return Buffer.from(files.map((f) => `${prefix}${f}\0`).join(""), "utf8");
}
