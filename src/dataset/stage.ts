import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Serializer } from "../remote/serial.mjs";
import { batchDocument } from "../remote/wire.mjs";
import { batchFile, FUNCTION_FILE, RUNTIME_FILES, runtimeDir } from "./layout.js";
import { scriptBatch, scriptBatchFile, scriptFile } from "./script.js";
import { YAML_BUNDLE, yamlBundle } from "./serializer.js";

const runtimeSourceDir = fileURLToPath(new URL("../remote/", import.meta.url));
let runtimeSources: Map<string, string> | undefined;

/** The runtime's files, read once per process. */
function runtimeFiles(): Map<string, string> {
  runtimeSources ??= new Map(
    RUNTIME_FILES.map((f) => [f, readFileSync(resolve(runtimeSourceDir, f), "utf8")]),
  );
  return runtimeSources;
}

/** One runner as the runtime sees it. */
export interface StagedRunner {
  name: string;
  args: unknown;
  runDir?: string;
  /** An older submission of this runner may still be running (a forced resubmission). */
  supersedes?: boolean;
  /** Seconds the runner may run before it fails (the `timeout` run arg). */
  timeout?: number;
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
  }

  put(name: string, text: string, mode = 0o600): void {
    if (this.files.length === 0) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = resolve(this.dir, name);
    if (name.includes("/")) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, text, { mode });
    this.files.push(`${this.folder}/${name}`);
  }

  /**
   * The runtime, the function and the batch description (which carries every runner's args, in the
   * serializer's wire form). The YAML library goes along when the Dataset's serializer is YAML, or
   * when its runners read upstream results (which may be YAML).
   */
  common(
    token: string,
    functionSource: string,
    runners: StagedRunner[],
    batch: { asynchronous: boolean; groups?: string[][] },
    codec: Serializer,
  ): void {
    const rt = runtimeDir(token);
    for (const [name, text] of runtimeFiles()) this.put(`${rt}/${name}`, text);
    if (codec.name === "yaml" || runners.some((r) => r.upstream))
      this.put(`${rt}/${YAML_BUNDLE}`, yamlBundle());
    this.put(`${rt}/${FUNCTION_FILE}`, functionSource);
    const doc = {
      token,
      function: `${rt}/${FUNCTION_FILE}`,
      asynchronous: batch.asynchronous,
      ...(codec.name !== "json" ? { serializer: codec.name } : {}),
      runners: runners.map((r) => ({
        name: r.name,
        args: codec.toWire(r.args, `${r.name} args`),
        cwd: r.runDir ? `../${r.runDir}` : "..",
        ...(r.supersedes ? { supersedes: true } : {}),
        ...(r.timeout ? { timeout: r.timeout } : {}),
        ...(r.upstream ? { upstream: r.upstream } : {}),
      })),
      ...(batch.groups ? { groups: batch.groups } : {}),
    };
    this.put(batchFile(token), batchDocument(doc));
  }

  /** A script submission: every runner's rendered script (mode 0700) and the runner list for bash. */
  scripts(
    token: string,
    rendered: Map<string, string>,
    runners: StagedRunner[],
    groups?: string[][],
    resultFile?: string,
  ): void {
    for (const r of runners) this.put(scriptFile(r.name), rendered.get(r.name) as string, 0o700);
    this.put(scriptBatchFile(token), scriptBatch({ token, runners, groups, resultFile }));
  }

  /** Extra files go beside the Dataset's folder, i.e. into remoteDir itself. */
  extra(paths: readonly string[]): void {
    for (const f of paths) {
      const name = basename(f);
      const dest = resolve(this.localRoot, name);
      copyFileSync(f, dest);
      // A private copy: the user's permissions only (an executable stays executable).
      chmodSync(dest, statSync(f).mode & 0o700);
      this.files.push(name);
    }
  }
}
