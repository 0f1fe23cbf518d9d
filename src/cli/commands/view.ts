/**
 * The runners of a Dataset for commands that only read them (`errors`, `logs`): fetched first when
 * asked and the Dataset is free; read from the database without the lock when another process (a
 * script, waiting) holds it, as `status` does.
 */
import { Dataset, DatasetLockedError, holdLocksBriefly, type RunnerFailedError } from "../../index.js";
import type { Ctx } from "../context.js";

/** What the reading commands need of a runner. */
export interface ViewRunner {
  name: string;
  state: string;
  stateTime: number;
  args: unknown;
  error?: RunnerFailedError | undefined;
  stdout?: string | undefined;
  stderr?: string | undefined;
}

export interface View {
  dataset: string;
  database: string;
  runners: readonly ViewRunner[];
  /** Another process held the Dataset: nothing was fetched, this is what it last recorded. */
  readOnly: boolean;
}

export async function readView(
  ctx: Ctx,
  db: string | undefined,
  options: { fetch: boolean; json?: boolean },
): Promise<View> {
  // Held only for a moment: a script opening the Dataset meanwhile waits instead of failing.
  holdLocksBriefly();
  let opened: ReturnType<Ctx["openWithFile"]>;
  try {
    opened = ctx.openWithFile(db, { json: options.json });
  } catch (e) {
    if (!(e instanceof DatasetLockedError)) throw e;
    const file = ctx.dbFile(db);
    ctx.warn(ctx.err.dim(`read-only: held by ${e.holder}; showing what it last recorded (nothing fetched)`));
    const view = Dataset.inspect(file);
    return { dataset: view.name, database: file, runners: view.runners, readOnly: true };
  }
  const { ds, file } = opened;
  try {
    if (options.fetch) await ds.fetchResults();
  } finally {
    await ds.close();
  }
  return { dataset: ds.name, database: file, runners: ds.runners, readOnly: false };
}
