/**
 * A test file's private sshd (test/harness/sshd.ts) with the connections and folders its tests use,
 * all cleaned up after the file: sshTestbed() registers the beforeAll/afterAll hooks itself, so call
 * it at the top level of a test file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { type Connection, connect } from "../../src/connection/index.js";
import { type SshdServer, type StartSshdOptions, startSshd } from "../harness/sshd.js";

export interface SshTestbed {
  /** The running server (from beforeAll on). */
  readonly server: SshdServer;
  /** A new connection to the server, closed after the file; `extra` adds to or overrides its options. */
  ssh(extra?: Record<string, unknown>): Connection;
  /**
   * A Dataset's folders: the database and local folders in a fresh local temp folder, the remote one
   * a new name relative to the login user's home.
   */
  dirs(tag: string): { dbDir: string; localDir: string; remoteDir: string };
  /** Remove this local folder after the file too. */
  scratch(dir: string): void;
}

/**
 * `prefix` names the folders (`<prefix>-<tag>-*` locally, `<prefix>-<pid>-*` in the remote home).
 * `beforeRemove` runs after the server stopped and before the local folders are removed (to unmount
 * what was mounted in them, say); `sshd` are the server's options.
 */
export function sshTestbed(
  prefix: string,
  options: { beforeRemove?: () => void; sshd?: StartSshdOptions } = {},
): SshTestbed {
  let server: SshdServer | undefined;
  const folders: string[] = [];
  const connections: Connection[] = [];
  let seq = 0;

  beforeAll(async () => {
    server = await startSshd(options.sshd);
  });
  afterAll(async () => {
    if (server) {
      const c = connect(server.connectionOptions());
      // Tests may leave a remote folder read-only: make it writable again before removing it.
      const mine = `${prefix}-${process.pid}-*`;
      await c.exec(`chmod -R u+rwx -- ${mine} 2>/dev/null; rm -rf -- ${mine}`, { allowFailure: true });
      await c.close();
    }
    for (const k of connections) await k.close();
    await server?.stop();
    options.beforeRemove?.();
    for (const d of folders) rmSync(d, { recursive: true, force: true });
  });

  const bed: SshTestbed = {
    get server() {
      if (!server) throw new Error("the sshd is not started yet (use the server from a test or a hook)");
      return server;
    },
    ssh(extra = {}) {
      const c = connect({ ...bed.server.connectionOptions(), ...extra });
      connections.push(c);
      return c;
    },
    dirs(tag) {
      const tmp = mkdtempSync(join(tmpdir(), `${prefix}-${tag}-`));
      folders.push(tmp);
      return {
        dbDir: tmp,
        localDir: join(tmp, "local"),
        remoteDir: `${prefix}-${process.pid}-${++seq}-${basename(tmp)}`,
      };
    },
    scratch(dir) {
      folders.push(dir);
    },
  };
  return bed;
}
