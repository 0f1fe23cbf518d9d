/**
 * The line that explains a failure. ssh, rsync, tar, mkdir and bash each print their own account of
 * what went wrong, and the last line (what rsync prints on its way out: "error in rsync protocol
 * data stream (code 12)") is rarely the cause. findCause() reads the whole output and returns the
 * line of the highest-ranked known cause, so that an error message can name it.
 *
 * The ranking puts root causes before their consequences: a host key or a name that does not
 * resolve explains a closed connection, a full disk explains a broken pipe, a shell that talks on
 * stdout explains rsync's protocol mismatch.
 */

import type { ConnectionError, TransferFailureKind } from "../shared/errors.js";

/**
 * What a known line says went wrong: a connection error's reason (host-key, auth, refused,
 * unreachable, timeout, dropped), a transfer's failure kind (no-space, read-only, permission,
 * missing-program, noisy-shell, not-found), or a host name that does not resolve.
 */
export type CauseKind =
  | Exclude<ConnectionError["reason"], "unknown">
  | Exclude<TransferFailureKind, "unknown">
  | "resolve";

export interface Cause {
  kind: CauseKind;
  /** The line of output, as printed (trimmed). */
  line: string;
  /** A short phrase for the kind, e.g. "connection refused". */
  summary: string;
  /** What to do about it. */
  advice: string;
}

interface Rule {
  kind: CauseKind;
  re: RegExp;
  summary: string;
  advice: string;
}

/** Ranked: the first rule that matches any line wins; within a rule, the first matching line. */
const RULES: readonly Rule[] = [
  {
    kind: "host-key",
    re: /REMOTE HOST IDENTIFICATION HAS CHANGED|host key for \S+ has changed|No \S+ host key is known for|Host key verification failed/i,
    summary: "host key verification failed",
    advice:
      "the host key is not in known_hosts (or changed): connect once with ssh and check the fingerprint, or set knownHostsFile (for a ProxyJump hop, in its configFile entry)",
  },
  {
    kind: "resolve",
    re: /Could not resolve hostname|Name or service not known|nodename nor servname|Temporary failure in name resolution|No address associated with hostname/i,
    summary: "the host name does not resolve",
    advice: "check the spelling of the host, or define it as a Host alias in the ssh config file",
  },
  {
    kind: "auth",
    re: /Permission denied \([a-z]|Permission denied, please try again|Too many authentication failures|Authentication failed|no such identity/i,
    summary: "authentication failed",
    advice: "check user and keyfile, and that the public key is in the remote ~/.ssh/authorized_keys",
  },
  {
    kind: "refused",
    re: /Connection refused/,
    summary: "connection refused",
    advice: "check the port, and that sshd runs on the host",
  },
  {
    kind: "unreachable",
    re: /No route to host|Network is unreachable|Host is unreachable/,
    summary: "host unreachable",
    advice: "check the address and the network (VPN, ProxyJump)",
  },
  {
    kind: "timeout",
    re: /Connection timed out|Operation timed out|timed out during banner exchange|Timeout, server \S+ not responding/,
    summary: "connection timed out",
    advice: "check the address and the network; raise timeout for slow links",
  },
  {
    kind: "noisy-shell",
    re: /is your shell clean|protocol version mismatch|server sent .* rather than greeting|invalid message \d+:\d+|unexpected tag \d+/,
    summary: "the remote shell prints on stdout when it starts",
    advice:
      "a startup file of the remote shell (~/.bashrc, or a file it sources) prints on stdout; print only in interactive shells, e.g. put `[[ $- == *i* ]] || return` before the output",
  },
  {
    kind: "no-space",
    re: /No space left on device|Disk quota exceeded|Wrote only \d+ of \d+ bytes/,
    summary: "no space left on the disk written to (or quota exceeded)",
    advice:
      "free space where the files go (remoteDir when sending and running, localDir when fetching; check with df and quota), or choose a folder on another file system",
  },
  {
    kind: "read-only",
    re: /Read-only file system/,
    summary: "the remote file system is read-only",
    advice: "choose a remoteDir on a writable file system",
  },
  {
    kind: "permission",
    re: /Permission denied|Operation not permitted|Cannot open: Permission/,
    summary: "permission denied",
    advice: "choose a remoteDir the ssh user may write (e.g. under its home), or fix the folder's owner/mode",
  },
  {
    kind: "missing-program",
    re: /^[\w./-]*sh(?:: line \d+|: \d+)?: [^:\s]+: (?:command )?not found$/,
    summary: "a program is missing on the far side",
    advice:
      "install it on the far side (or put it on the non-interactive PATH); without rsync, use transport: 'scp'",
  },
  {
    kind: "not-found",
    re: /No such file or directory/,
    summary: "no such file or directory",
    advice: "check remoteDir and the file names",
  },
  {
    kind: "dropped",
    re: /closed by remote host|Connection closed by|Connection reset|Broken pipe|client_loop: send disconnect|kex_exchange_identification|connection unexpectedly closed/,
    summary: "the connection closed",
    advice: "try again; if it persists, check the remote sshd's limits (MaxSessions, MaxStartups)",
  },
];

/**
 * The highest-ranked known cause among the lines of `outputs` (stderr of each process, in any
 * order), or null when no line is known.
 */
export function findCause(...outputs: readonly string[]): Cause | null {
  const lines = outputs
    .flatMap((o) => o.split(/\r?\n/))
    .map((l) => l.trim())
    .filter((l) => l !== "");
  for (const rule of RULES) {
    for (const line of lines) {
      if (!rule.re.test(line)) continue;
      return { kind: rule.kind, line, summary: rule.summary, advice: rule.advice };
    }
  }
  return null;
}

/** The program a "command not found" line names (`rsync` in "bash: line 1: rsync: command not found"). */
export function missingProgram(line: string): string | null {
  return /^[\w./-]*sh(?:: line \d+|: \d+)?: ([^:\s]+): (?:command )?not found$/.exec(line)?.[1] ?? null;
}

/** Kinds that mean the connection itself failed (not the work done over it). */
export function isConnectionCause(kind: CauseKind): boolean {
  return (
    kind === "host-key" ||
    kind === "resolve" ||
    kind === "auth" ||
    kind === "refused" ||
    kind === "unreachable" ||
    kind === "timeout" ||
    kind === "dropped"
  );
}
