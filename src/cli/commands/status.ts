/** `remoterun status`: counts per state, a progress bar and a table of runners; live with --watch. */
import type { Command } from "commander";
import { Dataset, DatasetLockedError, holdLocksBriefly } from "../../index.js";
import type { Ctx } from "../context.js";
import { sleep } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import {
  renderMasters,
  renderStatus,
  renderStatusLine,
  type StatusSummary,
  summarize,
  visibleWidth,
} from "../format.js";
import { seconds } from "../parse.js";
import { type Act, dbCommand } from "./types.js";

interface StatusOptions {
  watch?: boolean;
  interval: number;
  json?: boolean;
}

export function registerStatus(program: Command, act: Act): void {
  dbCommand(program, "status", "show counts per state, a progress bar and the runners (one status command)")
    .option("-w, --watch", "refresh until every submitted runner has finished")
    .option("-i, --interval <seconds>", "pause between refreshes with --watch", seconds(), 2)
    .option("--json", "machine-readable output (with --watch: one JSON object per line)")
    .action(act(status));
}

async function status(ctx: Ctx, db: string | undefined, opts: StatusOptions): Promise<ExitCode> {
  // Status holds a Dataset nobody else holds only while it refreshes; a script that opens it
  // meanwhile waits for that moment instead of failing.
  holdLocksBriefly();
  let opened: ReturnType<Ctx["openWithFile"]>;
  try {
    opened = ctx.openWithFile(db, { json: opts.json });
  } catch (e) {
    if (e instanceof DatasetLockedError) return readOnlyStatus(ctx, db, opts, e);
    throw e;
  }
  let { ds } = opened;
  const { file } = opened;
  const snapshot = (): StatusSummary => summarize(ds.name, file, ds.runners);
  // Without a scheduler: whether the master of each submission that was in flight still runs.
  const masters = () =>
    ds.liveness.map((l) => ({
      token: l.token,
      pid: l.pid ?? null,
      state: l.state,
      reason: l.reason ?? null,
    }));
  const printMasters = () => {
    for (const line of renderMasters(
      ds.liveness.map((l) => ({ token: l.token, pid: l.pid, state: l.state, reason: l.reason })),
      ctx.out,
    ))
      ctx.print(line);
  };
  if (!opts.watch) {
    await ds.isFinished();
    const s = snapshot();
    if (opts.json) ctx.print(JSON.stringify({ ...s, masters: masters() }, null, 2));
    else {
      for (const line of renderStatus(s, ctx.out, { errorWidth: errorWidth(ctx) })) ctx.print(line);
      if (ds.liveness.length) ctx.print();
      printMasters();
    }
    return EXIT.OK;
  }
  const live = ctx.isTTY && !opts.json;
  const term = ctx.io.stdout;
  let drawn = 0;
  const restore = () => term.write("\x1b[?25h");
  const onInt = () => {
    restore();
    process.exit(130);
  };
  if (live) {
    term.write("\x1b[?25l");
    process.once("SIGINT", onInt);
  }
  try {
    for (;;) {
      // allFinished() refreshes every in-flight runner with one status command; then the Dataset
      // is let go until the next refresh, so that a script may open it between two.
      const done = await ds.allFinished();
      const s = snapshot();
      await ds.close();
      if (opts.json) ctx.print(JSON.stringify(s));
      else if (live) {
        const rows = term.rows || 24;
        const frame = renderStatus(s, ctx.out, {
          maxRows: Math.max(3, rows - 6),
          errorWidth: errorWidth(ctx),
        });
        term.write(`${drawn ? `\x1b[${drawn}F\x1b[J` : ""}${frame.join("\n")}\n`);
        const cols = term.columns || 80;
        drawn = frame.reduce((n, l) => n + Math.max(1, Math.ceil(visibleWidth(l) / cols)), 0);
      } else ctx.print(renderStatusLine(s, new Date()));
      if (done) {
        if (!live && !opts.json) {
          ctx.print();
          for (const line of renderStatus(s, ctx.out)) ctx.print(line);
        }
        return EXIT.OK;
      }
      await sleep(opts.interval);
      try {
        ds = ctx.openWithFile(db, { json: opts.json }).ds;
      } catch (e) {
        // A script took the Dataset meanwhile: follow what it records, without the lock.
        if (e instanceof DatasetLockedError) return readOnlyStatus(ctx, db, opts, e);
        throw e;
      }
    }
  } finally {
    if (live) {
      process.removeListener("SIGINT", onInt);
      restore();
    }
  }
}

function errorWidth(ctx: Ctx): number {
  return ctx.isTTY ? Math.max(20, (ctx.io.stdout.columns || 80) - 50) : 200;
}

/**
 * Another process (typically the user's script, waiting) holds the Dataset: show the states it
 * records in the database, without locking or touching it; with --watch, re-read until nothing is
 * in flight.
 */
async function readOnlyStatus(
  ctx: Ctx,
  db: string | undefined,
  opts: StatusOptions,
  locked: DatasetLockedError,
): Promise<ExitCode> {
  const file = ctx.dbFile(db);
  ctx.warn(`read-only: held by ${locked.holder}; showing the states it last recorded`);
  const read = (): StatusSummary => {
    const view = Dataset.inspect(file);
    return summarize(view.name, file, view.runners);
  };
  for (;;) {
    const s = read();
    const done = !opts.watch || s.inFlight === 0;
    if (opts.json) ctx.print(JSON.stringify(s, null, opts.watch ? undefined : 2));
    else if (done)
      for (const line of renderStatus(s, ctx.out, { errorWidth: errorWidth(ctx) })) ctx.print(line);
    else ctx.print(renderStatusLine(s, new Date()));
    if (done) return EXIT.OK;
    await sleep(opts.interval);
  }
}
