import { existsSync, readFileSync, renameSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseRecord, type WireRecord } from "../remote/wire.mjs";
import type { Runner } from "../runner/index.js";
import { RunnerFailedError } from "../shared/errors.js";
import { forEachLimited } from "../shared/limit.js";
import type { DatasetInternals } from "./internals.js";
import { errorFile, resultFile } from "./layout.js";
import type { Placement } from "./records.js";
import { errFile, fetchScriptOutputs, outFile } from "./script.js";
import { collectedResultsScript } from "./scripts.js";
import { markFailed, refresh } from "./tracking.js";

/**
 * Bring back results and errors of every finished runner not yet fetched: one command reads the
 * collected lines of every submission concerned (a transfer only for lines that are missing).
 * Results are accepted only if they carry the token of the runner's current submission.
 */
export async function fetchFinished<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
): Promise<void> {
  await refresh(ds);
  const folder = ds.folder;
  const todo = ds.runners.filter(
    (r) =>
      (r.state === "completed" && r.resultText === undefined) ||
      (r.state === "failed" && r.errorText === undefined),
  );
  const groups = new Map<string, { p: Placement; runners: Runner<Args, Result>[] }>();
  for (const r of todo) {
    const p = ds.placements.get(r.name);
    if (!p) continue;
    const key = `${p.localRoot}\0${p.remoteRoot}`;
    if (!groups.has(key)) groups.set(key, { p, runners: [] });
    groups.get(key)!.runners.push(r);
  }
  if (groups.size === 0) return;
  if (ds.script) {
    await fetchScriptOutputs((s) => ds.connection.exec(s), folder, [...groups.values()], ds.scriptResult);
    ds.saveRunners(todo);
    return;
  }

  // One command reads the collected result lines of every submission concerned.
  const sources = [...groups.values()].flatMap(({ p, runners }) =>
    [...new Set(runners.map((r) => r.token!))].map((token) => ({
      dir: `${p.remoteRoot}/${folder}`,
      token,
    })),
  );
  const res = await ds.connection.exec(collectedResultsScript(sources));
  // Every line is parsed whole and checked: a line cut short (a full disk) or edited by hand is
  // never taken for a result; the runner's own file is read instead.
  const lines = new Map<string, WireRecord>();
  for (const line of res.stdout.split("\n")) {
    const doc = parseRecord(line);
    if (doc) lines.set(`${doc.token}\0${doc.name}`, doc);
  }

  for (const { p, runners } of groups.values()) {
    const dir = resolve(p.localRoot, folder);
    const copies: [string, string][] = [];
    const missing: Runner<Args, Result>[] = [];
    const large: Large<Args, Result>[] = [];
    for (const r of runners) {
      const doc = lines.get(`${r.token}\0${r.name}`);
      const file = resolve(dir, fetchedFile(r)); // named before applying changes the state
      if (doc === undefined || applyFetched(ds, r, doc, large) !== "ok") {
        missing.push(r);
        continue;
      }
      copies.push([file, doc.text], ...outputCopies(dir, r));
    }
    // Local copies of what was fetched, beside the staged files.
    await writeFilesParallel(dir, copies);
    // Lines can be missing or damaged (a runtime of an older version, a full disk): the runners'
    // own files, as they were written.
    if (missing.length) {
      const names = missing.map(fetchedFile);
      await ds.connection.pull(
        p.remoteRoot,
        p.localRoot,
        names.map((n) => `${folder}/${n}`),
      );
      for (const [i, r] of missing.entries()) {
        const file = resolve(dir, names[i]);
        let text: string | undefined;
        try {
          text = readFileSync(file, "utf8");
        } catch {
          text = undefined;
        }
        const doc = text === undefined ? undefined : (parseRecord(text) ?? null);
        const outcome = doc ? applyFetched(ds, r, doc, large) : doc === null ? "damaged" : "missing";
        if (outcome === "ok") {
          await writeFilesParallel(dir, outputCopies(dir, r));
          continue;
        }
        const what = `${r.state === "completed" ? "result" : "error"} of submission ${r.token}`;
        markFailed(
          r,
          outcome === "damaged"
            ? `${what} is damaged: neither its collected line nor ${names[i]} is a whole, valid record`
            : `${what} is missing or stale`,
        );
      }
    }
    if (large.length) await pullLargeOutputs(ds, p, dir, large);
  }
  ds.saveRunners(todo);
}

