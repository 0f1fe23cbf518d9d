/** `remoterun fetch`: bring back the results and errors of finished runners (one transfer). */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { type Act, dbCommand } from "./types.js";

export function registerFetch(program: Command, act: Act): void {
  dbCommand(program, "fetch", "bring back the results and errors of finished runners").action(act(fetch));
}

async function fetch(ctx: Ctx, db: string | undefined): Promise<ExitCode> {
  const ds = ctx.open(db);
  const before = ds.runners.filter((r) => r.result !== undefined).length;
  await ds.fetchResults();
  const known = ds.runners.filter((r) => r.result !== undefined);
  const failed = known.filter((r) => r.error !== undefined).length;
  ctx.print(
    `fetched ${known.length - before} new result(s); ${known.length} of ${ds.runners.length} runner(s) have a result${failed ? `, ${failed} of them an error` : ""}`,
  );
  await ds.close();
  return EXIT.OK;
}
