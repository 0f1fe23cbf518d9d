/**
 * Output files: the `extraFilesRecv` run arg. Its paths and glob patterns are relative to the
 * runner's working folder on the far side (remoteDir, or remoteDir/runDir with runDir's placeholders
 * filled). The fetch command that reads the results also expands them there (bash globbing, folders
 * listed whole with `find`), so that one transfer per folder brings back what results need a file
 * for and every output file; they land under `<localDir>/<runner name>/`, keeping their paths.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { expandRunDir } from "../runargs/index.js";
import type { Runner } from "../runner/index.js";
import { shellQuote as q } from "../shared/quote.js";
import type { Placement } from "./records.js";

/** Printed by the fetch command between the results and the output-file records. */
export const FILES_MARKER = "@@remoterun-output-files@@";

/** A runner's working folder relative to remoteDir: its runDir with the placeholders filled. */
export function runDirOf(
  r: { name: string; index: number; derivedRunArgs: Record<string, unknown> },
  dataset: string,
): string | undefined {
  return expandRunDir(r.derivedRunArgs.runDir as string | undefined, {
    name: r.name,
    index: r.index,
    dataset,
  });
}

/**
 * The folders (relative to remoteDir) that several of these runners with output files work in:
 * files of the same name written there overwrite each other before they come back. Each with how
 * many runners share it.
 */
