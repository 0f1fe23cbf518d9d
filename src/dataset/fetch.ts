import { existsSync, readFileSync, renameSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseRecord, type WireRecord } from "../remote/wire.mjs";
import type { Runner } from "../runner/index.js";
import { transferKindOf } from "../shared/errno.js";
import { RunnerFailedError, TransferError } from "../shared/errors.js";
import { forEachLimited } from "../shared/limit.js";
import type { DatasetInternals } from "./internals.js";
import { errorFile, resultFile } from "./layout.js";
import type { Placement } from "./records.js";
import {
  type Listed,
  missingMessage,
  outputLocal,
  outputRemote,
  PullPlan,
  type RecvItem,
  recvItems,
  recvListingScript,
  runDirOf,
  splitListing,
} from "./recv.js";
import { errFile, fetchScriptOutputs, outFile } from "./script.js";
import { collectedResultsScript } from "./scripts.js";
import { markFailed, refresh } from "./tracking.js";

/**
 * Bring back results and errors of every finished runner not yet fetched: one command reads the
 * collected lines of every submission concerned and lists the runners' output files
 * (`extraFilesRecv`); then ONE transfer per folder brings what that command could not carry (lines
 * missing or too big, output files). Results are accepted only if they carry the token of the
 * runner's current submission. Output files come back for runners that failed too (to debug them).
 */
export async function fetchFinished<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
): Promise<void> {
  await refresh(ds);
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
  // A fetch that fails part-way (a transfer cut, a full local disk) leaves these runners as they were,
  // so that the next fetch brings their results and output files again instead of taking them as done.
  const undo = todo.map(fetchMemo);
  try {
    await fetchGroups(ds, todo, groups);
  } catch (e) {
    for (const u of undo) u();
    throw e;
  }
}

