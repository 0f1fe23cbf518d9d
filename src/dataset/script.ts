/**
 * Script Datasets: a bash script with `#placeholder#`s instead of a function. Each runner's args
 * fill the placeholders (the grammar of Computer templates), every value shell-quoted for where it
 * stands; the runs are driven by plain bash on the far side (no node), and a runner's result is its
 * stdout, or the file named by the `resultFile` option (copied beside the outputs when the script
 * exits 0, parsed on the driver at fetch as JSON, YAML or text).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { extname, isAbsolute, resolve } from "node:path";
import { parse as parseYAML } from "yaml";
import { Template } from "../computer/template.js";
import { encode } from "../remote/codec.mjs";
import { checkYamlText, plainBytes } from "../remote/serial.mjs";
import type { Runner } from "../runner/index.js";
import { InvalidArgumentError, RunnerFailedError } from "../shared/errors.js";
import { shellQuote as q } from "../shared/quote.js";
import { exitLog } from "./layout.js";
import type { Placement } from "./records.js";
import { splitListing } from "./recv.js";
import { lanesThen } from "./scripts.js";
import { markFailed } from "./tracking.js";

export const scriptFile = (runner: string) => `${runner}.sh`;
export const outFile = (runner: string) => `${runner}.out`;
export const errFile = (runner: string) => `${runner}.err`;
/** The copy of a runner's result file, beside its outputs (with the `resultFile` option). */
export const resultCopyFile = (runner: string) => `${runner}.result`;

export type ResultFormat = "json" | "yaml" | "text";
const RESULT_FORMATS: readonly ResultFormat[] = ["json", "yaml", "text"];

/** Where a script runner's result comes from when it is not its stdout. */
export interface ScriptResult {
  /** Path relative to the runner's working folder (remoteDir, or remoteDir/runDir). */
  file: string;
  format: ResultFormat;
}

/**
 * Check the `resultFile` and `resultFormat` options (script Datasets only). Without `resultFormat`
 * the format follows the extension: `.json` → json, `.yaml`/`.yml` → yaml, anything else → text.
 */
export function resultOption(file: unknown, format: unknown, isScript: boolean): ScriptResult | undefined {
  if (file === undefined) {
    if (format !== undefined)
      throw new InvalidArgumentError("resultFormat", format, "no resultFormat without resultFile");
    return undefined;
  }
  if (!isScript)
    throw new InvalidArgumentError(
      "resultFile",
      file,
      "no resultFile for a function Dataset (a function's result is what it returns; resultFile is for script Datasets)",
    );
  if (
    typeof file !== "string" ||
    file.trim() === "" ||
    /[\0\r\n]/.test(file) ||
    isAbsolute(file) ||
    file.startsWith("~") ||
    file.endsWith("/") ||
    file.split("/").includes("..")
  )
    throw new InvalidArgumentError(
      "resultFile",
      file,
      "the path of a file inside the runner's working folder (remoteDir or remoteDir/runDir): relative, one line, no '..'",
    );
  if (format !== undefined && !(RESULT_FORMATS as readonly unknown[]).includes(format))
    throw new InvalidArgumentError("resultFormat", format, RESULT_FORMATS.map((f) => `"${f}"`).join(" | "));
  const ext = extname(file).toLowerCase();
  const byExtension: ResultFormat =
    ext === ".json" ? "json" : ext === ".yaml" || ext === ".yml" ? "yaml" : "text";
  return { file, format: (format as ResultFormat | undefined) ?? byExtension };
}

/** The result read from a result file, or why it cannot be one. */
export function parseResultFile(
  spec: ScriptResult,
  text: string,
): { ok: true; value: unknown } | { ok: false; why: string } {
  if (spec.format === "text") return { ok: true, value: text.replace(/\n$/, "") };
  try {
    if (spec.format === "json") return { ok: true, value: JSON.parse(text) };
    checkYamlText(text);
    // `!!binary` gives Buffers: plain Uint8Arrays, as the serialisers give.
    const doc = plainBytes(parseYAML(text, { prettyErrors: false }));
    return { ok: true, value: doc === undefined ? null : doc };
  } catch (e) {
    const why = (e as Error).message.split("\n")[0];
    return { ok: false, why: `is not valid ${spec.format === "json" ? "JSON" : "YAML"} (${why})` };
  }
}
/** The runner list and bash functions of one submission, sourced by its master and job scripts. */
export const scriptBatchFile = (token: string) => `submit-${token}.runners.sh`;

