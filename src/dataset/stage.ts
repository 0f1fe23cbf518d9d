import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { encode } from "../remote/codec.mjs";
import { argsFile, batchFile, FUNCTION_FILE, RUNTIME_FILES } from "./layout.js";

const runtimeDir = fileURLToPath(new URL("../remote/", import.meta.url));
let runtimeSources: Map<string, string> | undefined;

/** The runtime's files, read once per process. */
function runtimeFiles(): Map<string, string> {
  runtimeSources ??= new Map(RUNTIME_FILES.map((f) => [f, readFileSync(resolve(runtimeDir, f), "utf8")]));
  return runtimeSources;
}

/** One runner as the runtime sees it. */
export interface StagedRunner {
  name: string;
  args: unknown;
  runDir?: string;
  /** Result file of the upstream runner (relative to this Dataset's folder) and its token. */
  upstream?: { file: string; token: string; name: string };
}

/**
 * Writes the files of one submission into `<localRoot>/<folder>/` (private to the user) and keeps
 * the list of what it wrote, relative to localRoot, for one transfer.
 */
export class Stager {
  readonly dir: string;
  readonly files: string[] = [];

  constructor(
    readonly localRoot: string,
    readonly folder: string,
  ) {
    this.dir = resolve(localRoot, folder);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  put(name: string, text: string, mode = 0o600): void {
    writeFileSync(resolve(this.dir, name), text, { mode });
    this.files.push(`${this.folder}/${name}`);
  }

  /** The runtime, the function, every runner's args and the batch description. */
  common(
    token: string,
    functionSource: string,
    runners: StagedRunner[],
    batch: { asynchronous: boolean; groups?: string[][] },
  ): void {
    for (const [name, text] of runtimeFiles()) this.put(name, text);
    this.put(FUNCTION_FILE, functionSource);
    for (const r of runners) this.put(argsFile(r.name), encode(r.args, `${r.name} args`));
    const doc = {
      token,
      function: FUNCTION_FILE,
      asynchronous: batch.asynchronous,
      runners: runners.map((r) => ({
        name: r.name,
        cwd: r.runDir ? `../${r.runDir}` : "..",
        ...(r.upstream ? { upstream: r.upstream } : {}),
      })),
      ...(batch.groups ? { groups: batch.groups } : {}),
    };
    this.put(batchFile(token), JSON.stringify(doc));
  }

  /** Extra files go beside the Dataset's folder, i.e. into remoteDir itself. */
  extra(paths: readonly string[]): void {
    for (const f of paths) {
      const name = basename(f);
      copyFileSync(f, resolve(this.localRoot, name));
      this.files.push(name);
    }
  }
}