export function sharedOutputFolders(
  runners: readonly { name: string; index: number; derivedRunArgs: Record<string, unknown> }[],
  dataset: string,
): [string, number][] {
  const count = new Map<string, number>();
  for (const r of runners) {
    const recv = r.derivedRunArgs.extraFilesRecv as string[] | undefined;
    if (!recv?.length) continue;
    const key = `${String(r.derivedRunArgs.remoteDir ?? "")}\0${runDirOf(r, dataset) ?? "."}`;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return [...count].filter(([, n]) => n > 1).map(([k, n]) => [k.split("\0")[1], n]);
}

/** What a submission records of a runner for its output files: where it works, what comes back. */
export function outputPlacement(
  r: { name: string; index: number; derivedRunArgs: Record<string, unknown> },
  dataset: string,
): Pick<Placement, "runDir" | "recv"> {
  const runDir = runDirOf(r, dataset);
  const recv = r.derivedRunArgs.extraFilesRecv as string[] | undefined;
  return {
    ...(runDir !== undefined ? { runDir } : {}),
    ...(recv !== undefined && recv.length > 0 ? { recv: [...recv] } : {}),
  };
}

/** One runner's output files to look for: its folder (relative to remoteRoot) and its patterns. */
export interface RecvItem<R> {
  runner: R;
  placement: Placement;
  /** The runner's working folder relative to remoteRoot ("" for remoteRoot itself). */
  dir: string;
  patterns: string[];
}

/**
 * The runners of these placements that have output files to fetch. The patterns are those of the
 * runner's run args as they are now (Dataset and Runner levels), else those its submission was
 * given (a `run()` argument); the folder is where the submission ran it.
 */
export function recvItems<Args extends object, Result>(
  groups: { p: Placement; runners: Runner<Args, Result>[] }[],
  placements: Map<string, Placement>,
  dataset: string,
): RecvItem<Runner<Args, Result>>[] {
  const items: RecvItem<Runner<Args, Result>>[] = [];
  for (const { runners } of groups) {
    for (const r of runners) {
      const p = placements.get(r.name);
      if (!p) continue;
      const patterns = (r.derivedRunArgs.extraFilesRecv as string[] | undefined) ?? p.recv ?? [];
      if (patterns.length === 0) continue;
      const dir = p.runDir ?? runDirOf(r, dataset) ?? "";
      items.push({ runner: r, placement: p, dir, patterns });
    }
  }
  return items;
}

const isGlob = (p: string) => /[*?[]/.test(p);

/**
 * Shell text (appended to a fetch command) that prints FILES_MARKER, then for item i one record per
 * file found, `i \t f \t path \0`, and one per plain path (no glob character) that does not exist,
 * `i \t m \t path \0`; paths relative to the item's folder. Patterns are shell-quoted data: globbing is
 * the only expansion they undergo (IFS empty, nullglob, globstar). A folder matched comes back whole
 * (its files and links); a symbolic link comes back as a link. Nothing outside the folder is listed.
 */
export function recvListingScript(items: { root: string; dir: string; patterns: string[] }[]): string {
  const lines = [
    `printf '\\n%s\\n' ${q(FILES_MARKER)}`,
    "shopt -s nullglob 2>/dev/null; shopt -s globstar 2>/dev/null",
    "rr_top=$(pwd)",
    // A link, or a regular file this user can read, comes back; anything else found (a FIFO, a
    // socket, a file or folder that may not be read) is named instead of blocking the transfer.
    `rr_one() { if [ -L "$2" ] || { [ -f "$2" ] && [ -r "$2" ]; }; then printf '%s\\tf\\t%s\\0' "$1" "$2"; else printf '%s\\tu\\t%s\\0' "$1" "$2"; fi; }`,
    "rr_emit() {",
    '  case "/$2/" in */../* | */./*) return ;; esac',
    '  if [ -d "$2" ] && [ ! -L "$2" ]; then',
    "    local g",
    `    while IFS= read -r -d '' g; do rr_one "$1" "\${g#./}"; done < <(find "./$2" ! -type d -print0 2>/dev/null; find "./$2" -type d ! \\( -readable -executable \\) -print0 2>/dev/null)`,
    '  else rr_one "$1" "$2"; fi',
    "}",
    'rr_glob() { local f IFS=; for f in $2; do rr_emit "$1" "$f"; done; }',
    `rr_path() { if [ -e "$2" ] || [ -L "$2" ]; then rr_emit "$1" "$2"; else printf '%s\\tm\\t%s\\0' "$1" "$2"; fi; }`,
  ];
  items.forEach(({ root, dir, patterns }, i) => {
    const where = dir === "" ? root : `${root}/${dir}`;
    const found = patterns.map(
      (p) => `${isGlob(p) ? "rr_glob" : "rr_path"} ${i} ${q(p.replace(/\/+$/, ""))}`,
    );
    const gone = patterns.filter((p) => !isGlob(p)).map((p) => `printf '%s\\tm\\t%s\\0' ${i} ${q(p)}`);
    lines.push(
      `if cd -- "$rr_top" && cd -- ${q(where)} 2>/dev/null; then ${found.join("; ")}; ${gone.length ? `else ${gone.join("; ")}; ` : ""}fi`,
    );
  });
  lines.push('cd -- "$rr_top"', "true", "");
  return lines.join("\n");
}

/** A path as listed, made plain ('/'-separated, relative, inside its folder), or undefined. */
function plainPath(path: string): string | undefined {
  const p = path
    .replace(/\/{2,}/g, "/")
    .replace(/^(\.\/)+/, "")
    .replace(/\/+$/, "");
  if (p === "" || p.startsWith("/") || p.includes("\uFFFD")) return undefined;
  if (p.split("/").some((c) => c === "." || c === "..")) return undefined;
  return p;
}

/** The part of a fetch command's stdout before the output-file records, and those records. */
export function splitListing(stdout: string): { head: string; files: Map<number, Listed> } {
  const sets = new Map<number, Record<keyof Listed, Set<string>>>();
  const at = stdout.indexOf(`\n${FILES_MARKER}\n`);
  if (at < 0) return { head: stdout, files: new Map() };
  const kinds = { f: "found", m: "missing", u: "unreadable" } as const;
  for (const rec of stdout.slice(at + FILES_MARKER.length + 2).split("\0")) {
    const m = /^(\d+)\t([fmu])\t([\s\S]*)$/.exec(rec);
    if (!m) continue;
    const path = plainPath(m[3]);
    if (path === undefined) continue;
    const i = Number(m[1]);
    if (!sets.has(i)) sets.set(i, { found: new Set(), missing: new Set(), unreadable: new Set() });
    sets.get(i)![kinds[m[2] as keyof typeof kinds]].add(path);
  }
  const files = new Map<number, Listed>();
  for (const [i, e] of sets)
    files.set(i, { found: [...e.found], missing: [...e.missing], unreadable: [...e.unreadable] });
  return { head: stdout.slice(0, at + 1), files };
}

/** One runner's output files as listed on the far side. */
export interface Listed {
  /** Files and links that come back. */
  found: string[];
  /** Plain paths (no glob) that do not exist. */
  missing: string[];
  /** Found but not brought: not a regular file or link (a FIFO, a socket), or not readable. */
  unreadable: string[];
}

/**
 * The files of one folder's single pull: each remote path (relative to remoteRoot) once, with the
 * local places it goes to (relative to localRoot). The pull goes into a private folder of its own
 * under the Dataset's local folder; `place` then moves (or, for a file wanted twice, copies) each
 * where it belongs, through folders made private, never through a symbolic link.
 */
export class PullPlan {
  private readonly wanted = new Map<string, string[]>();
  /** The folder the pull goes into (made by the transport; removed by `done`). */
  readonly into: string;

  constructor(
    readonly localRoot: string,
    readonly folder: string,
  ) {
    this.into = resolve(localRoot, folder, `.fetch-${randomBytes(6).toString("hex")}`);
  }

  /**
   * Remove pull folders left by a process killed mid-fetch (done before a pull, not on every fetch:
   * the Dataset's folder may hold many files). The Dataset is this process's now (its lock), and its
   * fetches run one at a time, so none of them is in use.
   */
  removeLeftovers(): void {
    const dir = dirname(this.into);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.startsWith(".fetch-"));
    } catch {}
    for (const n of names) rmSync(join(dir, n), { recursive: true, force: true });
  }

  /** Fetch `remote` (relative to remoteRoot) to `local` (relative to localRoot). */
  add(remote: string, local: string = remote): void {
    const dests = this.wanted.get(remote);
    if (!dests) this.wanted.set(remote, [local]);
    else if (!dests.includes(local)) dests.push(local);
  }

  get files(): string[] {
    return [...this.wanted.keys()];
  }

  /**
   * Move the pulled files of `remotes` (default: every file) where they belong. Returns the problems
   * met (a file that could not be placed), one line each; a file that did not come is skipped.
   */
  async place(remotes: readonly string[] = this.files): Promise<string[]> {
    const problems: string[] = [];
    const madeDirs = new Set<string>();
    for (const remote of remotes) {
      const dests = this.wanted.get(remote);
      if (!dests) continue;
      const from = join(this.into, remote);
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(from);
      } catch {
        continue;
      }
      for (const [k, local] of dests.entries()) {
        const to = join(this.localRoot, local);
        try {
          await safeParents(this.localRoot, dirname(local), madeDirs);
          const last = k === dests.length - 1;
          if (st.isSymbolicLink()) {
            const target = await readlink(from);
            await rm(to, { force: true });
            if (last) await rename(from, to);
            else await symlink(target, to);
            continue;
          }
          if (last) await rename(from, to);
          else {
            // Never written through: a link left at that place is replaced, not followed.
            await rm(to, { force: true });
            await copyFile(from, to);
          }
          // Private, whatever the remote modes and the transport (tar keeps them, minus the umask).
          await chmod(to, st.mode & 0o100 ? 0o700 : 0o600);
        } catch (e) {
          problems.push(`${local}: ${(e as Error).message}`);
        }
      }
      this.wanted.delete(remote);
    }
    return problems;
  }

  /** Remove the pull's own folder. */
  async done(): Promise<void> {
    await rm(this.into, { recursive: true, force: true });
  }
}

