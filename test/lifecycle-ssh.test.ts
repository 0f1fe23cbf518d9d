/**
 * The same lifecycle suite as on localhost, over a real OpenSSH server (started by the harness on
 * 127.0.0.1, key-only, a non-root test user), once per transport.
 */
import { basename } from "node:path";
import { connect } from "../src/connection/index.js";
import { startSshd } from "./harness/sshd.js";
import { defineLifecycleSuite } from "./lifecycle/suite.js";

for (const transport of ["rsync", "scp"] as const) {
  defineLifecycleSuite(`ssh (${transport})`, async () => {
    const server = await startSshd();
    const spec = { ...server.connectionOptions(), transport };
    const connection = connect(spec);
    return {
      connection,
      connectionSpec: spec,
      // relative: under the test user's home on the far side
      remoteDir: (tmp) => `rr-${transport}-${basename(tmp)}`,
      cleanup: async () => {
        await connection.exec(`rm -rf -- rr-${transport}-*`, { allowFailure: true });
        await connection.close();
        await server.stop();
      },
    };
  });
}
