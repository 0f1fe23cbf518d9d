import type { TransferFailureKind } from "./errors.js";

/** The failure kind of a local file-system error (a copy, a write) made while moving files. */
export function transferKindOf(err: NodeJS.ErrnoException): TransferFailureKind {
  switch (err.code) {
    case "ENOSPC":
    case "EDQUOT":
      return "no-space";
    case "EACCES":
    case "EPERM":
      return "permission";
    case "EROFS":
      return "read-only";
    default:
      return "unknown";
  }
}
