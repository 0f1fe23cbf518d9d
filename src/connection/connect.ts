/**
 * connect(): the one factory for connections.
 *
 *   connect()                         → LocalConnection
 *   connect("localhost")              → LocalConnection
 *   connect({ kind: "local", ... })   → LocalConnection
 *   connect("user@host:2222")         → SshConnection (shorthand; IPv6 as "[::1]:22")
 *   connect({ host, ...options })     → SshConnection
 *
 * Every option is validated; a bad value throws InvalidArgumentError naming it. The options object
 * is copied, never kept or mutated.
 */
import { InvalidArgumentError } from "../shared/errors.js";
import { checkOptionKeys } from "../shared/suggest.js";
import { LocalConnection, type LocalConnectionOptions } from "./local.js";
import { SshConnection } from "./ssh.js";
import type { SshConnectionOptions } from "./ssh-options.js";
import type { Connection } from "./types.js";

export type ConnectOptions =
  | undefined
  | null
  | "localhost"
  | string
  | ({ kind: "local" } & LocalConnectionOptions)
  | ({ kind?: "ssh" } & SshConnectionOptions);

const LOCAL_KEYS: ReadonlySet<string> = new Set(["kind", "node", "commandTimeout"]);

export function connect(options?: ConnectOptions): Connection {
  if (options === undefined || options === null || options === "localhost") return new LocalConnection();
  if (typeof options === "string") return new SshConnection(parseDestination(options));
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new InvalidArgumentError(
      "connection",
      options,
      "'localhost', 'user@host[:port]' or an options object",
    );
  }
  const o = options as unknown as Record<string, unknown>;
  if (o.kind === "local") return new LocalConnection(localOptions(o));
  if (o.kind !== undefined && o.kind !== "ssh")
    throw new InvalidArgumentError("kind", o.kind, "'local' or 'ssh'");
  return new SshConnection(options as SshConnectionOptions);
}

function localOptions(o: Record<string, unknown>): LocalConnectionOptions {
  checkOptionKeys("local connection", o, { own: LOCAL_KEYS, runArgs: false });
  const out: LocalConnectionOptions = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === "kind") continue;
    if (k === "node") {
      if (typeof v !== "string" || v === "" || /[\r\n\0]/.test(v)) {
        throw new InvalidArgumentError("node", v, "a node path or one-line shell command");
      }
      out.node = v;
    } else if (k === "commandTimeout") {
      if (typeof v !== "number" || !(v > 0))
        throw new InvalidArgumentError("commandTimeout", v, "a positive number of ms");
      out.commandTimeout = v;
    } else {
      throw new InvalidArgumentError("local connection option", k, "'node' or 'commandTimeout'");
    }
  }
  return out;
}

/**
 * The ssh options of a destination `[user@]host[:port]` or `[user@][v6addr][:port]`, as connect()
 * takes it as a string. Throws InvalidArgumentError for anything else.
 */
export function parseDestination(dest: string): SshConnectionOptions {
  const m = /^(?:([^@\s]+)@)?(?:\[([^\]\s]+)\]|([^:@\s[\]]+))(?::(\d+))?$/.exec(dest);
  if (!m) throw new InvalidArgumentError("destination", dest, "'localhost' or '[user@]host[:port]'");
  const out: SshConnectionOptions = { host: m[2] ?? m[3] };
  if (m[1] !== undefined) out.user = m[1];
  if (m[4] !== undefined) out.port = Number(m[4]);
  return out;
}
