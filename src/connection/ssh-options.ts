/**
 * Options of an SSH connection: their validation (every bad value is named in an
 * InvalidArgumentError) and their frozen, normalised copy. The object a user passes is never
 * kept nor mutated; the connection works from the copy made here.
 */
import { accessSync, constants, statSync } from "node:fs";
import { InvalidArgumentError } from "../shared/errors.js";
import { localPath } from "../shared/paths.js";
import { checkOptionKeys } from "../shared/suggest.js";

export interface SshConnectionOptions {
  /** Host name, address or ~/.ssh/config alias. */
  host: string;
  user?: string;
  port?: number;
  /** Private key file (`~/…` is under the local home); adds `-i FILE -o IdentitiesOnly=yes`. */
  keyfile?: string;
  /**
   * `-J` value: `[user@]jump[:port][,more]`. OpenSSH gives the jump hop none of the command-line
   * `-i`/`-o` options (key, known hosts, strict checking...): it reads them from the ssh config
   * files, so put the jump host's settings in a `configFile` (OpenSSH does pass `-F` on to it).
   * With a persistent control master ssh discards the hop's own error output; when a hop fails, the
   * connection connects once more without the master to read it, and the ConnectionError names
   * the hop and its cause (an unknown host key, a refused port...).
   */
  proxyJump?: string;
  /**
   * An ssh config file, passed as `-F FILE` to every ssh this connection runs (exec, rsync's `-e`,
   * the scp/tar transport, `-O exit`) and, by OpenSSH itself, to the ssh of each ProxyJump hop.
   * With `-F`, ssh reads neither ~/.ssh/config nor /etc/ssh/ssh_config. Must be an existing
   * readable file; its path must not contain spaces, `%` or shell metacharacters, because OpenSSH
   * expands `%` tokens in it and hands it unquoted to a shell when it starts a jump hop.
   */
  configFile?: string;
  /**
   * Extra ssh options, each an ssh_config line passed as `-o`: `["Compression=yes"]` or
   * `{ Compression: "yes" }`. They come first on the command line, so they win over our defaults.
   */
  sshOptions?: readonly string[] | Readonly<Record<string, string | number | boolean>>;
  /** known_hosts file to read and record host keys in (`~/…` is under the local home). */
  knownHostsFile?: string;
  /**
   * true (default): `StrictHostKeyChecking=yes`, unknown or changed host keys fail with reason
   * 'host-key'. 'accept-new': trust a first-seen key and record it. false: `no` (never verify).
   */
  strictHostKeyChecking?: boolean | "accept-new";
  /** Connect timeout in seconds (default 10). */
  timeout?: number;
  /** Retries of connection-level failures (exit 255 before the script started), default 2. */
  maxRetries?: number;
  /** First retry delay in ms, doubled each retry (default 500). */
  retryDelayMs?: number;
  /** Default per-command and per-transfer time limit in ms (default 10 minutes). */
  commandTimeout?: number;
  /** Remote node command: a path or a shell snippet like `module load nodejs && node`. */
  node?: string;
  transport?: "rsync" | "scp";
  /** stderr lines matching any of these are removed from what exec returns. */
  ignoreStderr?: readonly RegExp[];
  /** ControlPersist seconds of the control master (default 60). */
  controlPersist?: number;
}

export interface ResolvedSshOptions {
  readonly host: string;
  readonly user: string | undefined;
  readonly port: number | undefined;
  readonly keyfile: string | undefined;
  readonly proxyJump: string | undefined;
  readonly configFile: string | undefined;
  readonly sshOptions: readonly string[];
  readonly knownHostsFile: string | undefined;
  readonly strictHostKeyChecking: boolean | "accept-new";
  readonly timeout: number;
  readonly maxRetries: number;
  readonly retryDelayMs: number;
  readonly commandTimeout: number;
  readonly node: string;
  readonly transport: "rsync" | "scp";
  readonly ignoreStderr: readonly RegExp[];
  readonly controlPersist: number;
}

const KNOWN_KEYS = new Set([
  "kind",
  "host",
  "user",
  "port",
  "keyfile",
  "proxyJump",
  "configFile",
  "sshOptions",
  "knownHostsFile",
  "strictHostKeyChecking",
  "timeout",
  "maxRetries",
  "retryDelayMs",
  "commandTimeout",
  "node",
  "transport",
  "ignoreStderr",
  "controlPersist",
]);

/** ssh's own chatter that is never an error. */
export const DEFAULT_IGNORE_STDERR: readonly RegExp[] = Object.freeze([
  /^Warning: Permanently added .* to the list of known hosts\.?\r?$/,
  /^bash: warning: setlocale: /,
]);

const CONTROL = /[\x00-\x1f\x7f]/;