async function fetchGroups<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
  todo: Runner<Args, Result>[],
  groups: Map<string, { p: Placement; runners: Runner<Args, Result>[] }>,
): Promise<void> {
  const folder = ds.folder;
  // The output files of every runner concerned are listed by the same command as the results.
  const items = recvItems([...groups.values()], ds.placements, ds.name);
  const listing = items.length
    ? recvListingScript(
        items.map((it) => ({ root: it.placement.remoteRoot, dir: it.dir, patterns: it.patterns })),
      )
    : "";
  const outputs = new Outputs(items);
  if (ds.script) {
    const { stdout, fetched } = await fetchScriptOutputs(
      (s) => ds.connection.exec(s + listing),
      folder,
      [...groups.values()],
      ds.scriptResult,
      (r) => ds.placements.get(r.name)?.runDir ?? runDirOf(r, ds.name),
    );
    outputs.listed(splitListing(stdout).files);
    for (const { p, runners } of groups.values()) {
      const plan = new PullPlan(p.localRoot, folder);
      const mine = runners.filter((r) => fetched.has(r));
      outputs.plan(plan, mine);
      await pullOnce(ds, p, plan, async () => {
        outputs.problems.push(...(await plan.place()));
      });
    }
    outputs.report(ds);
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
  const res = await ds.connection.exec(collectedResultsScript(sources) + listing);
  const { head, files } = splitListing(res.stdout);
  outputs.listed(files);
  // Every line is parsed whole and checked: a line cut short (a full disk) or edited by hand is
  // never taken for a result; the runner's own file is read instead.
  const lines = new Map<string, WireRecord>();
  for (const line of head.split("\n")) {
    const doc = parseRecord(line);
    if (doc) lines.set(`${doc.token}\0${doc.name}`, doc);
  }

  for (const { p, runners } of groups.values()) {
    const dir = resolve(p.localRoot, folder);
    const copies: [string, string][] = [];
    const missing: Runner<Args, Result>[] = [];
    const large: Large<Args, Result>[] = [];
    const fetched: Runner<Args, Result>[] = [];
    for (const r of runners) {
      const doc = lines.get(`${r.token}\0${r.name}`);
      const file = resolve(dir, fetchedFile(r)); // named before applying changes the state
      if (doc === undefined || applyFetched(ds, r, doc, large) !== "ok") {
        missing.push(r);
        continue;
      }
      fetched.push(r);
      copies.push([file, doc.text], ...outputCopies(dir, r));
    }
    // Local copies of what was fetched, beside the staged files.
    await writeFilesParallel(dir, copies);
    // What the command could not carry comes in ONE transfer: the runners' own result files where
    // lines are missing or damaged (a runtime of an older version, a full disk), with their output
    // files in case those are big; outputs too big for their line; every output file.
    const plan = new PullPlan(p.localRoot, folder);
    const names = missing.map(fetchedFile);
    for (const r of missing)
      for (const f of [fetchedFile(r), outFile(r.name), errFile(r.name)]) plan.add(`${folder}/${f}`);
    for (const { r, doc } of large) {
      if (doc.outBytes) plan.add(`${folder}/${outFile(r.name)}`);
      if (doc.errBytes) plan.add(`${folder}/${errFile(r.name)}`);
    }
    const own = plan.files;
    outputs.plan(plan, fetched);
    // Those of runners whose lines are missing come too: placed once their own files are read.
    outputs.plan(plan, missing);
    await pullOnce(ds, p, plan, async () => {
      // The Dataset's own files and the outputs of runners already known to be fetched.
      outputs.problems.push(...(await plan.place([...own, ...fetched.flatMap((r) => outputs.remotesOf(r))])));
      const good: Runner<Args, Result>[] = [];
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
          good.push(r);
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
      // The output files of the runners whose own files say they are this submission's.
      outputs.problems.push(...(await plan.place(good.flatMap((r) => outputs.remotesOf(r)))));
    });
    if (large.length) readLargeOutputs(dir, large);
  }
  outputs.report(ds);
  ds.saveRunners(todo);
}

/**
 * Pull the files of `plan` (if any) in one transfer into its own folder, run `then` (which places
 * them), and remove that folder whatever happens.
 */
async function pullOnce<Args extends object, Result>(
  ds: DatasetInternals<Args, Result>,
  p: Placement,
  plan: PullPlan,
  then: () => Promise<void>,
): Promise<void> {
  if (plan.files.length === 0) return then();
  plan.removeLeftovers();
  try {
    await ds.connection.pull(p.remoteRoot, plan.into, plan.files);
    await then();
  } finally {
    await plan.done();
  }
}

/** The output files listed for the runners of one fetch, and what to say about them. */
class Outputs<R extends { name: string; state: string }> {
  private files = new Map<number, Listed>();
  private readonly byRunner: Map<R, { item: RecvItem<R>; i: number }>;
  /** Files fetched that could not be put in place, one line each. */
  readonly problems: string[] = [];
  private readonly planned = new Set<R>();

  constructor(items: RecvItem<R>[]) {
    this.byRunner = new Map(items.map((item, i) => [item.runner, { item, i }]));
  }

  listed(files: Map<number, Listed>): void {
    this.files = files;
  }

  /** The remote paths (relative to remoteRoot) of a runner's output files as listed. */
  remotesOf(r: R): string[] {
    const at = this.byRunner.get(r);
    if (!at) return [];
    return (this.files.get(at.i)?.found ?? []).map((path) => outputRemote(at.item.dir, path));
  }

  /** Add the output files of these runners to `plan`, each to `<runner name>/<path>` locally. */
  plan(plan: PullPlan, runners: readonly R[]): void {
    for (const r of runners) {
      const at = this.byRunner.get(r);
      if (!at) continue;
      this.planned.add(r);
      for (const path of this.files.get(at.i)?.found ?? [])
        plan.add(outputRemote(at.item.dir, path), outputLocal(r.name, path));
    }
  }

  /**
   * Say (verbose >= 1) which plain paths were not found, for runners that succeeded (a failed run
   * may well not have made them), and which files could not be put in place.
   */
  report<Args extends object, Result>(ds: DatasetInternals<Args, Result>): void {
    const missing: { runner: string; dir: string; paths: string[] }[] = [];
    for (const r of this.planned) {
      const at = this.byRunner.get(r)!;
      const paths = this.files.get(at.i)?.missing ?? [];
      if (paths.length && r.state === "satisfied") missing.push({ runner: r.name, dir: at.item.dir, paths });
    }
    const line = missingMessage(missing);
    if (line) ds.log(1, line);
    const unreadable: { runner: string; dir: string; paths: string[] }[] = [];
    for (const r of this.planned) {
      const at = this.byRunner.get(r)!;
      const paths = this.files.get(at.i)?.unreadable ?? [];
      if (paths.length) unreadable.push({ runner: r.name, dir: at.item.dir, paths });
    }
    const skipped = missingMessage(
      unreadable,
      "output file(s) found but not brought back (not a regular file or link, or not readable)",
    );
    if (skipped) ds.log(1, skipped);
    if (this.problems.length)
      ds.log(1, `output file(s) fetched but not put in place: ${this.problems.slice(0, 5).join("; ")}`);
  }
}

/** What a fetch changes on a runner, as it is now: the returned function puts it back. */
function fetchMemo<Args extends object, Result>(r: Runner<Args, Result>): () => void {
  const { state, stateTime, result, resultText, errorText, stdout, stderr } = r;
  return () => {
    Object.assign(r, { state, stateTime, result, resultText, errorText, stdout, stderr });
  };
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

/** Outputs too big for the collected lines: read from their files, fetched with the rest. */
function readLargeOutputs<Args extends object, Result>(dir: string, large: Large<Args, Result>[]): void {
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
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await forEachLimited(files, 16, ([file, text]) => writeFile(file, text, { mode: 0o600 }));
  } catch (e) {
    // The local copies are part of bringing results home: a full disk is a failed pull, typed.
    const err = e as NodeJS.ErrnoException;
    const kind = transferKindOf(err);
    const what = kind === "no-space" ? "no space left on the local disk: " : "";
    throw new TransferError("pull", `${what}${err.message}`, "", {
      cause: err,
      causeLine: err.message,
      kind,
    });
  }
}
