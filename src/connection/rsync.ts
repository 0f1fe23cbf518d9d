/**
 * The rsync transport (default): ONE `rsync` process per push or pull, whatever the number of
 * files. The file list travels in a NUL-separated `--files-from` file (`--from0`), so no name is
 * ever parsed by a shell and newlines in names are harmless; `--secluded-args` (`-s`) keeps the
 * remote root away from the remote shell. The ssh command given to `-e` carries the connection's
 * options (config file, port, user, key, control socket, known hosts), each quoted for rsync's own
 * splitter.
 */
import { shellQuote } from "../shared/quote.js";
import { remotePath } from "./paths.js";
import {
  pullFolders,
  remoteSpec,
  type Transport,
  type TransportContext,
  transferFailure,
  withFileList,
} from "./transport.js";

/**
 * Quote one word for rsync's `-e` splitter: it splits on spaces and understands single and double
 * quotes, where a doubled quote inside quotes stands for the quote itself (no backslashes).
 */
export function rsyncQuote(word: string): string {
  return `'${word.replace(/'/g, "''")}'`;
}

export function rsyncRsh(ctx: Pick<TransportContext, "sshArgs">): string {
  return ["ssh", ...ctx.sshArgs].map(rsyncQuote).join(" ");
}

/**
 * `--chmod=go-rwx`: what arrives (the transfer root's own attributes included, which -p copies) is
 * private to the user, whatever the modes on the sending side.
 */
const COMMON = ["-lpt", "--chmod=go-rwx", "-s", "--from0"];

export const rsyncTransport: Transport = {
  name: "rsync",

  async push(ctx, localRoot, remoteRoot, files) {
    const root = remotePath(remoteRoot, "remoteRoot");
    await withFileList(ctx, "push", files, async (list) => {
      // Names get a "./" prefix: rsync reads list entries starting with "#" or ";" as comments.
      // --files-from implies --relative, which creates parents under the root; the root itself
      // may be several levels deep, so the remote side makes it first (old rsyncs lack --mkpath).
      // umask 077: folders made on the way (the root too, when it is new) are private to the user.
      const rsyncPath = `umask 077 && mkdir -p -- ${shellQuote(root)} && rsync`;
      const args = [
        ...COMMON,
        `--files-from=${list}`,
        `--rsync-path=${rsyncPath}`,
        "-e",
        rsyncRsh(ctx),
        "--",
        `${localRoot.replace(/\/*$/, "")}/`,
        remoteSpec(ctx.host, `${root.replace(/\/*$/, "")}/`),
      ];
      const r = await ctx.run("rsync", args, { timeoutMs: ctx.timeoutMs });
      if (r.exitCode !== 0) throw transferFailure("push", "rsync", ctx.label, r);
    });
  },

  async pull(ctx, remoteRoot, localRoot, files) {
    const root = remotePath(remoteRoot, "remoteRoot");
    // rsync makes the missing parent folders with this process's umask: made private afterwards.
    const privateFolders = await pullFolders(localRoot, files);
    await withFileList(ctx, "pull", files, async (list) => {
      const args = [
        ...COMMON,
        "--ignore-missing-args",
        `--files-from=${list}`,
        "-e",
        rsyncRsh(ctx),
        "--",
        remoteSpec(ctx.host, `${root.replace(/\/*$/, "")}/`),
        `${localRoot.replace(/\/*$/, "")}/`,
      ];
      const r = await ctx.run("rsync", args, { timeoutMs: ctx.timeoutMs });
      // A missing remote root means every file is missing: nothing to pull, not an error; so are
      // files that vanished since they were listed (rsync's exit code 24).
      if (r.exitCode !== 0 && r.exitCode !== 24 && !missingRoot(r.stderr)) {
        throw transferFailure("pull", "rsync", ctx.label, r);
      }
    });
    await privateFolders();
  },
};

/** rsync's sender could not enter the source root: it does not exist, so every file is missing. */
function missingRoot(stderr: string): boolean {
  return /\[sender\] change_dir .* failed: No such file or directory/.test(stderr);
}