function str(name: string, v: unknown, what: string, extra?: (s: string) => string | undefined): string {
  if (typeof v !== "string" || v === "") throw new InvalidArgumentError(name, v, what);
  const problem = extra?.(v);
  if (problem) throw new InvalidArgumentError(name, v, what, problem);
  return v;
}

function num(name: string, v: unknown, what: string, ok: (n: number) => boolean): number {
  if (typeof v !== "number" || !ok(v)) throw new InvalidArgumentError(name, v, what);
  return v;
}

function hostLike(s: string): string | undefined {
  if (s.startsWith("-")) return "must not start with '-'";
  if (/\s/.test(s) || CONTROL.test(s)) return "must not contain spaces or control characters";
  return undefined;
}

function readableFile(name: string, v: unknown): string {
  const path = localPath(str(name, v, "a path to an existing readable file"), name);
  try {
    if (!statSync(path).isFile()) throw new Error("not a regular file");
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw new InvalidArgumentError(name, v, "a path to an existing readable file", (e as Error).message);
  }
  return path;
}

/** Characters OpenSSH's jump-hop command line survives unquoted (it runs through `sh -c`). */
const PLAIN_PATH = /^[A-Za-z0-9_@+=:,./-]+$/;

function configFilePath(v: unknown): string {
  const path = readableFile("configFile", v);
  if (!PLAIN_PATH.test(path)) {
    throw new InvalidArgumentError(
      "configFile",
      v,
      "a path to an existing readable file",
      "its path may only contain letters, digits and _@+=:,./- (ssh passes it unquoted to a shell for ProxyJump hops)",
    );
  }
  return path;
}

function sshOptionList(v: unknown): string[] {
  const what = "an array of ssh_config lines ('Key=Value') or a { Key: value } record";
  const line = /^[A-Za-z][A-Za-z0-9]*(=|\s+)\S/;
  if (Array.isArray(v)) {
    return v.map((item, i) =>
      str(`sshOptions[${i}]`, item, "an ssh_config line like 'Compression=yes'", (s) =>
        !line.test(s) || /[\r\n\0]/.test(s) ? "expected 'Key=Value' without newlines" : undefined,
      ),
    );
  }
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.entries(v as Record<string, unknown>).map(([k, val]) => {
      if (!/^[A-Za-z][A-Za-z0-9]*$/.test(k))
        throw new InvalidArgumentError("sshOptions key", k, "an ssh option name");
      if (
        !["string", "number", "boolean"].includes(typeof val) ||
        /[\r\n\0]/.test(String(val)) ||
        val === ""
      ) {
        throw new InvalidArgumentError(`sshOptions.${k}`, val, "a non-empty string, number or boolean");
      }
      const s = typeof val === "boolean" ? (val ? "yes" : "no") : String(val);
      return `${k}=${s}`;
    });
  }
  throw new InvalidArgumentError("sshOptions", v, what);
}