/**
 * Make the folders of `rel` under `root` (mode 0700 when new), refusing to go through a symbolic
 * link: a file fetched must land under `root`, whatever an earlier fetch left there.
 */
async function safeParents(root: string, rel: string, made: Set<string>): Promise<void> {
  let at = root;
  for (const part of rel === "." ? [] : rel.split("/")) {
    at = join(at, part);
    if (made.has(at)) continue;
    try {
      const st = await lstat(at);
      if (!st.isDirectory()) throw new Error(`${at} is not a folder`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      await mkdir(at, { mode: 0o700 });
    }
    made.add(at);
  }
}

/** The local place of a runner's output file: `<runner name>/<path>` under localRoot. */
export const outputLocal = (runner: string, path: string) => `${runner}/${path}`;

/** The remote place of an output file, relative to remoteRoot. */
export const outputRemote = (dir: string, path: string) => (dir === "" ? path : `${dir}/${path}`);

/** One line naming the plain output paths that were not found, a few runners at most. */
export function missingMessage(
  missing: { runner: string; dir: string; paths: string[] }[],
  what = "output file(s) of extraFilesRecv not found",
): string | undefined {
  if (missing.length === 0) return undefined;
  const shown = missing
    .slice(0, 5)
    .map(
      (m) => `${m.runner}: ${m.paths.join(", ")} (in ${m.dir === "" ? "remoteDir" : `remoteDir/${m.dir}`})`,
    );
  const more = missing.length > 5 ? `; and ${missing.length - 5} more runner(s)` : "";
  return `${what}: ${shown.join("; ")}${more}`;
}
