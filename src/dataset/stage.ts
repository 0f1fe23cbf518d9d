import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { encode } from "../remote/codec.mjs";
import { argsFile, batchFile, FUNCTION_FILE, masterScript, RUNTIME_FILES } from "./layout.js";
import { bashMasterScript } from "./scripts.js";

const runtimeDir = fileURLToPath(new URL("../remote/", import.meta.url));
let runtimeSources: Map<string, string> | undefined;

/** The runtime's files, read once per process. */
function runtimeFiles(): Map<string, string> {
  runtimeSources ??= new Map(RUNTIME_FILES.map((f) => [f, readFileSync(resolve(runtimeDir, f), "utf8")]));
  return runtimeSources;
}

export interface StageInput {
  localRoot: string;
  folder: string;
  token: string;
  datasetName: string;
  functionSource: string;
  nodeCommand: string;
  extraFiles: readonly string[];
  runners: { name: string; args: unknown; runDir?: string }[];
  asynchronous: boolean;
  maxProcesses?: number;
}

/**
 * Write everything one submission needs under `localRoot`: the runtime, the function, each runner's
 * args, the batch description and the master script. Files and folders are private to the user.
 * Returns the written paths relative to `localRoot`, for one transfer.
 */
export function stageSubmission(input: StageInput): string[] {
  const dir = resolve(input.localRoot, input.folder);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  const put = (name: string, text: string, mode = 0o600) => {
    writeFileSync(resolve(dir, name), text, { mode });
    files.push(`${input.folder}/${name}`);
  };
  for (const [name, text] of runtimeFiles()) put(name, text);
  put(FUNCTION_FILE, input.functionSource);
  for (const r of input.runners) put(argsFile(r.name), encode(r.args, `${r.name} args`));
  const batch = {
    token: input.token,
    function: FUNCTION_FILE,
    asynchronous: input.asynchronous,
    runners: input.runners.map((r) => ({ name: r.name, cwd: r.runDir ? `../${r.runDir}` : ".." })),
  };
  put(batchFile(input.token), JSON.stringify(batch));
  put(
    masterScript(input.token),
    bashMasterScript({
      token: input.token,
      runners: input.runners.length,
      asynchronous: input.asynchronous,
      maxProcesses: input.maxProcesses,
      nodeCommand: input.nodeCommand,
      datasetName: input.datasetName,
    }),
    0o700,
  );
  for (const f of input.extraFiles) {
    const name = basename(f);
    copyFileSync(f, resolve(input.localRoot, name));
    files.push(name);
  }
  return files;
}