/** Before a resubmission, move the fetched result aside locally and forget it in memory. */
export function setAsideOldResult<Args extends object, Result>(
  r: Runner<Args, Result>,
  p: Placement | undefined,
  folder: string,
): void {
  if (p && r.token) {
    for (const f of [resultFile(r.name), errorFile(r.name), outFile(r.name), errFile(r.name)]) {
      const file = resolve(p.localRoot, folder, f);
      if (existsSync(file)) renameSync(file, `${file}.stale-${r.token}`);
    }
  }
  r.result = undefined;
  r.resultText = undefined;
  r.errorText = undefined;
  r.stdout = undefined;
  r.stderr = undefined;
}

/** A fetched runner whose output was too big for its collected line: its files are copied. */
interface Large<Args extends object, Result> {
  r: Runner<Args, Result>;
  doc: WireRecord;
}

/**
 * Take a fetched result or error record, if it belongs to the runner's current submission and says
 * what the runner's state says; "damaged" when its result cannot be decoded.
 */
function applyFetched<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
  r: Runner<Args, Result>,
  doc: WireRecord,
  large: Large<Args, Result>[],
): "ok" | "stale" | "damaged" {
  const isResult = r.state === "completed";
  if (
    doc.token !== r.token ||
    doc.name !== r.name ||
    (isResult ? !("result" in doc) : doc.stderr === undefined)
  )
    return "stale";
  if (isResult) {
    // A result in another serializer's form than the Dataset's cannot be its runner's.
    if ((doc.serializer ?? "json") !== ds.codec.name) return "damaged";
    const text = JSON.stringify(doc.result);
    let value: Result;
    try {
      value = ds.codec.fromWire(doc.result) as Result;
    } catch {
      return "damaged";
    }
    r.resultText = text;
    r.result = value;
  }
  r.stdout = typeof doc.out === "string" ? doc.out : "";
  r.stderr = typeof doc.err === "string" ? doc.err : "";
  if (doc.outBytes || doc.errBytes) large.push({ r, doc });
  if (isResult) r.setState("satisfied");
  else setError(r, doc.stderr ?? "");
  return "ok";
}

/** A failure's full error: what the run wrote on stderr, then the error itself (its last line). */
function setError<Args extends object, Result>(r: Runner<Args, Result>, error: string): void {
  const stderr = r.stderr ?? "";
  r.errorText = stderr === "" ? error : `${stderr}${stderr.endsWith("\n") ? "" : "\n"}${error}`;
  r.result = new RunnerFailedError(r.name, r.errorText);
}

/** Local copies of what a fetched runner printed (none for the many runners that print nothing). */
function outputCopies(
  dir: string,
  r: { name: string; stdout?: string; stderr?: string },
): [string, string][] {
  const copies: [string, string][] = [];
  if (r.stdout) copies.push([resolve(dir, outFile(r.name)), r.stdout]);
  if (r.stderr) copies.push([resolve(dir, errFile(r.name)), r.stderr]);
  return copies;
}

/** Outputs too big for the collected lines: one copy of their files, then read locally. */
async function pullLargeOutputs<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
  p: Placement,
  dir: string,
  large: Large<Args, Result>[],
): Promise<void> {
  const files = large.flatMap(({ r, doc }) => [
    ...(doc.outBytes ? [outFile(r.name)] : []),
    ...(doc.errBytes ? [errFile(r.name)] : []),
  ]);
  await ds.connection.pull(
    p.remoteRoot,
    p.localRoot,
    files.map((f) => `${ds.folder}/${f}`),
  );
  const read = (name: string) => {
    try {
      return readFileSync(resolve(dir, name), "utf8");
    } catch {
      return "";
    }
  };
  for (const { r, doc } of large) {
    if (doc.outBytes) r.stdout = read(outFile(r.name));
    if (doc.errBytes) r.stderr = read(errFile(r.name));
    if (doc.errBytes && r.state === "failed") setError(r, doc.stderr ?? "");
  }
}

/** The file a finished runner's outcome is in: its result, or its error when it failed. */
function fetchedFile(r: { state: string; name: string }): string {
  return r.state === "completed" ? resultFile(r.name) : errorFile(r.name);
}

/** Write many small files with bounded parallelism (thousands of results come back at once). */
async function writeFilesParallel(dir: string, files: [string, string][]): Promise<void> {
  if (files.length === 0) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await forEachLimited(files, 16, ([file, text]) => writeFile(file, text, { mode: 0o600 }));
}
