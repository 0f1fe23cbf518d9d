/** `remoterun list [folder]`: every Dataset whose database lies under a folder, read without locking. */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { Dataset } from "../../index.js";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode, UsageError } from "../exit-codes.js";
import { DEFAULT_DEPTH, findDatabases, shown } from "../find.js";
import { countStates, type ListedDataset, renderList } from "../format.js";
import { wholeNumber } from "../parse.js";
import type { Act } from "./types.js";

interface ListOptions {
  json?: boolean;
  depth: number;
}

export function registerList(program: Command, act: Act): void {
  program
    .command("list")
    .description(
      "list the Datasets under a folder: name, counts per state, connection, computer, last change (reads only)",
    )
    .argument("[folder]", "where to look (default: the current folder), and the folders below it")
    .option("--json", "a JSON array, one object per Dataset")
    .option(
      "-d, --depth <levels>",
      "how many folder levels below to look into",
      wholeNumber(0, 100, "levels"),
      DEFAULT_DEPTH,
    )
    .action(act(list));
}

async function list(ctx: Ctx, folder: string | undefined, opts: ListOptions): Promise<ExitCode> {
  const cwd = ctx.cwd;
  const root = resolve(cwd, folder ?? ".");
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UsageError(`no folder at ${root}`);
  const rows = findDatabases(root, opts.depth).map((d) => describe(d.file, d.name, d.id));
  if (opts.json) ctx.print(JSON.stringify(rows, null, 2));
  else if (rows.length === 0) ctx.print(ctx.out.dim(`no Dataset under ${root}`));
  else for (const line of renderList(rows, ctx.out, (f) => shown(f, cwd))) ctx.print(line);
  // Every database was read: 0; one that could not be (damaged, not a database): 5, the rest shown.
  return rows.some((r) => r.error !== null) ? EXIT.DATABASE : EXIT.OK;
}

/** What list shows of one database: read as `status` reads beside a running script, never locked. */
function describe(file: string, name: string, id: string): ListedDataset {
  try {
    const view = Dataset.inspect(file);
    const last = view.runners.reduce((t, r) => Math.max(t, r.stateTime), 0);
    return {
      name: view.name,
      id,
      database: file,
      kind: view.kind,
      connection: view.connection,
      computer: view.computer ?? null,
      total: view.runners.length,
      counts: countStates(view.runners.map((r) => r.state)),
      lastChange: new Date(last || statSync(file).mtimeMs).toISOString(),
      error: null,
    };
  } catch (e) {
    return {
      name,
      id,
      database: file,
      kind: null,
      connection: null,
      computer: null,
      total: 0,
      counts: {},
      lastChange: null,
      // A DatabaseError names the file first: the row shows it already.
      error: ((e as Error)?.message ?? String(e)).replace(`${file}: `, ""),
    };
  }
}