/** Check the `script` option and parse its placeholders (TemplateError when malformed). */
export function parseScript(script: unknown): Template {
  if (typeof script !== "string" || script.trim() === "") {
    throw new InvalidArgumentError("script", script, "a non-empty string (the text of a bash script)");
  }
  if (script.includes("\0")) throw new InvalidArgumentError("script", script, "text without NUL bytes");
  return Template.parse(script);
}

const isScalar = (v: unknown) =>
  typeof v === "string" ||
  (typeof v === "number" && Number.isFinite(v)) ||
  typeof v === "boolean" ||
  typeof v === "bigint";

/**
 * Args of a script runner fill shell words: each must be a string, finite number, boolean or bigint,
 * an array of those, or null/undefined (no value). Strings must not contain NUL bytes.
 */
export function checkScriptArgs(args: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(args)) {
    if (value === null || value === undefined) continue;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) {
      if (!isScalar(item)) {
        throw new InvalidArgumentError(
          `script arg ${key}`,
          value,
          "a string, number, boolean or an array of those (script args become shell words)",
        );
      }
      if (typeof item === "string" && item.includes("\0")) {
        throw new InvalidArgumentError(`script arg ${key}`, value, "text without NUL bytes");
      }
    }
  }
}

/** Every runner's script, rendered from its args (TemplateError naming placeholder and runner). */
export function renderScripts(
  template: Template,
  runners: readonly { name: string; args: Record<string, unknown> }[],
): Map<string, string> {
  return new Map(runners.map((r) => [r.name, template.render(r.args, r.name, { shell: true })]));
}

/**
 * The file a submission's master or job scripts source: the runners (names and working folders,
 * relative to the Dataset's folder), their packing into groups (scheduler), and `run_script`, which
 * runs one runner and writes the same state lines as the node runtime.
 */
