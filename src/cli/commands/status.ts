/** `remoterun status`: counts per state, a progress bar and a table of runners; live with --watch. */
import { clearScreenDown, cursorTo, moveCursor } from "node:readline";
import type { Command } from "commander";
import {
  Dataset,
  DatasetLockedError,
  etaText,
  holdLocksBriefly,
  ProgressTracker,
  paceText,
  rateText,
} from "../../index.js";
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
    if (e instanceof DatasetLockedError)
      return opts.watch ? watch(ctx, db, opts, e) : readOnlyStatus(ctx, db, opts, e);
    throw e;
  }
  const { ds } = opened;
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
  return watch(ctx, db, opts, opened);
}

/**
 * `status --watch`: refresh until nothing is in flight. Between two refreshes the Dataset is let go,
 * so that a script may open it; while another process holds it, the states that process records are
 * read from the database instead (read-only), and the Dataset is tried again at the next refresh.
 * On a terminal the frame is redrawn in place either way, with the rate and the ETA.
 */
async function watch(
  ctx: Ctx,
  db: string | undefined,
  opts: StatusOptions,
  first: { ds: Dataset; file: string } | DatasetLockedError,
): Promise<ExitCode> {
  const file = first instanceof DatasetLockedError ? ctx.dbFile(db) : first.file;
  const tracker = new ProgressTracker();
  const live = ctx.isTTY && !opts.json;
  const term = ctx.io.stdout;
  let drawn = 0;
  let heldBy: string | undefined;
  const restore = () => term.write("\x1b[?25h");
  const onInt = () => {
    restore();
    process.exit(130);
  };
  if (live) {
    term.write("\x1b[?25l");
    process.once("SIGINT", onInt);
  }
  let next: { ds: Dataset; file: string } | DatasetLockedError = first;
  try {
    for (;;) {
      let s: StatusSummary;
      let done: boolean;
      if (next instanceof DatasetLockedError) {
        // A script holds the Dataset: follow what it records, without the lock.
        if (next.holder !== heldBy && !live)
          ctx.warn(`read-only: held by ${next.holder}; showing the states it last recorded`);
        heldBy = next.holder;
        const view = Dataset.inspect(file);
        s = summarize(view.name, file, view.runners);
        done = s.inFlight === 0;
      } else {
        // allFinished() refreshes every in-flight runner with one status command; then the Dataset
        // is let go until the next refresh, so that a script may open it between two.
        const { ds } = next;
        heldBy = undefined;
        try {
          done = await ds.allFinished();
          s = summarize(ds.name, file, ds.runners);
        } finally {
          await ds.close();
        }
      }
      tracker.update(s.runners);
      const now = Date.now();
      if (opts.json) ctx.print(JSON.stringify(s));
      else if (live) {
        const rows = term.rows || 24;
        const frame = renderStatus(s, ctx.out, {
          maxRows: Math.max(3, rows - 8),
          errorWidth: errorWidth(ctx),
        });
        // After the name, the counts and the bar: the pace, and whose records these are.
        const pace = [ctx.out.dim(paceText(tracker, now))];
        if (heldBy)
          pace.push(ctx.out.yellow(`read-only: held by ${heldBy}; showing the states it last recorded`));
        frame.splice(3, 0, ...pace);
        if (drawn) {
          moveCursor(term, 0, -drawn);
          cursorTo(term, 0);
          clearScreenDown(term);
        }
        term.write(`${frame.join("\n")}\n`);
        const cols = term.columns || 80;
        drawn = frame.reduce((n, l) => n + Math.max(1, Math.ceil(visibleWidth(l) / cols)), 0);
      } else
        ctx.print(
          `${renderStatusLine(s, new Date(now))} · ${rateText(tracker, now)} · ${etaText(tracker, now)}`,
        );
      if (done) {
        if (!live && !opts.json) {
          ctx.print();
          for (const line of renderStatus(s, ctx.out)) ctx.print(line);
        }
        return EXIT.OK;
      }
      await sleep(opts.interval);
      try {
        next = ctx.openWithFile(db, { json: opts.json });
      } catch (e) {
        if (!(e instanceof DatasetLockedError)) throw e;
        next = e;
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
 * records in the database, without locking or touching it (`--watch` follows them, see watch()).
 */
async function readOnlyStatus(
  ctx: Ctx,
  db: string | undefined,
  opts: StatusOptions,
  locked: DatasetLockedError,
): Promise<ExitCode> {
  const file = ctx.dbFile(db);
  ctx.warn(`read-only: held by ${locked.holder}; showing the states it last recorded`);
  const view = Dataset.inspect(file);
  const s = summarize(view.name, file, view.runners);
  if (opts.json) ctx.print(JSON.stringify(s, null, 2));
  else for (const line of renderStatus(s, ctx.out, { errorWidth: errorWidth(ctx) })) ctx.print(line);
  return EXIT.OK;
}
