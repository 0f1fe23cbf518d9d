/** The lifecycle suite on the embedded default connection: localhost. */
import { join } from "node:path";
import { defineLifecycleSuite } from "./lifecycle/suite.js";

defineLifecycleSuite("localhost", async () => ({
  remoteDir: (tmp) => join(tmp, "remote"),
}));
