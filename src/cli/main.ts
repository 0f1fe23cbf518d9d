#!/usr/bin/env node
/** Entry point of the `remoterun` command (package.json `bin`). */
import { runCli } from "./program.js";

// The library's warnings (process 'warning' events, e.g. the switch from rsync to tar on a host whose
// login shell talks) are printed as the command's own lines rather than in Node's format with a pid.
process.removeAllListeners("warning");
process.on("warning", (w) => process.stderr.write(`warning: ${w.message}\n`));

const code = await runCli(process.argv.slice(2));
// Let pending output drain, then exit (an open connection must not keep the command alive).
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