export function scriptBatch(opts: {
  token: string;
  runners: { name: string; runDir?: string; timeout?: number }[];
  groups?: string[][];
  /** The `resultFile` option: copied to `<name>.result` when the script exits 0. */
  resultFile?: string;
}): string {
  const { token } = opts;
  const index = new Map(opts.runners.map((r, i) => [r.name, i]));
  const lines = [
    `# remoterun: runners of submission ${token} (sourced by its master or job scripts)`,
    `T=${q(token)}`,
    "here=$(pwd)",
    `names=(${opts.runners.map((r) => q(r.name)).join(" ")})`,
    `cwds=(${opts.runners.map((r) => q(r.runDir ? `../${r.runDir}` : "..")).join(" ")})`,
    // Each runner's time limit in seconds (0: none), enforced with coreutils' timeout.
    `limits=(${opts.runners.map((r) => String(r.timeout ?? 0)).join(" ")})`,
    // The result file of every runner, relative to its working folder ("": the result is stdout).
    `rf=${q(opts.resultFile ?? "")}`,
  ];
  if (opts.groups)
    lines.push(
      `groups=(${opts.groups.map((g) => q(g.map((n) => String(index.get(n))).join(" "))).join(" ")})`,
    );
  lines.push(
    // Epoch milliseconds: GNU date has %N; elsewhere (BSD, busybox) whole seconds * 1000.
    'now_ms() { local t; t=$(date +%s%3N 2>/dev/null); case "$t" in "" | *[!0-9]*) echo "$(date +%s)000" ;; *) echo "$t" ;; esac; }',
    "# run_script <index> <state log>: the runner's script in its folder, stdout/stderr to <name>.out/.err",
    "run_script() {",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array expansion
    "  local n=${names[$1]} cwd=${cwds[$1]} t=${limits[$1]:-0} log=$2 rc s lim=",
    `  printf '%s\\t%s\\tstarted\\t%s\\n' "$T" "$n" "$(now_ms)" >> "$log"`,
    // A forced resubmission may start while an older run of this runner goes on: the older run's
    // files are unlinked (it goes on writing into nothing) and it no longer writes the exit file.
    '  rm -f -- "$n.out" "$n.err" "$n.rc" "$n.result"',
    `  printf '%s' "$T" > "$n.current"`,
    // Past its limit the script gets TERM, then KILL 5 s later; its error's last line says why.
    '  [ "$t" != 0 ] && command -v timeout > /dev/null 2>&1 && lim="timeout -k 5 $t"',
    "  local t0=$SECONDS",
    // A result file left by an earlier run is removed first: it is never taken for this run's.
    '  ( mkdir -p -- "$cwd" && cd -- "$cwd" && { [ -z "$rf" ] || rm -f -- "$rf" 2>/dev/null; true; } && exec $lim bash "$here/$n.sh" ) > "$n.out" 2> "$n.err" < /dev/null',
    "  rc=$?",
    // 124 (ended on TERM) or 137 (ignored TERM, killed), and only past the limit: a script may
    // exit 124 or die of SIGKILL by itself.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    '  if [ -n "$lim" ] && { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && [ $((SECONDS - t0)) -ge "${t%.*}" ]; then echo "Error: timed out after $t s" >> "$n.err"; fi',
    // The result file as the script left it, copied before the exit code is recorded (a runner seen
    // ended has its copy); only by the current run of the runner.
    '  if [ "$rc" = 0 ] && [ -n "$rf" ] && [ -f "$cwd/$rf" ] && [ "$(cat -- "$n.current" 2>/dev/null)" = "$T" ]; then cp -- "$cwd/$rf" "$n.result" 2>> "$n.err"; fi',
    `  [ "$(cat -- "$n.current" 2>/dev/null)" = "$T" ] && printf '%s %s\\n' "$T" "$rc" > "$n.rc"`,
    '  if [ "$rc" = 0 ]; then s=completed; else s=failed; fi',
    `  printf '%s\\t%s\\t%s\\t%s\\n' "$T" "$n" "$s" "$(now_ms)" >> "$log"`,
    "}",
    // Without a scheduler the lanes share the runners out as they go: each runner is taken by the
    // first lane to create its claim file (noclobber opens with O_EXCL, and no process is forked), so
    // that a script that never ends holds only itself. The claim line (src/remote/wire.mjs) comes
    // first, so that only a lane that took a runner can be blamed for it when that lane dies.
    "# run_pool <lane k> <lanes P>",
    "run_pool() {",
    '  local k=$1 p=$2 log="state/$T.$1.log" dir="state/claims-$T" i=0 ok',
    '  mkdir -p -- "$dir"',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array length
    "  while [ $i -lt ${#names[@]} ]; do",
    '    set -C; { : > "$dir/$i"; } 2>/dev/null; ok=$?; set +C',
    '    if [ "$ok" = 0 ]; then',
    `      printf '%s\t@claim\t%s/%s\t%s\t%s\n' "$T" "$k" "$p" "$i" "$(now_ms)" >> "$log"`,
    '      run_script "$i" "$log"',
    "    fi",
    "    i=$((i + 1))",
    "  done",
    "}",
    "# run_share <state log> <parallel 0|1> <index>...",
    "run_share() {",
    "  local log=$1 par=$2 i",
    "  shift 2",
    '  for i in "$@"; do',
    '    if [ "$par" = 1 ]; then run_script "$i" "$log" & else run_script "$i" "$log"; fi',
    "  done",
    "  wait",
    "}",
    "",
  );
  return lines.join("\n");
}

/** `@process` exit line of share K of P, as the node runtime's launcher writes it. */
function exitLine(token: string, k: string, p: string): string {
  return `printf '%s\\t@process\\t%s/%s\\t%s\\t%s\\n' "$T" "${k}" "${p}" "$rc" "$(date +%s)" >> ${q(exitLog(token))}`;
}

/**
 * The master script of a script submission without a scheduler: P lanes (P = 1 when not
 * asynchronous, else maxProcesses or the remote's CPU count, at most the number of runners), each
 * lane taking the next runner no lane has taken yet, one after another (run_pool). No node anywhere.
 */
