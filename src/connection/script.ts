/**
 * The envelope around every script sent to `bash -s`. The outer shell prints a start marker on
 * stderr, runs the caller's script in an inner `bash -s` fed by a quoted here-document (so every
 * byte of it arrives as written, and no `exit`, `exec` or trap of the script can skip what follows),
 * then prints the script's exit status on stderr. The markers let the caller tell apart:
 *   - exit 255 without start marker: ssh never ran the script (connection failure, safe to retry);
 *   - exit 255 with start marker but no status: the connection died while the script ran;
 *   - a status line: the script's own exit status, whatever it is (255 included).
 * The inner shell also prints a marker line on stdout before the script runs: what rc files of
 * either shell print there (a login banner, `echo -n` with no newline) comes before it and is dropped.
 * The outer shell prints one more on stdout, first of all: what comes before it, and what came on
 * stderr before the start marker, is what the login shell printed by itself (its startup files),
 * the output that breaks rsync (whose server is started by that same shell).
 */
import { randomBytes } from "node:crypto";
import { shellQuote } from "../shared/quote.js";

export const STARTED_MARKER = "@@remoterun:started@@\n";
const STATUS = /@@remoterun:exit=(\d+)@@\n/;
/** Printed after a newline, so that it is a line of its own even after noise without one. */
const OUT_MARKER = "\n@@remoterun:out@@\n";
/** First line of the outer shell on stdout: the login shell's own output comes before it. */
const SHELL_MARKER = "\n@@remoterun:shell@@\n";

export function wrapScript(script: string, cwd?: string): string {
  const end = `__REMOTERUN_EOF_${randomBytes(12).toString("hex")}__`;
  const body = script.endsWith("\n") || script === "" ? script : `${script}\n`;
  const cd = cwd === undefined ? "" : `cd -- ${shellQuote(cwd)} || exit\n`;
  return [
    `printf '\\n%s\\n' '${SHELL_MARKER.trim()}'`,
    `printf '%s\\n' '${STARTED_MARKER.trim()}' >&2`,
    `bash -s <<'${end}'`,
    `printf '\\n%s\\n' '${OUT_MARKER.trim()}'`,
    `${cd}${body}${end}`,
    `rr_status=$?`,
    `printf '@@remoterun:exit=%d@@\\n' "$rr_status" >&2`,
    `exit "$rr_status"`,
    "",
  ].join("\n");
}

export interface Envelope {
  /** The script started on the remote side. */
  started: boolean;
  /** The script's own exit status, or null when the shell never reported it. */
  status: number | null;
  /** stderr without the markers. */
  stderr: string;
  /** stdout from the script alone: what came before its marker (rc-file noise) is dropped. */
  stdout: string;
  /**
   * What the login shell printed by itself before running the envelope (its startup files), on
   * stdout and on stderr; null when it did not start the envelope (nothing can be said).
   */
  shell: { stdout: string; stderr: string } | null;
}

export function readEnvelope(stderr: string, stdout = ""): Envelope {
  const shellAt = stdout.indexOf(SHELL_MARKER);
  const from = shellAt < 0 ? 0 : shellAt + SHELL_MARKER.length;
  const at = stdout.indexOf(OUT_MARKER, from);
  const out = at < 0 ? stdout.slice(from) : stdout.slice(at + OUT_MARKER.length);
  const startAt = stderr.indexOf(STARTED_MARKER);
  const started = startAt >= 0;
  let rest = started ? stderr.slice(startAt + STARTED_MARKER.length) : stderr;
  const m = STATUS.exec(rest);
  if (m) rest = rest.slice(0, m.index) + rest.slice(m.index + m[0].length);
  const shell =
    started && shellAt >= 0 ? { stdout: stdout.slice(0, shellAt), stderr: stderr.slice(0, startAt) } : null;
  return { started, status: m ? Number(m[1]) : null, stderr: rest, stdout: out, shell };
}
