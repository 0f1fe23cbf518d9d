/**
 * A user's project in a temp folder, as a driver script sees it: `remoterun` installed (a link to
 * this repository, whose dist/ it imports), a small CommonJS npm package in node_modules, and the
 * files a test writes. Driver scripts run in it as child processes under node, tsx or compiled by tsc.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./dist.js";

export interface Project {
  dir: string;
  /** Write a file of the project (folders made as needed). */
  write(path: string, text: string): string;
  /** Run a command in the project; resolves with its exit code and output. */
  run(
    command: string,
    args: string[],
    timeoutMs?: number,
  ): Promise<{ code: number | null; out: string; err: string }>;
  remove(): void;
}

/**
 * `pad-left` is a CommonJS package that requires a built-in of Node, as many packages do (a bundle
 * made of it needs `require` on the far side).
 */
const PAD_PACKAGE = {
  "package.json": JSON.stringify({
    name: "pad-left",
    version: "1.0.0",
    main: "index.js",
    types: "index.d.ts",
  }),
  "index.js": [
    'const { format } = require("node:util");',
    "module.exports = function padLeft(text, width) {",
    '  return format("%s", text).padStart(width, "0");',
    "};",
    "",
  ].join("\n"),
  "index.d.ts": "declare function padLeft(text: string, width: number): string;\nexport = padLeft;\n",
};

export function makeProject(tag: string): Project {
  const dir = mkdtempSync(join(tmpdir(), `rr-proj-${tag}-`));
  const write = (path: string, text: string) => {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };
  write("package.json", JSON.stringify({ name: `proj-${tag}`, private: true, type: "module" }));
  for (const [f, text] of Object.entries(PAD_PACKAGE)) write(`node_modules/pad-left/${f}`, text);
  symlinkSync(ROOT, join(dir, "node_modules/remoterun"), "dir");
  return {
    dir,
    write,
    run(command, args, timeoutMs = 90_000) {
      return new Promise((resolve, reject) => {
        const proc = spawn(command, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        proc.stdout.on("data", (c) => {
          out += c;
        });
        proc.stderr.on("data", (c) => {
          err += c;
        });
        const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
        proc.on("error", reject);
        proc.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, out, err });
        });
      });
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