/** Validate user options and return a frozen, normalised copy. */
export function resolveSshOptions(raw: unknown): ResolvedSshOptions {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new InvalidArgumentError("ssh options", raw, "an object with at least { host }");
  }
  const o = raw as Record<string, unknown>;
  checkOptionKeys("connection", o, { own: KNOWN_KEYS, runArgs: false });
  if (o.kind !== undefined && o.kind !== "ssh") throw new InvalidArgumentError("kind", o.kind, "'ssh'");
  const host = str("host", o.host, "a non-empty host name", hostLike);
  const user =
    o.user === undefined
      ? undefined
      : str(
          "user",
          o.user,
          "a user name",
          (s) => hostLike(s) ?? (/[@:]/.test(s) ? "must not contain '@' or ':'" : undefined),
        );
  const port =
    o.port === undefined
      ? undefined
      : num(
          "port",
          o.port,
          "an integer between 1 and 65535",
          (n) => Number.isInteger(n) && n >= 1 && n <= 65535,
        );
  const keyfile = o.keyfile === undefined ? undefined : readableFile("keyfile", o.keyfile);
  const proxyJump =
    o.proxyJump === undefined ? undefined : str("proxyJump", o.proxyJump, "[user@]host[:port]", hostLike);
  const configFile = o.configFile === undefined ? undefined : configFilePath(o.configFile);
  const knownHostsFile =
    o.knownHostsFile === undefined
      ? undefined
      : localPath(
          str("knownHostsFile", o.knownHostsFile, "a file path", (s) =>
            CONTROL.test(s) ? "must not contain control characters" : undefined,
          ),
          "knownHostsFile",
        );
  const shk = o.strictHostKeyChecking ?? true;
  if (shk !== true && shk !== false && shk !== "accept-new") {
    throw new InvalidArgumentError("strictHostKeyChecking", shk, "true, false or 'accept-new'");
  }
  const positive = (n: number) => Number.isFinite(n) && n > 0;
  const timeout = num("timeout", o.timeout ?? 10, "a positive number of seconds", positive);
  const maxRetries = num(
    "maxRetries",
    o.maxRetries ?? 2,
    "an integer between 0 and 10",
    (n) => Number.isInteger(n) && n >= 0 && n <= 10,
  );
  const retryDelayMs = num(
    "retryDelayMs",
    o.retryDelayMs ?? 500,
    "a number of ms >= 0",
    (n) => Number.isFinite(n) && n >= 0,
  );
  const commandTimeout = num(
    "commandTimeout",
    o.commandTimeout ?? 600_000,
    "a positive number of ms",
    (n) => n > 0,
  );
  const controlPersist = num(
    "controlPersist",
    o.controlPersist ?? 60,
    "a positive integer number of seconds",
    (n) => Number.isInteger(n) && n > 0,
  );
  const node = str("node", o.node ?? "node", "a node path or shell command", (s) =>
    /[\r\n\0]/.test(s) ? "must be one line" : undefined,
  );
  const transport = o.transport ?? "rsync";
  if (transport !== "rsync" && transport !== "scp")
    throw new InvalidArgumentError("transport", transport, "'rsync' or 'scp'");
  let ignoreStderr: RegExp[] = [];
  if (o.ignoreStderr !== undefined) {
    if (!Array.isArray(o.ignoreStderr))
      throw new InvalidArgumentError("ignoreStderr", o.ignoreStderr, "an array of RegExp");
    ignoreStderr = o.ignoreStderr.map((r, i) => {
      if (!(r instanceof RegExp)) throw new InvalidArgumentError(`ignoreStderr[${i}]`, r, "a RegExp");
      return new RegExp(r.source, r.flags.replace(/[gy]/g, "")); // own copy, no lastIndex state
    });
  }
  return Object.freeze({
    host,
    user,
    port,
    keyfile,
    proxyJump,
    configFile,
    sshOptions: Object.freeze(o.sshOptions === undefined ? [] : sshOptionList(o.sshOptions)),
    knownHostsFile,
    strictHostKeyChecking: shk,
    timeout,
    maxRetries,
    retryDelayMs,
    commandTimeout,
    node,
    transport,
    ignoreStderr: Object.freeze([...DEFAULT_IGNORE_STDERR, ...ignoreStderr]),
    controlPersist,
  });
}

/** Quote a value for ssh's own config-line parser (used by `-o Key=VALUE`); `%` tokens are escaped. */
export function sshConfigValue(v: string): string {
  const escaped = v.replace(/%/g, "%%");
  return /[\s"'\\#]/.test(escaped) ? `"${escaped.replace(/[\\"]/g, "\\$&")}"` : escaped;
}

/**
 * The ssh arguments shared by every process of one connection (exec, transports, -O exit), without
 * the destination. OpenSSH keeps the first value it sees for an option, so the user's extra
 * options come first and win. Command-line options beat the config file; without `configFile`
 * ~/.ssh/config is read as usual, with it (`-F`) only that file is.
 */
export function sshBaseArgs(o: ResolvedSshOptions, controlPath: string): string[] {
  const args: string[] = [];
  if (o.configFile) args.push("-F", o.configFile);
  for (const line of o.sshOptions) args.push("-o", line);
  const shk =
    o.strictHostKeyChecking === true ? "yes" : o.strictHostKeyChecking === false ? "no" : "accept-new";
  args.push(
    "-o",
    "BatchMode=yes",
    "-o",
    `ConnectTimeout=${Math.max(1, Math.ceil(o.timeout))}`,
    "-o",
    "ControlMaster=auto",
    "-o",
    `ControlPersist=${o.controlPersist}`,
    "-o",
    `ControlPath=${sshConfigValue(controlPath)}`,
    "-o",
    "ServerAliveInterval=15",
    "-o",
    "ServerAliveCountMax=3",
    "-o",
    `StrictHostKeyChecking=${shk}`,
  );
  if (o.knownHostsFile) args.push("-o", `UserKnownHostsFile=${sshConfigValue(o.knownHostsFile)}`);
  if (o.port !== undefined) args.push("-p", String(o.port));
  if (o.user !== undefined) args.push("-l", o.user);
  if (o.keyfile) args.push("-i", o.keyfile.replace(/%/g, "%%"), "-o", "IdentitiesOnly=yes");
  if (o.proxyJump) args.push("-J", o.proxyJump);
  return args;
}

/** `user@host:port` (parts omitted when not set). */
export function sshLabel(o: ResolvedSshOptions): string {
  return `${o.user ? `${o.user}@` : ""}${o.host}${o.port !== undefined ? `:${o.port}` : ""}`;
}
