/**
 * The "scp" fallback transport, for hosts without rsync. It streams a tar archive through the
 * connection's own ssh (same config file, port, user, key, known hosts and control socket), which
 * needs only `tar` and `bash` on the far side:
 *
 *   push: tar -C LOCAL --null -T LIST -cf -  |  ssh HOST bash -s   (stdin: one command line, then the archive)
 *   pull: ssh HOST bash -s (stdin: a script that tars the files that exist)  |  tar -C LOCAL -xf -
 *
 * Two processes per call, whatever the number of files. Real `scp` was not used: it cannot put a
 * list of files at their relative paths in one process without staging copies, and its legacy
 * protocol breaks on names containing newlines. The remote command line travels on stdin like
 * every exec (bash reads a script from a pipe byte by byte, so `exec tar -xf -` receives exactly
 * the archive that follows), so no remote login shell ever parses a path.
 */
import type { ChildProcess } from "node:child_process";
import { type Readable, Transform } from "node:stream";
import { shellQuote } from "../shared/quote.js";
import { remotePath } from "./paths.js";
import type { ProcessResult } from "./process.js";
import { pullFolders, type Transport, transferFailure, withFileList } from "./transport.js";

/** Names get a `./` prefix so that none can be read as a tar option. */
const dot = (f: string) => `./${f}`;

export const scpTransport: Transport = {
  name: "scp",

  async push(ctx, localRoot, remoteRoot, files) {
    const root = remotePath(remoteRoot, "remoteRoot");
    await withFileList(ctx, "push", files, async (list) => {
      let tarOut: Readable | undefined;
      const tar = ctx.run("tar", ["-C", localRoot, "--null", "-T", list, "-cf", "-"], {
        stdout: "pipe",
        timeoutMs: ctx.timeoutMs,
        onSpawn: (c: ChildProcess) => {
          tarOut = c.stdout!;
        },
      });
      const q = shellQuote(root);
      // umask 077: folders made on the way (the root too, when it is new) are private, as they are
      // locally (files keep their own, private, modes). When a step fails the shell must exit on
      // that same line: it would otherwise go on reading the archive that follows as commands.
      const prelude = `umask 077 && mkdir -p -- ${q} && cd -- ${q} && exec tar -xf - || exit; exit 1\n`;
      const ssh = ctx.run("ssh", [...ctx.sshArgs, "--", ctx.host, "bash -s"], {
        input: prelude,
        inputStream: tarOut,
        timeoutMs: ctx.timeoutMs,
      });
      const [t, s] = await Promise.all([tar, ssh]);
      if (s.exitCode !== 0) throw transferFailure("push", "ssh tar", ctx.label, s, [t]);
      if (t.exitCode !== 0) throw transferFailure("push", "tar", ctx.label, t, [s]);
    });
  },

  async pull(ctx, remoteRoot, localRoot, files) {
    const root = remotePath(remoteRoot, "remoteRoot");
    // tar makes missing parent folders with this process's umask: made private afterwards.
    const privateFolders = await pullFolders(localRoot, files);
    // Only files that exist are archived; a missing root yields an empty (valid) archive.
    const names = files.map((f) => shellQuote(dot(f))).join(" \\\n");
    const script = [
      `if cd -- ${shellQuote(root)} 2>/dev/null; then rr_in=1; else rr_in=; fi`,
      // The archive starts after this line: what rc files printed before it is not part of it.
      `printf '\\n%s\\n' '${TAR_MARKER.trim()}'`,
      `for f in ${names}; do if [ -n "$rr_in" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then printf '%s\\0' "$f"; fi; done | tar --null -T - -cf -`,
      // GNU tar's exit code 1: a file changed while it was read (one a run still writes): what was
      // read is in the archive, as rsync would have sent it.
      'rr=$?; [ "$rr" -eq 1 ] && exit 0; exit "$rr"',
      "",
    ].join("\n");
    let sshOut: Readable | undefined;
    const ssh = ctx.run("ssh", [...ctx.sshArgs, "--", ctx.host, "bash -s"], {
      input: script,
      stdout: "pipe",
      timeoutMs: ctx.timeoutMs,
      onSpawn: (c: ChildProcess) => {
        sshOut = c.stdout!.pipe(afterMarker(TAR_MARKER));
      },
    });
    const tar = ctx.run("tar", ["--no-same-owner", "-C", localRoot, "-xf", "-"], {
      inputStream: sshOut,
      timeoutMs: ctx.timeoutMs,
    });
    const [s, t]: ProcessResult[] = await Promise.all([ssh, tar]);
    if (s.exitCode !== 0) throw transferFailure("pull", "ssh tar", ctx.label, s, [t]);
    if (t.exitCode !== 0) throw transferFailure("pull", "tar", ctx.label, t, [s]);
    await privateFolders();
  },
};

/** Printed by the pull script just before the archive (after a newline: noise may lack one). */
const TAR_MARKER = "\n@@remoterun:tar@@\n";

/**
 * The bytes of a stream after the first `marker`: a login shell's banner or an rc file's output
 * (`echo -n` included) before it would otherwise corrupt the archive. Nothing passes without it.
 */
function afterMarker(marker: string): Transform {
  const m = Buffer.from(marker);
  let head: Buffer | null = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (head === null) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      const at = head.indexOf(m);
      if (at < 0) {
        // Keep only what could still hold the start of the marker.
        if (head.length > m.length) head = head.subarray(head.length - m.length);
        return done();
      }
      const rest = head.subarray(at + m.length);
      head = null;
      done(null, rest);
    },
  });
}
