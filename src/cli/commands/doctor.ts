/**
 * `remoterun doctor [target]`: the connection diagnosis (diagnose()) with advice. The target is an
 * ssh destination (`[user@]host[:port]` or a Host alias of the ssh config), or a Dataset's database
 * (its connection and remoteDir are then diagnosed); without it, the only database of the folder.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  type Check,
  type Connection,
  connect,
  DatasetLockedError,
  diagnose,
  parseDestination,
  type SshConnectionOptions,
} from "../../index.js";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode, UsageError } from "../exit-codes.js";
import { findDatabases } from "../find.js";
import type { Act } from "./types.js";

interface DoctorOptions {
  port?: string;
  user?: string;
  key?: string;
  knownHosts?: string;
  configFile?: string;
  jump?: string;
  remoteDir?: string;
  node?: string;
  transport?: string;
  transfer?: boolean;
  json?: boolean;
}

export function registerDoctor(program: Command, act: Act): void {
  program
    .command("doctor")
    .description(
      "diagnose a connection: login and its cause, shell output, rsync on both ends, remoteDir and its free space, node, schedulers, clock",
    )
    .argument(
      "[target]",
      "[user@]host[:port] or an ssh config alias, or a database file (default: the only *.remoterun.json here)",
    )
    .option("-p, --port <port>", "ssh port")
    .option("-l, --user <user>", "ssh user")
    .option("-i, --key <file>", "private key file")
    .option("--known-hosts <file>", "known_hosts file")
    .option("-F, --config-file <file>", "ssh config file")
    .option("-J, --jump <spec>", "ProxyJump hop(s)")
    .option(
      "--remote-dir <dir>",
      "the folder runs would use on the far side (default: the Dataset's, or the home)",
    )
    .option("--node <command>", "remote node command (default: node)")
    .option("--transport <name>", "rsync (default) or scp")
    .option("--no-transfer", "skip the test transfer")
    .option("--json", "machine-readable output")
    .action(act(doctor));
}

/**
 * A target that names a database (an existing path, a *.remoterun.json name, or the name or
 * name-id of a Dataset found here, as other commands take it), or nothing.
 */
function isDatabaseTarget(target: string | undefined, cwd: string): boolean {
  if (target === undefined || target === "") return true;
  if (/\.remoterun(\.json)?$/.test(target) || existsSync(resolve(cwd, target))) return true;
  if (/[@:/]/.test(target)) return false;
  return findDatabases(cwd).some((d) => d.name === target || `${d.name}-${d.id}` === target);
}

async function doctor(ctx: Ctx, target: string | undefined, opts: DoctorOptions): Promise<ExitCode> {
  let connection: Connection;
  let remoteDir = opts.remoteDir;
  let done: () => Promise<void>;
  if (isDatabaseTarget(target, ctx.io.cwd())) {
    let opened: ReturnType<Ctx["openWithFile"]>;
    try {
      opened = ctx.openWithFile(target, { json: opts.json });
    } catch (e) {
      if (e instanceof DatasetLockedError) {
        throw new UsageError(`${e.message}; or give the host to diagnose (remoterun doctor user@host)`);
      }
      if (e instanceof UsageError && (target === undefined || target === "")) {
        throw new UsageError(`${e.message}, or the host to diagnose (remoterun doctor user@host)`);
      }
      throw e;
    }
    const { ds } = opened;
    connection = ds.connection;
    if (remoteDir === undefined && typeof ds.runArgs.remoteDir === "string") remoteDir = ds.runArgs.remoteDir;
    done = () => ds.close();
  } else if (target === "localhost") {
    // As connect("localhost"): this machine, without ssh (user@localhost reaches it over ssh).
    connection = connect("localhost");
    done = () => connection.close();
  } else {
    const port = opts.port === undefined ? undefined : Number(opts.port);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new UsageError(`--port: ${JSON.stringify(opts.port)} is not a port number`);
    }
    if (opts.transport !== undefined && opts.transport !== "rsync" && opts.transport !== "scp") {
      throw new UsageError(`--transport: ${JSON.stringify(opts.transport)} is not rsync or scp`);
    }
    // relative to the working folder; `~/…` is left to the connection (the local home)
    const here = (file: string) => (file.startsWith("~") ? file : resolve(ctx.io.cwd(), file));
    const spec: SshConnectionOptions = { ...parseDestination(target!) };
    if (port !== undefined) spec.port = port;
    if (opts.user !== undefined) spec.user = opts.user;
    if (opts.key !== undefined) spec.keyfile = here(opts.key);
    if (opts.knownHosts !== undefined) spec.knownHostsFile = here(opts.knownHosts);
    if (opts.configFile !== undefined) spec.configFile = here(opts.configFile);
    if (opts.jump !== undefined) spec.proxyJump = opts.jump;
    if (opts.node !== undefined) spec.node = opts.node;
    if (opts.transport !== undefined) spec.transport = opts.transport as "rsync" | "scp";
    connection = connect(spec);
    done = () => connection.close();
  }

  let result: Awaited<ReturnType<typeof diagnose>>;
  try {
    result = await diagnose(connection, { remoteDir, transfer: opts.transfer });
  } finally {
    await done();
  }
  if (opts.json) {
    ctx.print(JSON.stringify(result, null, 2));
  } else {
    ctx.print(`${ctx.out.bold("remoterun doctor")} ${result.host}`);
    for (const c of result.checks) for (const line of renderCheck(ctx, c)) ctx.print(line);
    const counts = { ok: 0, warn: 0, fail: 0 };
    for (const c of result.checks) counts[c.status]++;
    ctx.print(
      result.ok
        ? ctx.out.green(`no problem found (${counts.warn} warning(s))`)
        : ctx.out.red(`${counts.fail} problem(s) found, ${counts.warn} warning(s)`),
    );
  }
  return result.ok ? EXIT.OK : EXIT.REMOTE;
}

function renderCheck(ctx: Ctx, c: Check): string[] {
  const tag =
    c.status === "ok"
      ? ctx.out.green("ok  ")
      : c.status === "warn"
        ? ctx.out.yellow("warn")
        : ctx.out.red("FAIL");
  const lines = [`${tag}  ${c.name.padEnd(12)} ${c.summary}`];
  if (c.advice && c.status !== "ok") lines.push(`      ${" ".repeat(12)} ${ctx.out.dim(`→ ${c.advice}`)}`);
  return lines;
}
