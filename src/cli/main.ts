#!/usr/bin/env node
/** Entry point of the `remoterun` command (package.json `bin`). */
import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2));
// Let pending output drain, then exit (an open connection must not keep the command alive).
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
