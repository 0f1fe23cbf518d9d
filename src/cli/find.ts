/**
 * Finding databases: every `<name>-<id>.remoterun.json` under a folder (for `remoterun list`), and
 * the rule by which a command's [db] argument names one (a path, a folder, or a Dataset's name).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import { UsageError } from "./exit-codes.js";

export const DB_SUFFIX = ".remoterun.json";

/** How deep `list` and name look-ups go below the folder they start from. */
export const DEFAULT_DEPTH = 4;

/** Folders never searched: dependencies, version control, and anything hidden. */
const SKIPPED = new Set(["node_modules", ".git"]);

/** `<name>-<8 hex>`: a Dataset's file name stem, and the name of its bookkeeping folders. */
const STEM = /^(.+)-([0-9a-f]{8})$/;

/** A database file found on disk, with the Dataset name and id its file name carries. */
export interface FoundDatabase {
  /** Absolute path of the `.remoterun.json` file. */
  file: string;
  name: string;
  id: string;
}

/** The Dataset name and id of a database file name, or undefined if it is not one. */
export function parseDbFileName(file: string): { name: string; id: string } | undefined {
  const b = basename(file);
  if (!b.endsWith(DB_SUFFIX)) return undefined;
  const m = STEM.exec(b.slice(0, -DB_SUFFIX.length));
  return m ? { name: m[1], id: m[2] } : undefined;
}

/**
 * Every database under `root`, down to `depth` folders below it, sorted by path. Symbolic links,
 * hidden folders, node_modules and .git are not followed; a Dataset's own bookkeeping folders
 * (`<name>-<id>/` under localDir or remoteDir, which may hold thousands of runner files) are looked
 * into but not below. Unreadable folders are passed over.
 */
export function findDatabases(root: string, depth = DEFAULT_DEPTH): FoundDatabase[] {
  const found: FoundDatabase[] = [];
  const walk = (dir: string, level: number) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const below: string[] = [];
    for (const e of entries) {
      if (e.isFile()) {
        const parsed = parseDbFileName(e.name);
        if (parsed) found.push({ file: join(dir, e.name), ...parsed });
      } else if (e.isDirectory() && level < depth && !SKIPPED.has(e.name) && !e.name.startsWith(".")) {
        below.push(e.name);
      }
    }
    // A Dataset folder's subfolders are runtime copies and per-runner folders: no database there.
    if (level > 0 && STEM.test(basename(dir))) return;
    for (const d of below) walk(join(dir, d), level + 1);
  };
  walk(resolve(root), 0);
  return found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** A path as shown to the user: relative to `cwd` when below it. */
export function shown(file: string, cwd: string): string {
  const r = relative(cwd, file);
  return r && !r.startsWith("..") && !r.startsWith(sep) ? r : file;
}

/**
 * The database file a command works on. `arg` may be:
 * - missing: the only database of the working directory;
 * - a path (it has a `/`, or ends in `.json` or `.remoterun`): that database file (the `.json` may
 *   be left out), or a folder holding exactly one database;
 * - a word: a Dataset's name or `<name>-<id>`, looked for in the working directory and the folders
 *   below it (as `remoterun list` shows them); a file or folder of that name here is taken as a path
 *   when no Dataset has that name.
 * Several matches, or none, are usage errors naming what was found.
 */
export function resolveDbFile(arg: string | undefined, cwd: string): string {
  if (arg === undefined || arg === "") return onlyDatabaseIn(cwd, "the current folder", cwd);
  if (looksLikePath(arg)) return resolvePath(arg, cwd);
  const byName = findDatabases(cwd).filter((d) => d.name === arg || `${d.name}-${d.id}` === arg);
  const asPath = resolve(cwd, arg);
  const pathExists = existsSync(asPath) || existsSync(`${asPath}.json`);
  if (byName.length === 0) {
    if (pathExists) return resolvePath(arg, cwd);
    throw new UsageError(
      `no Dataset named ${arg} in ${cwd} or the folders below it (${DEFAULT_DEPTH} levels), and no file or folder of that name: remoterun list shows the Datasets here`,
    );
  }
  if (byName.length > 1) {
    // The same Dataset (same id) may lie in two folders: then only the file tells them apart.
    const ids = new Set(byName.map((d) => d.id));
    const advice = ids.size === byName.length ? "give the <name>-<id> or the file" : "give the file";
    throw new UsageError(
      `${byName.length} Datasets match ${arg}: ${byName.map((d) => shown(d.file, cwd)).join(", ")}; ${advice}`,
    );
  }
  const file = byName[0].file;
  if (pathExists && existsSync(asPath) && statSync(asPath).isDirectory()) {
    // A folder of that name too: say which one is meant, unless both lead to the same database.
    let other: string | undefined;
    try {
      other = resolvePath(arg, cwd);
    } catch {
      other = undefined;
    }
    if (other !== undefined && other !== file) {
      throw new UsageError(
        `${arg} is both the Dataset ${shown(file, cwd)} and the folder ./${arg} holding ${shown(other, cwd)}: give the file, or ./${arg} for the folder`,
      );
    }
  }
  return file;
}

function looksLikePath(arg: string): boolean {
  return (
    arg.includes("/") ||
    arg.includes(sep) ||
    arg === "." ||
    arg === ".." ||
    arg.endsWith(".json") ||
    arg.endsWith(".remoterun")
  );
}

function resolvePath(arg: string, cwd: string): string {
  const p = resolve(cwd, arg);
  if (existsSync(p) && statSync(p).isDirectory()) return onlyDatabaseIn(p, p, cwd);
  const file = p.endsWith(".json") ? p : `${p}.json`;
  if (!file.endsWith(DB_SUFFIX)) {
    throw new UsageError(
      `${arg} is not a remoterun database (expected a file named <name>-<id>${DB_SUFFIX})`,
    );
  }
  if (!existsSync(file)) throw new UsageError(`no remoterun database at ${file}`);
  return file;
}

function onlyDatabaseIn(dir: string, label: string, cwd: string): string {
  let found: string[];
  try {
    found = readdirSync(dir).filter((f) => f.endsWith(DB_SUFFIX));
  } catch {
    throw new UsageError(`cannot read the folder ${dir}`);
  }
  if (found.length === 1) return join(dir, found[0]);
  if (found.length > 1) {
    throw new UsageError(
      `${found.length} databases in ${label} (${found.sort().join(", ")}); say which one (its name, <name>-<id> or file)`,
    );
  }
  const below = findDatabases(dir).slice(0, 6);
  const hint = below.length
    ? `; below it: ${below
        .slice(0, 5)
        .map((d) => `${d.name} (${shown(d.file, cwd)})`)
        .join(", ")}${below.length > 5 ? ", …" : ""}: name one`
    : "";
  throw new UsageError(
    `no *${DB_SUFFIX} database in ${label}${hint || "; give the database file, its folder or the Dataset's name"}`,
  );
}