export function scriptMasterScript(opts: {
  token: string;
  runners: number;
  asynchronous: boolean;
  maxProcesses?: number;
  datasetName: string;
  then?: string[];
}): string {
  const { token, runners } = opts;
  const lanes = opts.maxProcesses
    ? `P=${Math.min(runners, opts.maxProcesses)}`
    : `P=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); [ "$P" -gt ${runners} ] && P=${runners}`;
  return [
    "#!/usr/bin/env bash",
    `# remoterun submission ${token} of script dataset ${opts.datasetName}: ${runners} runner(s)`,
    `cd "$(dirname "$0")" || exit 1`,
    "umask 077 # outputs and state files are private to the user",
    "mkdir -p state",
    `. ./${scriptBatchFile(token)}`,
    opts.asynchronous ? lanes : "P=1",
    ...lanesThen(['run_pool "$k" "$P"; rc=$?', exitLine(token, "$k", "$P")], opts.then),
    "",
  ].join("\n");
}

/** The body of a scheduler job of a script Dataset: runs group K (fixed, or offset + array index). */
export function scriptJobScript(opts: {
  header: string;
  token: string;
  groupExpr: string;
  groups: number;
  asynchronous: boolean;
  runnersFailedExit: number;
}): string {
  return [
    opts.header.trimEnd(),
    `# remoterun job of submission ${opts.token} (script dataset)`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
    'cd "${SLURM_SUBMIT_DIR:-${PBS_O_WORKDIR:-${SGE_O_WORKDIR:-${LS_SUBCWD:-.}}}}" || exit 1',
    "umask 077 # outputs and state files are private to the user",
    "mkdir -p state",
    `. ./${scriptBatchFile(opts.token)}`,
    `K=${opts.groupExpr}`,
    // the group's indices, unquoted on purpose: they split into words
    `run_share "state/$T.$K.log" ${opts.asynchronous ? 1 : 0} \${groups[$K]}; rc=$?`,
    exitLine(opts.token, "$K", String(opts.groups)),
    // As for function Datasets: a job none of whose runners succeeded fails (dependencies see it).
    `[ "$rc" = 0 ] && awk -F'\\t' '$3 == "completed" { ok = 1 } $3 == "failed" { bad = 1 } END { exit !(bad && !ok) }' "state/$T.$K.log" 2>/dev/null && rc=${opts.runnersFailedExit}`,
    "exit $rc",
    "",
  ].join("\n");
}

/**
 * One command that prints, per runner, `name \t token \t exit code \t out bytes \t err bytes \t
 * base64(out) \t base64(err) \t result bytes \t base64(result)`: byte-exact whatever the output
 * (base64 survives the UTF-8 text that exec returns), token and exit code from the runner's `.rc`
 * file (`-` when there is none), the result-file copy's size `-` when there is none.
 */
export function scriptFetchScript(items: { dir: string; name: string }[]): string {
  return [
    'b64() { base64 -w0 2>/dev/null < "$1" || base64 < "$1" 2>/dev/null | tr -d \'\\n\'; }',
    "one() {",
    "  local d=$1 n=$2 t= c= o e r=-",
    '  read -r t c 2>/dev/null < "$d/$n.rc"',
    '  o=$(wc -c 2>/dev/null < "$d/$n.out" || echo 0); e=$(wc -c 2>/dev/null < "$d/$n.err" || echo 0)',
    '  [ -f "$d/$n.result" ] && r=$(($(wc -c 2>/dev/null < "$d/$n.result" || echo 0)))',
    `  printf '%s\\t%s\\t%s\\t%s\\t%s\\t' "$n" "\${t:--}" "\${c:--}" "$((o))" "$((e))"`,
    '  b64 "$d/$n.out"; printf \'\\t\'; b64 "$d/$n.err"; printf \'\\t%s\\t\' "$r"',
    '  [ "$r" != - ] && b64 "$d/$n.result"',
    "  printf '\\n'",
    "}",
    ...items.map(({ dir, name }) => `one ${q(dir)} ${q(name)}`),
    "true",
    "",
  ].join("\n");
}

interface Fetched {
  token: string;
  code: number;
  out: Buffer;
  err: Buffer;
  /** The copy of the runner's result file, when there is one. */
  result?: Buffer;
}

