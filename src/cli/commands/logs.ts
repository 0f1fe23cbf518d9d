/** `remoterun logs <runner>`: what a runner wrote on stdout and stderr (and its error), as fetched. */
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode, UsageError } from "../exit-codes.js";
import { jsonSafe } from "../format.js";
import { type Act, DB_ARGUMENT } from "./types.js";
import { readView, type ViewRunner } from "./view.js";

interface LogsOptions {
  stdout?: boolean;
  stderr?: boolean;
  json?: boolean;
  fetch: boolean;
}

export function registerLogs(program: Command, act: Act): void {
  const cmd = program
    .command("logs")
    .description(
      "print what a runner wrote on stdout and stderr, and its error (fetched first; exit 1 if nothing is known yet)",
    )
    .argument("<runner>", "the runner's name (or its position, from 0)")
    .argument("[db]", DB_ARGUMENT)
    .option("--stdout", "only its stdout, as written")
    .option("--stderr", "only its stderr, as written")
    .option("--json", '{ "runner", "state", "args", "stdout", "stderr", "error" } (null: not known yet)')
    .option("--no-fetch", "print what the database holds, without contacting the remote side");
  const handler = act<LogsOptions & { runner: string }>((ctx, db, opts) => logs(ctx, opts.runner, db, opts));
  cmd.action(function (this: Command, runner: string, db: string | undefined, opts: LogsOptions) {
    return handler.call(this, db, { ...opts, runner });
  });
}

/** A runner by name, or by its position when no runner has that name. */
function pick(runners: readonly ViewRunner[], which: string, dataset: string): ViewRunner {
  const named = runners.find((r) => r.name === which);
  if (named) return named;
  if (/^\d+$/.test(which) && Number(which) < runners.length) return runners[Number(which)];
  const some = runners
    .slice(0, 5)
    .map((r) => r.name)
    .join(", ");
  throw new UsageError(
    runners.length
      ? `no runner ${which} in Dataset ${dataset} (its ${runners.length} runner(s): ${some}${runners.length > 5 ? ", …" : ""}; or a position from 0)`
      : `no runner ${which}: Dataset ${dataset} has no runners`,
  );
}

/** The error beyond what stderr already shows (a failure's full text starts with the run's stderr). */
function errorPart(r: ViewRunner): string | undefined {
  const full = r.error?.fullError;
  if (full === undefined) return undefined;
  const err = r.stderr ?? "";
  return err !== "" && full.startsWith(err) ? full.slice(err.length).replace(/^\n/, "") : full;
}

/** Why nothing is known of a runner's output yet, and what brings it. */
function notYet(r: ViewRunner, fetched: boolean): string {
  switch (r.state) {
    case "created":
    case "reset":
      return "it has not run (remoterun run submits it)";
    case "staged":
    case "transferred":
    case "submitted":
    case "started":
      return `it is ${r.state}: its output comes back with its result once it has finished (remoterun wait, then remoterun logs)`;
    default:
      return fetched
        ? `it is ${r.state} but nothing came back with its result`
        : `it is ${r.state}: remoterun fetch brings its output`;
  }
}

async function logs(ctx: Ctx, which: string, db: string | undefined, opts: LogsOptions): Promise<ExitCode> {
  if (opts.stdout && opts.stderr)
    throw new UsageError("--stdout and --stderr: choose one (or neither for both)");
  if (opts.json && (opts.stdout || opts.stderr))
    throw new UsageError("--json prints both streams: leave out --stdout/--stderr");
  const view = await readView(ctx, db, { fetch: opts.fetch, json: opts.json });
  const r = pick(view.runners, which, view.dataset);
  const error = errorPart(r);
  const known = r.stdout !== undefined || r.stderr !== undefined || error !== undefined;
  if (opts.json) {
    ctx.print(
      JSON.stringify(
        {
          runner: r.name,
          state: r.state,
          args: jsonSafe(r.args),
          stdout: r.stdout ?? null,
          stderr: r.stderr ?? null,
          error: r.error ? r.error.fullError : null,
        },
        null,
        2,
      ),
    );
    return known ? EXIT.OK : EXIT.RUNNERS_FAILED;
  }
  const fetched = opts.fetch && !view.readOnly;
  if (!known) {
    ctx.warn(`nothing known yet of the output of ${r.name}: ${notYet(r, fetched)}`);
    return EXIT.RUNNERS_FAILED;
  }
  if (opts.stdout || opts.stderr) {
    const text = opts.stdout ? r.stdout : r.stderr;
    if (text === undefined) {
      ctx.warn(
        `the ${opts.stdout ? "stdout" : "stderr"} of ${r.name} is not known yet: ${notYet(r, fetched)}`,
      );
      return EXIT.RUNNERS_FAILED;
    }
    ctx.io.stdout.write(text);
    return EXIT.OK;
  }
  const section = (title: string, text: string | undefined) => {
    if (text === undefined) return;
    ctx.print(ctx.out.bold(`==> ${r.name} ${title} <==`));
    if (text === "") ctx.print(ctx.out.dim("(empty)"));
    else ctx.io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  };
  section("stdout", r.stdout);
  section("stderr", r.stderr);
  section("error", error);
  return EXIT.OK;
}
