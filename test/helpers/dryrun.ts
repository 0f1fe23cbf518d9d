/** What the dry-run tests check of a Dataset: its database files, its runners, its dry-run folders. */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { expect } from "vitest";
import type { Dataset, DryRunSubmission } from "../../src/index.js";

/** Each database file of the Dataset (snapshot, journal, lock) with a hash of its bytes. */
export function databaseHashes(dbFile: string): Record<string, string> {
  const dir = dirname(dbFile);
  const base = basename(dbFile);
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)
    .filter((n) => n.startsWith(base))
    .sort())
    out[f] = createHash("sha256")
      .update(readFileSync(join(dir, f)))
      .digest("hex");
  return out;
}

/** What a run changes in each runner. */
export function runnerStates(
  ds: Pick<Dataset, "runners">,
): [string, string, string | undefined, string | undefined][] {
  return ds.runners.map((r) => [r.name, r.state, r.token, r.jobId]);
}

/**
 * The files a dry-run submission lists are there and private (0600 or 0700 for scripts, folders
 * 0700), its copies are exactly the transfer's files, and the lists and the launch script it names
 * say what the submission says.
 */
export function checkSubmissionFiles(s: DryRunSubmission): void {
  expect(s.dir).toContain(`/dry-run-${s.token}`);
  expect(statSync(s.dir).mode & 0o777).toBe(0o700);
  for (const f of s.files) {
    expect(f.startsWith(`${s.dir}/`), f).toBe(true);
    const mode = statSync(f).mode & 0o777;
    expect([0o600, 0o700], `${f} mode ${mode.toString(8)}`).toContain(mode);
    expect(statSync(dirname(f)).mode & 0o777, dirname(f)).toBe(0o700);
  }
  const copies: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else copies.push(`${rel}${e.name}`);
    }
  };
  walk(s.transfer.copies, "");
  expect(copies.sort()).toEqual([...s.transfer.files].sort());
  const listed = readFileSync(join(s.dir, "transfer.txt"), "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
  expect(listed).toEqual(s.transfer.files);
  expect(readFileSync(join(s.dir, "commands.txt"), "utf8")).toBe(s.commands.map((c) => `${c}\n`).join(""));
  if (s.launchScript) {
    const launch = readFileSync(s.launchScript, "utf8");
    for (const c of s.commands) expect(launch).toContain(c);
  }
}
