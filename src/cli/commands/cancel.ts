/** `remoterun cancel`: stop every in-flight runner (they are marked failed). */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode } from "../exit-codes.js";
import { list } from "./run.js";
import { type Act, dbCommand } from "./types.js";

export function registerCancel(program: Command, act: Act): void {
  dbCommand(program, "cancel", "stop every submitted or running runner (they become failed)").action(
    act(cancel),
  );
}

async function cancel(ctx: Ctx, db: string | undefined): Promise<ExitCode> {
  const ds = ctx.open(db);
  const names = await ds.cancel();
  ctx.print(
    names.length ? `cancelled ${names.length} runner(s): ${list(names)}` : ctx.out.dim("nothing to cancel"),
  );
  await ds.close();
  return EXIT.OK;
}
