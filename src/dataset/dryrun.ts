/**
 * Dry runs of run(): a submission goes through every step up to the transfer (plans, job scripts,
 * master script, launch command) but writes its files into a private folder of its own under
 * localDir, `<localDir>/<Dataset folder>/dry-run-<token>/`, and sends, submits and records nothing:
 *
 *   files/        the files of the transfer, laid out as they would land in remoteDir
 *                 (`<Dataset folder>/job-<token>-<s>.sh`, `submit-<token>.sh`, the runtime, the
 *                 extra files beside the Dataset folder)
 *   transfer.txt  the transfer's file list, one path relative to localDir / remoteDir a line
 *   commands.txt  the submit commands (`sbatch …` one per job) or the command that starts the master
 *   launch.sh     the launch script exactly as it would be executed on the far side
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** One submission a dry run rendered (one per pair of localDir and remoteDir, and per downstream Dataset). */
export interface DryRunSubmission {
  /** The Dataset of these runners (a dry run of an upstream Dataset includes its downstream ones). */
  dataset: string;
  /** The submission's token (as in the file names; a real run later uses a new one). */
  token: string;
  /** The folder holding everything below: `<localDir>/<Dataset folder>/dry-run-<token>`. */
  dir: string;
  /** The runners this submission would submit, in order. */
  runners: string[];
  /** Where the submission would start on the far side, and through what. */
  connection: string;
  scheduler: string | undefined;
  /** The transfer that would be made: `files` relative to `localDir` and to `remoteDir`. */
  transfer: {
    localDir: string;
    remoteDir: string;
    /** Where the dry run put the copies of these files (the `files/` folder of `dir`). */
    copies: string;
    files: string[];
  };
  /**
   * The commands the launch would run in `<remoteDir>/<Dataset folder>`: with a scheduler, one submit
   * command per job (`sbatch …`, with its dependencies in a chain); without one, the start of the
   * master script. Empty when an upstream's master starts these runners.
   */
  commands: string[];
  /** Path of the launch script as it would be executed (undefined when an upstream's master starts these runners). */
  launchScript: string | undefined;
  /** Paths (under `dir`) of the job scripts, one per job, when a scheduler is used. */
  jobScripts: string[];
  /** Path (under `dir`) of the master script, when runs start without a scheduler. */
  masterScript: string | undefined;
  /** Every file the dry run wrote, absolute paths. */
  files: string[];
}

/** What run({ dryRun: true }) found it would do. */
export interface DryRun {
  /** The runners of this Dataset that would be submitted. */
  runners: string[];
  /** The submissions rendered: this Dataset's first, then those of its downstream Datasets. */
  submissions: DryRunSubmission[];
}

/** What run() returns: runners submitted and skipped; with `dryRun`, what it would have done instead. */
export interface RunResult {
  /** The runners submitted (none in a dry run). */
  submitted: string[];
  /** The runners left alone by the skip/force rules. */
  skipped: string[];
  /** Set by a dry run only. */
  dryRun?: DryRun;
}

/** Collects the submissions of one dry run (a chain adds its downstream Datasets' ones). */
export class DryRunRecorder {
  readonly submissions: DryRunSubmission[] = [];
}

/** `<localRoot>/<folder>/dry-run-<token>`: the private folder of one dry-run submission. */
export function dryRunDir(localRoot: string, folder: string, token: string): string {
  return resolve(localRoot, folder, `dry-run-${token}`);
}

/** Where the copies of the transferred files go in a dry-run folder. */
export const dryRunFiles = (dir: string) => join(dir, "files");

/** Write the lists and the launch script of a dry-run submission next to its staged copies. */
export function writeDryRun(
  dir: string,
  what: {
    transferHeader: string;
    transfer: readonly string[];
    commands: readonly string[];
    launchScript: string | undefined;
  },
): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  const put = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    written.push(file);
    return file;
  };
  put("transfer.txt", `# ${what.transferHeader}\n${what.transfer.map((f) => `${f}\n`).join("")}`);
  put("commands.txt", what.commands.map((c) => `${c}\n`).join(""));
  if (what.launchScript !== undefined) put("launch.sh", what.launchScript);
  return written;
}

/** Names, the first few only unless `all`. */
export function someNames(names: readonly string[], all: boolean, max = 5): string {
  if (all || names.length <= max) return names.join(", ");
  return `${names.slice(0, max).join(", ")}, … (${names.length} in all)`;
}

/**
 * The summary a dry run prints: what would be submitted where, and the paths of what it wrote. With
 * `all` (verbose >= 2), every runner name, file and command; else counts and the first few.
 */
export function dryRunSummary(name: string, dry: DryRun, skipped: number, all: boolean): string[] {
  const lines: string[] = [];
  const subs = dry.submissions;
  lines.push(
    `dry run of ${name}: ${dry.runners.length} runner(s) would be submitted${dry.runners.length ? `: ${someNames(dry.runners, all)}` : ""}${skipped ? `; ${skipped} skipped` : ""}`,
  );
  for (const s of subs) {
    const how = s.scheduler ? ` through ${s.scheduler}` : "";
    const own = s.dataset === name ? "" : ` (downstream ${s.dataset}: ${s.runners.length} runner(s))`;
    lines.push(`  ${s.connection}:${s.transfer.remoteDir}${how}${own}: ${s.dir}`);
    lines.push(`    transfer: ${s.transfer.files.length} file(s), listed in ${join(s.dir, "transfer.txt")}`);
    if (all) for (const f of s.transfer.files) lines.push(`      ${f}`);
    if (s.jobScripts.length) lines.push(`    job scripts: ${someNames(s.jobScripts, all, 3)}`);
    if (s.masterScript) lines.push(`    master script: ${s.masterScript}`);
    if (s.launchScript) lines.push(`    launch script: ${s.launchScript}`);
    else lines.push("    started by the upstream Dataset's master script");
    const shown = all ? s.commands : s.commands.slice(0, 3);
    for (const c of shown) lines.push(`    $ ${c}`);
    if (shown.length < s.commands.length)
      lines.push(`    … ${s.commands.length - shown.length} more in ${join(s.dir, "commands.txt")}`);
  }
  lines.push("nothing was transferred, submitted or recorded");
  return lines;
}
