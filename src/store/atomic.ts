import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseError } from "../shared/errors.js";

/** A temp file name next to `file` that no other process (or earlier crash) can have taken. */
export function tempName(file: string): string {
  return `${file}.tmp-${randomBytes(8).toString("hex")}`;
}

/** write(2) until every byte is out (a short write is possible, e.g. on a full disk). */
export function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/**
 * An I/O failure while writing a database file, as a DatabaseError naming the file; a full disk
 * says so plainly. Errors that are already DatabaseErrors pass through.
 */
export function writeFailure(file: string, e: unknown): Error {
  if (e instanceof DatabaseError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new DatabaseError(
      file,
      `no space left on the device (${code}) while writing it; free some space and retry (what was saved before is kept)`,
      { cause: e },
    );
  }
  return new DatabaseError(file, `cannot be written: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/**
 * Write `data` to a new file created exclusively (`wx`, private) under an unpredictable name next to
 * `file`, fsync it and return its name. On any failure the temp file is removed and a DatabaseError
 * (no space left...) is thrown. With `keepOpen`, the open descriptor is returned too (appends go on).
 */
export function writeTemp(
  file: string,
  data: Buffer,
  keepOpen = false,
): { tmp: string; fd: number | undefined } {
  const tmp = tempName(file);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, keepOpen ? "ax" : "wx", 0o600);
    writeAll(fd, data);
    fsyncSync(fd);
    if (!keepOpen) {
      closeSync(fd);
      fd = undefined;
    }
    return { tmp, fd };
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {}
    }
    rmSync(tmp, { force: true });
    throw writeFailure(file, e);
  }
}

/** Make a rename in the folder of `file` durable. */
export function syncFolder(file: string): void {
  try {
    const dfd = openSync(dirname(file), "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* some filesystems refuse fsync on folders */
  }
}

/** Write a file so that a reader or a crash sees the old contents or the new, never a mix. */
export function writeFileAtomic(file: string, text: string | Buffer): void {
  const { tmp } = writeTemp(file, typeof text === "string" ? Buffer.from(text) : text);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeFailure(file, e);
  }
  syncFolder(file);
}