/** Parse the lines of scriptFetchScript; a line whose payload does not match its byte counts is dropped. */
export function parseScriptFetch(stdout: string): Map<string, Fetched> {
  const out = new Map<string, Fetched>();
  for (const line of stdout.split("\n")) {
    const f = line.split("\t");
    if (f.length !== 9) continue;
    const [name, token, code, outBytes, errBytes, o, e, resultBytes, res] = f;
    if (token === "-" || !/^\d+$/.test(code)) continue;
    const ob = Buffer.from(o, "base64");
    const eb = Buffer.from(e, "base64");
    if (ob.length !== Number(outBytes) || eb.length !== Number(errBytes)) continue;
    const fetched: Fetched = { token, code: Number(code), out: ob, err: eb };
    if (resultBytes !== "-") {
      const rb = Buffer.from(res, "base64");
      if (rb.length !== Number(resultBytes)) continue;
      fetched.result = rb;
    }
    out.set(name, fetched);
  }
  return out;
}

/**
 * The error text of a script that exited non-zero: its stderr, then a last line (the message of its
 * RunnerFailedError) with the exit code and the last line of stderr.
 */
export function exitError(code: number, stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  const last = lines.length ? lines[lines.length - 1] : "";
  const summary = `exited with code ${code}${last ? `: ${last}` : ""}`;
  return lines.length ? `${stderr.replace(/\n+$/, "")}\n${summary}` : summary;
}

/**
 * Fetch the outputs of finished script runners in ONE command, apply them (stdout, one trailing
 * newline trimmed, or the parsed result file, as the result; stderr and the exit code as the error
 * of a failure) and keep local copies `<name>.out` / `<name>.err` (and `<name>.result`) beside the
 * staged files.
 */
export async function fetchScriptOutputs<Args extends object, Result>(
  exec: (script: string) => Promise<{ stdout: string }>,
  folder: string,
  groups: { p: Placement; runners: Runner<Args, Result>[] }[],
  resultSpec?: ScriptResult,
  /** Where a runner ran, relative to remoteDir (its runDir with the placeholders filled). */
  runDirOf: (r: Runner<Args, Result>) => string | undefined = (r) =>
    r.derivedRunArgs.runDir as string | undefined,
): Promise<{ stdout: string; fetched: Set<Runner<Args, Result>> }> {
  const items = groups.flatMap(({ p, runners }) =>
    runners.map((r) => ({ dir: `${p.remoteRoot}/${folder}`, name: r.name })),
  );
  const res = await exec(scriptFetchScript(items));
  const fetched = parseScriptFetch(splitListing(res.stdout).head);
  /** The runners whose outputs are their current submission's (output files come back for them). */
  const current = new Set<Runner<Args, Result>>();
  for (const { p, runners } of groups) {
    const dir = resolve(p.localRoot, folder);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const r of runners) {
      const f = fetched.get(r.name);
      const isResult = r.state === "completed";
      if (!f || f.token !== r.token || (f.code === 0) !== isResult) {
        markFailed(r, `${isResult ? "output" : "error"} of submission ${r.token} is missing or stale`);
        continue;
      }
      current.add(r);
      await writeFile(resolve(dir, outFile(r.name)), f.out, { mode: 0o600 });
      await writeFile(resolve(dir, errFile(r.name)), f.err, { mode: 0o600 });
      if (f.result) await writeFile(resolve(dir, resultCopyFile(r.name)), f.result, { mode: 0o600 });
      r.stdout = f.out.toString("utf8");
      r.stderr = f.err.toString("utf8");
      if (!isResult) {
        r.errorText = exitError(f.code, f.err.toString("utf8"));
        r.result = new RunnerFailedError(r.name, r.errorText);
        continue;
      }
      const runDir = runDirOf(r);
      const where = `${resultSpec?.file} (in ${runDir ? `runDir ${runDir}` : "remoteDir"})`;
      let value: unknown = f.out.toString("utf8").replace(/\n$/, "");
      if (resultSpec) {
        if (!f.result) {
          markFailed(r, `the script exited with code 0 but wrote no result file ${where}`);
          continue;
        }
        const parsed = parseResultFile(resultSpec, f.result.toString("utf8"));
        if (!parsed.ok) {
          markFailed(r, `the script exited with code 0 but its result file ${where} ${parsed.why}`);
          continue;
        }
        value = parsed.value;
      }
      try {
        r.resultText = encode(value, "result");
      } catch (e) {
        markFailed(r, `the result file ${where} holds what cannot be stored: ${(e as Error).message}`);
        continue;
      }
      r.result = value as Result;
      r.setState("satisfied");
    }
  }
  return { stdout: res.stdout, fetched: current };
}
