/**
 * Reading ssh's stderr: which connection-level failure it reports, and which lines are harmless
 * noise to drop from what the caller sees.
 */
import type { ConnectionError } from "../shared/errors.js";
import { findCause } from "./causes.js";

export type FailureReason = ConnectionError["reason"];

/** Ordered: the first matching rule wins (host-key problems also mention the connection). */
const RULES: ReadonlyArray<readonly [FailureReason, RegExp]> = [
  [
    "host-key",
    /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known|host key for \S+ has changed/i,
  ],
  [
    "auth",
    /Permission denied \([a-z]|Permission denied, please try again|Too many authentication failures|Authentication failed/,
  ],
  ["refused", /Connection refused/],
  [
    "unreachable",
    /Could not resolve hostname|Name or service not known|nodename nor servname|No route to host|Network is unreachable|Temporary failure in name resolution/,
  ],
  [
    "timeout",
    /Connection timed out|Operation timed out|timed out during banner exchange|Timeout, server \S+ not responding/,
  ],
  [
    "dropped",
    /closed by remote host|Connection closed by|Connection reset|Broken pipe|client_loop: send disconnect|kex_exchange_identification|mux_client_\w+: read (header|packet) failed|Control socket connect.*(No such file|Connection refused)/,
  ],
];

/** The connection-level reason ssh's stderr reports, or null when it reports none. */
export function classifySshStderr(stderr: string): FailureReason | null {
  for (const [reason, re] of RULES) if (re.test(stderr)) return reason;
  return null;
}

/** Reasons worth another attempt (transient); auth and host-key failures never are. */
export function isTransient(reason: FailureReason): boolean {
  return reason === "refused" || reason === "timeout" || reason === "unreachable" || reason === "dropped";
}

/** Remove every line matching one of the patterns; everything else is kept byte for byte. */
export function stripStderr(stderr: string, patterns: readonly RegExp[]): string {
  if (stderr === "" || patterns.length === 0) return stderr;
  const lines = stderr.split("\n");
  const kept = lines.filter((line, i) => {
    if (line === "" && i === lines.length - 1) return true; // trailing newline
    return !patterns.some((p) => {
      p.lastIndex = 0;
      return p.test(line);
    });
  });
  return kept.join("\n");
}

/** A short message for a ConnectionError: the reason, and the line of stderr that explains it. */
export function reasonMessage(reason: FailureReason, stderr: string): string {
  const detail = findCause(stderr)?.line ?? stderr.trim().split("\n").filter(Boolean).pop() ?? "";
  const head: Record<FailureReason, string> = {
    refused: "connection refused",
    timeout: "connection timed out",
    auth: "authentication failed",
    "host-key": "host key verification failed",
    unreachable: "host unreachable",
    dropped: "connection dropped",
    unknown: "ssh failed",
  };
  return detail ? `${head[reason]} (${detail})` : head[reason];
}
