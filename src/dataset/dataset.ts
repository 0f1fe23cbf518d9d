import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import {
  Computer,
  type ComputerOptions,
  type PlannedSubmission,
  planJobs,
  type SubmitOptions,
} from "../computer/index.js";
import { type ConnectOptions, connect } from "../connection/index.js";
import type { Connection, ConnectionSpec } from "../connection/types.js";
import { decode, encode } from "../remote/codec.mjs";
import {
  decideAppend,
  decideSubmit,
  defaultRunArgs,
  type RunArgs,
  setRunArgsOn,
  updateRunArgsOn,
  validateRunArgs,
} from "../runargs/index.js";
import {
  isFinishedState,
  isInFlightState,
  phaseOf,
  Runner,
  type RunnerRecord,
  type RunnerState,
  runnerIdentity,
} from "../runner/index.js";
import {
  CommandError,
  InvalidArgumentError,
  RemoteEnvironmentError,
  RunnerFailedError,
  SchedulerError,
  SerializationError,
  WaitTimeoutError,
} from "../shared/errors.js";
import { canonicalJson, hashOf } from "../shared/hash.js";
import { shellQuote } from "../shared/quote.js";
import { DatasetStore } from "../store/index.js";
import { functionModuleSource } from "./function.js";
import { datasetFolder, errorFile, isValidName, masterScript, newToken, resultFile } from "./layout.js";
import {
  APPEND_OWN_KEYS,
  type AppendOptions,
  DATASET_OWN_KEYS,
  type DatasetOptions,
  type Logger,
  splitOptions,
  type WaitOptions,
} from "./options.js";
import {
  bashMasterScript,
  collectedResultsScript,
  detachMaster,
  jobScript,
  launchScript,
  NODE_MISSING_EXIT,
  STATUS_MARKER,
  statusScript,
} from "./scripts.js";
import { type StagedRunner, Stager } from "./stage.js";
import { parseStateLines } from "./status.js";

/** What the database keeps about the Dataset itself. */
interface DatasetMeta {
  runArgs: RunArgs;
  nextIndex: number;
  /** The function as shipped (lets Dataset.open() and the CLI work without the user's code). */
  functionSource?: string;
  connection?: ConnectionSpec;
  computer?: ComputerOptions;
}

/** Marks a function given as module source (Dataset.open), not as a JavaScript function. */
const FROM_SOURCE = Symbol("remoterun.functionSource");
type SourceCarrier = { [FROM_SOURCE]: string };

/** Where a runner's files went for its current submission (temporary run args are not kept). */
interface Placement {
  localRoot: string;
  remoteRoot: string;
  slot: number;
}

type StoredRunner = RunnerRecord & { placement?: Placement };

/** One (localDir, remoteDir) pair of a submission: one transfer, one part of the launch command. */
interface Folder<Args extends Record<string, unknown>, Result> {
  localRoot: string;
  remoteRoot: string;
  runners: Runner<Args, Result>[];
  stager: Stager;
  /** Jobs planned for a scheduler (with their ids once submitted). */
  plans?: (PlannedSubmission & { jobId?: string })[];
  /** Shell text that starts this folder's runs ("" when an upstream's master starts them). */
  body: string;
}

/** What a downstream Dataset needs to know to follow an upstream submission. */
interface UpstreamSubmission {
  token: string;
  remoteRoot: string;
  /** Master pid of the upstream submission without scheduler (its process group runs ours too). */
  pid?: string;
  /** The upstream's jobs, to mirror them one to one with dependencies. */
  jobs?: { runnerNames: string[][]; array: boolean; jobId: string }[];
  byPosition: Map<number, { name: string }>;
  /** Where the runner at this position finds its upstream result. */
  link(position: number): { file: string; token: string; name: string };
}

/** "123_4" → "123" (array task → array job); "pid:42" and plain ids unchanged. */
function baseJobId(id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  return id.startsWith("pid:") ? id : id.replace(/_\d+$/, "");
}

/**
 * Plan a downstream submission as the mirror image of its upstream's jobs: task t of job s runs the
 * runners whose upstream runners ran in task t of upstream job s, so that per-task dependencies hold.
 */
function mirrorPlans<Args extends Record<string, unknown>, Result>(
  upstream: UpstreamSubmission,
  runners: Runner<Args, Result>[],
  positions: Map<string, number>,
  computer: Computer,
): PlannedSubmission[] {
  const upPosition = new Map([...upstream.byPosition].map(([pos, r]) => [r.name, pos]));
  const downAt = new Map(runners.map((r) => [positions.get(r.name)!, r]));
  return upstream.jobs!.map((job) => {
    const runnerNames = job.runnerNames.map((names) =>
      names.map((n) => downAt.get(upPosition.get(n) ?? -1)?.name).filter((n): n is string => n !== undefined),
    );
    const first = runners.find((r) => runnerNames.some((g) => g.includes(r.name)));
    const header = first ? computer.render(first.derivedRunArgs, first.name) : computer.render({}, undefined);
    return { header, runnerNames, array: job.array };
  });
}

type Fn<Args, Result> = (
  args: Args,
  context: { name: string; upstream?: unknown },
) => Result | Promise<Result>;

/**
 * A function plus many runs of it. Runs are staged, transferred, submitted, tracked and fetched in
 * a constant number of commands per phase, and everything is kept in a database so that a new
 * process picks up where the last one stopped.
 */
export class Dataset<Args extends Record<string, unknown> = Record<string, unknown>, Result = unknown> {
  readonly name: string;
  /** Hash of the function source and the name. */
  readonly identity: string;
  /** Dataset-level run args; mutate freely or use setRunArgs/updateRunArgs. */
  runArgs: RunArgs;
  /** Temporary args of the run() in progress; empty otherwise. */
  temporaryRunArgs: RunArgs = {};
  readonly connection: Connection;
  /** How jobs are scripted and submitted; undefined = no scheduler (runs start right away). */
  readonly computer: Computer | undefined;
  readonly dbFile: string;
  private readonly downstream: Dataset<Record<string, unknown>, unknown>[] = [];
  readonly extraFilesSend: readonly string[];
  private readonly functionSource: string;
  private readonly verbosity: number;
  private readonly logger: Logger;
  private readonly store: DatasetStore<DatasetMeta, StoredRunner>;
  private _runners: Runner<Args, Result>[] = [];
  /** Lookups that keep appends O(1) however many runners there are. */
  private readonly byName = new Map<string, Runner<Args, Result>>();
  private readonly byIdentity = new Map<string, Runner<Args, Result>>();
  private readonly placements = new Map<string, Placement>();
  private nextIndex = 0;
  private lazySummary: { appended: number; skipped: number; forced: number } | undefined;
  /** Whether this Dataset was restored from an existing database. */
  readonly restored: boolean;

  constructor(fn: Fn<Args, Result>, options: DatasetOptions = {}) {
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new InvalidArgumentError("Dataset options", options, "an object");
    }
    const carried = fn as unknown as Partial<SourceCarrier> | null;
    this.functionSource =
      carried && typeof carried === "object" && typeof carried[FROM_SOURCE] === "string"
        ? carried[FROM_SOURCE]
        : functionModuleSource(fn);
    const { own, runArgs } = splitOptions(options, DATASET_OWN_KEYS);
    const name = own.name ?? "dataset";
    if (typeof name !== "string" || !isValidName(name)) {
      throw new InvalidArgumentError(
        "Dataset name",
        name,
        "letters, digits, '.', '_' or '-' (at most 128, not starting with '.' or '-')",
      );
    }
    if (own.skip !== undefined && typeof own.skip !== "boolean")
      throw new InvalidArgumentError("skip", own.skip, "a boolean");
    if (own.force !== undefined && typeof own.force !== "boolean")
      throw new InvalidArgumentError("force", own.force, "a boolean (ignored at Dataset creation)");
    validateRunArgs(runArgs, "Dataset run args");
    this.verbosity = verbosityOf(own.verbose);
    if (own.logger !== undefined && typeof own.logger !== "function") {
      throw new InvalidArgumentError("logger", own.logger, "a function that takes a message");
    }
    this.logger = own.logger ?? ((m: string) => console.log(m));
    const connection = own.connection ?? own.url;
    this.connection = isConnection(connection) ? connection : connect(connection as ConnectOptions);
    if (own.computer !== undefined && !(own.computer instanceof Computer)) {
      throw new InvalidArgumentError("computer", own.computer, "a Computer (e.g. Computer.slurm())");
    }
    this.computer = own.computer;
    const extra = own.extraFilesSend ?? [];
    if (
      !Array.isArray(extra) ||
      extra.some((f) => typeof f !== "string" || !existsSync(f) || !statSync(f).isFile())
    ) {
      throw new InvalidArgumentError("extraFilesSend", extra, "an array of paths of existing files");
    }
    this.extraFilesSend = [...extra];
    const dbDir = own.dbDir ?? process.cwd();
    if (typeof dbDir !== "string" || dbDir === "")
      throw new InvalidArgumentError("dbDir", dbDir, "a folder path");

    this.name = name;
    this.identity = hashOf({ function: this.functionSource, name });
    mkdirSync(dbDir, { recursive: true });
    this.dbFile = resolve(dbDir, `${datasetFolder(name, this.identity)}.remoterun`);
    const { store, state } = DatasetStore.open<DatasetMeta, StoredRunner>(this.dbFile, this.identity, {
      fresh: own.skip === false,
    });
    this.store = store;
    this.runArgs = { ...defaultRunArgs(), ...runArgs };
    this.restored = state !== null;
    if (state) {
      // The code that created this object is the source of truth for run args given to it now.
      this.runArgs = { ...state.meta.runArgs, ...runArgs };
      this.nextIndex = state.runners.reduce((n, r) => Math.max(n, r.index + 1), state.meta.nextIndex);
      for (const rec of state.runners) this.adopt(rec);
      this.log(
        1,
        `restored dataset ${name} from ${basename(this.store.snapshotFile)} (${this._runners.length} runner(s))`,
      );
    }
    store.attach(() => ({
      identity: this.identity,
      name: this.name,
      meta: this.meta(),
      runners: this.records(),
    }));
    // A restored database only needs the Dataset settings, and only if they changed (opening must
    // not write: dry runs and inspection leave the files as they were); a new one a snapshot.
    if (state) {
      if (!sameSettings(state.meta, this.meta())) this.store.putMeta(this.meta());
    } else
      this.store.writeSnapshot({ identity: this.identity, name, meta: this.meta(), runners: this.records() });
  }

  /**
   * Read a database without opening (or locking) its Dataset: the states as last recorded by
   * whichever process holds it. For status displays next to a running script.
   */
  static inspect(dbFile: string): {
    name: string;
    identity: string;
    runners: { name: string; state: RunnerState; jobId?: string; error?: RunnerFailedError }[];
  } {
    if (typeof dbFile !== "string" || dbFile === "") {
      throw new InvalidArgumentError("database file", dbFile, "the path of a .remoterun.json file");
    }
    const state = DatasetStore.peek<DatasetMeta, StoredRunner>(resolve(dbFile.replace(/\.json$/, "")));
    if (!state) throw new InvalidArgumentError("database file", dbFile, "an existing remoterun database");
    return {
      name: state.name,
      identity: state.identity,
      runners: state.runners.map((r) => ({
        name: r.name,
        state: r.state,
        ...(r.jobId !== undefined ? { jobId: r.jobId } : {}),
        ...(r.error !== undefined ? { error: new RunnerFailedError(r.name, r.error) } : {}),
      })),
    };
  }

  /**
   * Open the Dataset stored in a database file (`<name>-<id>.remoterun.json`, with or without the
   * `.json`) without the code that created it: the function, run args, connection and Computer come
   * from the database. `options` may override the connection, logger and verbosity.
   */
  static open(
    dbFile: string,
    options: Pick<DatasetOptions, "connection" | "url" | "logger" | "verbose"> = {},
  ): Dataset<Record<string, unknown>, unknown> {
    if (typeof dbFile !== "string" || dbFile === "") {
      throw new InvalidArgumentError("database file", dbFile, "the path of a .remoterun.json file");
    }
    const base = resolve(dbFile.replace(/\.json$/, ""));
    const state = DatasetStore.peek<DatasetMeta, StoredRunner>(base);
    if (!state) throw new InvalidArgumentError("database file", dbFile, "an existing remoterun database");
    const meta = state.meta;
    if (!meta?.functionSource) {
      throw new InvalidArgumentError("database file", dbFile, "a database that records its function");
    }
    const connection =
      options.connection ?? options.url ?? (meta.connection ? connectOptionsOf(meta.connection) : undefined);
    const opts: DatasetOptions = {
      name: state.name,
      dbDir: dirname(base),
      connection,
      ...(meta.computer ? { computer: new Computer(meta.computer) } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.verbose !== undefined ? { verbose: options.verbose } : {}),
    };
    const carrier: SourceCarrier = { [FROM_SOURCE]: meta.functionSource };
    const ds = new Dataset(carrier as unknown as Fn<Record<string, unknown>, unknown>, opts);
    if (ds.identity !== state.identity) {
      throw new InvalidArgumentError(
        "database file",
        dbFile,
        "a database whose identity matches its function",
      );
    }
    return ds;
  }

  // ---------------------------------------------------------------- run args

  setRunArgs(keys: string | string[], vals: unknown): void {
    setRunArgsOn(this.runArgs, "Dataset run args", keys, vals);
    this.saveMeta();
  }

  updateRunArgs(update: Record<string, unknown>): void {
    updateRunArgsOn(this.runArgs, "Dataset run args", update);
    this.saveMeta();
  }

  get runners(): readonly Runner<Args, Result>[] {
    return this._runners;
  }

  // ---------------------------------------------------------------- appending

  /**
   * Add a run with these args. A run identical to an existing one is not added again unless
   * `skip: false` / `force: true`. Returns the new (or existing) Runner.
   */
  appendRun(args: Args, options: AppendOptions = {}): Runner<Args, Result> {
    const { runner } = this.appendOne(args, options);
    if (!options.lazy) this.flush();
    return runner;
  }

  /** Append many runs with one database write and one summary line. */
  appendRuns(
    list: readonly Args[],
    options: Omit<AppendOptions, "name" | "lazy"> = {},
  ): Runner<Args, Result>[] {
    if (!Array.isArray(list))
      throw new InvalidArgumentError("appendRuns list", list, "an array of args objects");
    // All or nothing: one bad entry leaves the Dataset as it was before the call.
    const before = {
      runners: this._runners.length,
      pending: this.pendingWrites.length,
      nextIndex: this.nextIndex,
      summary: this.lazySummary && { ...this.lazySummary },
    };
    let out: Runner<Args, Result>[];
    try {
      out = list.map((args) => this.appendOne(args, { ...options, lazy: true }).runner);
    } catch (e) {
      this.truncateRunners(before.runners);
      this.pendingWrites.length = before.pending;
      this.nextIndex = before.nextIndex;
      this.lazySummary = before.summary;
      throw e;
    }
    this.finishAppend();
    return out;
  }

  /** End a series of lazy appends: write them to the database and print one summary. */
  finishAppend(): void {
    const s = this.lazySummary;
    this.flush();
    if (s) {
      const total = s.appended + s.skipped + s.forced;
      this.log(1, `Of ${total} appends: ${s.appended} appended, ${s.skipped} skipped, ${s.forced} forced`);
    }
    this.lazySummary = undefined;
  }

  private pendingWrites: StoredRunner[] = [];

  private appendOne(args: Args, options: AppendOptions): { runner: Runner<Args, Result>; added: boolean } {
    if (options === null || typeof options !== "object")
      throw new InvalidArgumentError("appendRun options", options, "an object");
    if (args === null || typeof args !== "object" || Array.isArray(args)) {
      throw new InvalidArgumentError("appendRun args", args, "an object of named function arguments");
    }
    const { own, runArgs } = splitOptions(options, APPEND_OWN_KEYS);
    for (const k of ["skip", "force", "lazy", "quiet"] as const) {
      if (own[k] !== undefined && typeof own[k] !== "boolean")
        throw new InvalidArgumentError(`appendRun ${k}`, own[k], "a boolean");
    }
    validateRunArgs(runArgs, "Runner run args");
    let encodedArgs: string;
    try {
      encodedArgs = encode(args, "args");
    } catch (e) {
      const err = e as Error & { path?: string; value?: unknown; reason?: string };
      throw new SerializationError(err.path ?? "args", err.value, err.reason ?? err.message);
    }
    let index = this.nextIndex;
    // A default name never collides with a custom one (e.g. a runner named "runner-1" by hand).
    if (own.name == null) while (this.byName.has(`runner-${index}`)) index++;
    const name = own.name ?? `runner-${index}`;
    if (typeof name !== "string" || !isValidName(name)) {
      throw new InvalidArgumentError(
        "runner name",
        name,
        "letters, digits, '.', '_' or '-' (not starting with '.' or '-')",
      );
    }
    const derived = { ...this.runArgs, ...runArgs };
    const identity = runnerIdentity(args, derived, this.identity);
    const existing = this.byIdentity.get(identity);
    const decision = decideAppend(existing !== undefined, { skip: own.skip, force: own.force });
    if (options.lazy) this.lazySummary ??= { appended: 0, skipped: 0, forced: 0 };
    const summary = options.lazy ? this.lazySummary : undefined;
    const quiet = own.quiet || options.lazy;
    if (decision === "skip" && existing) {
      if (summary) summary.skipped++;
      if (!quiet) this.log(1, `${existing.name} already exists, skipping`);
      return { runner: existing, added: false };
    }
    if (this.byName.has(name)) {
      throw new InvalidArgumentError(
        "runner name",
        name,
        "a name not used by another runner of this Dataset",
      );
    }
    const rec: StoredRunner = {
      index,
      name,
      identity: decision === "force" ? runnerIdentity(args, derived, this.identity, index) : identity,
      args: decode(encodedArgs) as Record<string, unknown>,
      runArgs,
      state: "created",
      stateTime: Date.now(),
    };
    this.nextIndex = index + 1;
    const runner = this.adopt(rec);
    this.pendingWrites.push(rec);
    if (summary) summary[decision === "force" ? "forced" : "appended"]++;
    if (!quiet) this.log(1, `appended run ${name}`);
    return { runner, added: true };
  }

  private flush(): void {
    if (this.pendingWrites.length === 0) return;
    // One journal line for the whole batch; the next index is derived from the runners on restore.
    this.store.putRunners(this.pendingWrites);
    this.pendingWrites = [];
  }

  private adopt(rec: StoredRunner): Runner<Args, Result> {
    const runner = new Runner<Args, Result>(this, rec, (t) => decode(t));
    this._runners.push(runner);
    this.byName.set(runner.name, runner);
    if (!this.byIdentity.has(runner.identity)) this.byIdentity.set(runner.identity, runner);
    if (rec.placement) this.placements.set(rec.name, rec.placement);
    return runner;
  }

  /** Forget the runners after the first `n` (undoing a failed bulk append). */
  private truncateRunners(n: number): void {
    for (const r of this._runners.splice(n)) {
      this.byName.delete(r.name);
      if (this.byIdentity.get(r.identity) === r) this.byIdentity.delete(r.identity);
      this.placements.delete(r.name);
    }
  }

  // ---------------------------------------------------------------- dependencies

  /**
   * Runner i of `next` starts after runner i of this Dataset succeeded and receives its result as
   * `context.upstream`. Running this Dataset also submits the matching runners of `next`.
   */
  setDownstream(next: Dataset<Record<string, unknown>, unknown>): void {
    if (!(next instanceof Dataset) || next === (this as unknown)) {
      throw new InvalidArgumentError("downstream dataset", next, "another Dataset");
    }
    if (next.connection !== this.connection && next.connection.label !== this.connection.label) {
      throw new InvalidArgumentError(
        "downstream dataset connection",
        next.connection.label,
        `the same machine as upstream (${this.connection.label})`,
      );
    }
    if (!this.downstream.includes(next)) this.downstream.push(next);
  }

  /** The mirror of setDownstream: `b.setUpstream(a)` ≡ `a.setDownstream(b)`. */
  setUpstream(previous: Dataset<Record<string, unknown>, unknown>): void {
    if (!(previous instanceof Dataset))
      throw new InvalidArgumentError("upstream dataset", previous, "a Dataset");
    previous.setDownstream(this as unknown as Dataset<Record<string, unknown>, unknown>);
  }

  /** The Dataset's bookkeeping folder name (under localDir and remoteDir). */
  get folder(): string {
    return datasetFolder(this.name, this.identity);
  }

  /** The Computer when it drives a scheduler; undefined when runs start directly. */
  private get scheduler(): Computer | undefined {
    return this.computer && this.computer.submitter !== "bash" ? this.computer : undefined;
  }

  // ---------------------------------------------------------------- running

  /**
   * Submit every runner that should run under the skip/force rules, with `temporary` run args
   * overlaid for this call only. Stages, transfers and submits with one command per phase.
   */
  async run(temporary: RunArgs = {}): Promise<{ submitted: string[]; skipped: string[] }> {
    if (temporary === null || typeof temporary !== "object" || Array.isArray(temporary)) {
      throw new InvalidArgumentError("run args", temporary, "an object of run args");
    }
    validateRunArgs(temporary, "run() args");
    this.flush();
    this.temporaryRunArgs = { ...temporary };
    try {
      for (const r of this._runners) validateRunArgs(r.derivedRunArgs, `${r.name} derived run args`);
      if (this._runners.some((r) => isInFlightState(r.state))) await this.refresh();
      const submit: Runner<Args, Result>[] = [];
      const skipped: string[] = [];
      for (const r of this._runners) {
        const d = decideSubmit(phaseOf(r.state), r.derivedRunArgs);
        if (d.submit) submit.push(r);
        else skipped.push(r.name);
      }
      if (this.scheduler && submit.some((r) => r.derivedRunArgs.asynchronous === false)) {
        this.log(
          2,
          `asynchronous: false is ignored with ${this.scheduler.name}: the scheduler decides what runs in parallel`,
        );
      }
      if (skipped.length)
        this.log(
          1,
          `${skipped.length} runner(s) skipped (already submitted, finished or failed; use force to resubmit)`,
        );
      if (submit.length === 0) {
        this.log(1, "no runners to submit");
        return { submitted: [], skipped };
      }
      await this.submit(submit);
      return { submitted: submit.map((r) => r.name), skipped };
    } finally {
      this.temporaryRunArgs = {};
    }
  }

  private async submit(runners: Runner<Args, Result>[], upstream?: UpstreamSubmission): Promise<void> {
    const token = upstream?.token ?? newToken();
    const folder = this.folder;
    const scheduler = this.scheduler;
    const superseded = new Set(runners.filter((r) => isInFlightState(r.state)).map((r) => r.name));

    // Runner i of each downstream Dataset follows runner i of this one.
    const positions = new Map(this._runners.map((r, i) => [r.name, i]));
    const downstream = this.downstream.map((ds) => ({
      ds,
      runners: runners.map((r) => ds.runners[positions.get(r.name)!]).filter((r) => r !== undefined),
    }));

    const folders = new Map<string, Folder<Args, Result>>();
    for (const r of runners) {
      const d = r.derivedRunArgs;
      const localRoot = resolve(String(d.localDir));
      const remoteRoot =
        this.connection.kind === "local" ? resolve(String(d.remoteDir)) : String(d.remoteDir);
      const key = `${localRoot}\0${remoteRoot}`;
      if (!folders.has(key))
        folders.set(key, {
          localRoot,
          remoteRoot,
          runners: [],
          stager: new Stager(localRoot, folder),
          body: "",
        });
      folders.get(key)!.runners.push(r);
    }
    for (const { ds } of downstream) ds.checkCanFollow(folders.values());

    // Plan (render every job script header) before anything is changed, so that a template error
    // leaves runners, results and files exactly as they were.
    if (scheduler) {
      for (const f of folders.values()) {
        f.plans = upstream?.jobs
          ? mirrorPlans(upstream, f.runners, positions, scheduler)
          : planJobs(
              f.runners.map((r) => ({ name: r.name, values: r.derivedRunArgs })),
              {
                computer: scheduler,
                runnersPerJob: (f.runners[0].derivedRunArgs.runnersPerJob as number | undefined) ?? 1,
              },
            );
      }
    }
    for (const r of runners) this.setAsideOldResult(r, folder);

    // Without a scheduler the downstream runs are started by this submission's master script, so
    // they must be staged and sent first.
    if (!scheduler) {
      for (const { ds, runners: rs } of downstream)
        if (rs.length) await ds.submit(rs, this.upstreamInfo(token, runners, folders));
    }

    for (const f of folders.values()) {
      const staged: StagedRunner[] = f.runners.map((r) => ({
        name: r.name,
        args: r.args,
        runDir: r.derivedRunArgs.runDir as string | undefined,
        ...(superseded.has(r.name) ? { supersedes: true } : {}),
        ...(upstream ? { upstream: upstream.link(positions.get(r.name)!) } : {}),
      }));
      const asynchronous = f.runners.every((r) => r.derivedRunArgs.asynchronous !== false);
      if (scheduler && f.plans) {
        const groups = f.plans.flatMap((p) => p.runnerNames);
        f.stager.common(token, this.functionSource, staged, { asynchronous, groups });
        f.body = this.stageJobs(f, token, upstream);
        const slotOf = new Map(groups.flatMap((names, k) => names.map((n) => [n, k] as const)));
        for (const r of f.runners)
          this.placements.set(r.name, {
            localRoot: f.localRoot,
            remoteRoot: f.remoteRoot,
            slot: slotOf.get(r.name)!,
          });
      } else {
        f.stager.common(token, this.functionSource, staged, { asynchronous });
        const then = downstream
          .filter((d) => d.runners.length)
          .map((d) => `../${d.ds.folder}/${masterScript(token)}`);
        f.stager.put(
          masterScript(token),
          bashMasterScript({
            token,
            runners: f.runners.length,
            asynchronous,
            maxProcesses: f.runners[0].derivedRunArgs.maxProcesses as number | undefined,
            nodeCommand: this.connection.nodeCommand,
            datasetName: this.name,
            then,
          }),
          0o700,
        );
        f.body = upstream ? "" : detachMaster(token);
        f.runners.forEach((r, slot) => {
          this.placements.set(r.name, { localRoot: f.localRoot, remoteRoot: f.remoteRoot, slot });
        });
      }
      f.stager.extra(this.extraFilesSend);
      for (const r of f.runners) {
        r.token = token;
        r.jobId = undefined;
        r.setState("staged");
      }
    }
    this.saveRunners(runners);

    for (const f of folders.values()) {
      await this.connection.push(f.localRoot, f.remoteRoot, f.stager.files);
      for (const r of f.runners) r.setState("transferred");
    }
    this.saveRunners(runners);

    const launching = [...folders.values()].filter((f) => f.body !== "");
    if (launching.length) {
      const script = launchScript(
        this.connection.nodeCommand,
        launching.map((f) => ({ dir: `${f.remoteRoot}/${folder}`, body: f.body })),
        !scheduler,
      );
      const res = await this.connection.exec(script, { allowFailure: true });
      if (res.exitCode === NODE_MISSING_EXIT) {
        throw new RemoteEnvironmentError(
          `${this.connection.label}: ${res.stderr.trim() || "node is not available"}; install Node.js >= 18 there or set the connection's node command`,
        );
      }
      if (res.exitCode !== 0) {
        for (const r of runners) r.setState("created");
        this.saveRunners(runners);
        throw scheduler
          ? new SchedulerError(
              `submission to ${scheduler.name} failed: ${res.stderr.trim() || res.stdout.trim()}`,
              res.stdout + res.stderr,
            )
          : new CommandError("launch", res, "submission");
      }
      this.recordJobIds(launching, res.stdout);
    } else if (upstream?.pid) {
      for (const r of runners) r.jobId = upstream.pid;
    }
    const now = Date.now();
    for (const r of runners) r.setState("submitted", now);
    this.saveRunners(runners);
    this.log(
      1,
      `submitted ${runners.length} runner(s) of ${this.name} to ${this.connection.label}${scheduler ? ` through ${scheduler.name}` : ""}`,
    );

    if (scheduler) {
      for (const { ds, runners: rs } of downstream)
        if (rs.length) await ds.submit(rs, this.upstreamInfo(token, runners, folders));
    }
  }

  /** Write the job scripts of every planned job and return the text that submits them all. */
  private stageJobs(f: Folder<Args, Result>, token: string, upstream?: UpstreamSubmission): string {
    const scheduler = this.scheduler!;
    let offset = 0;
    const lines: string[] = [];
    f.plans!.forEach((plan, s) => {
      const count = plan.runnerNames.length;
      const script = `job-${token}-${s}.sh`;
      f.stager.put(
        script,
        jobScript({
          header: plan.header,
          token,
          nodeCommand: this.connection.nodeCommand,
          groupExpr: plan.array ? `$((${offset} + ${scheduler.arrayIndexExpr}))` : String(offset),
          groups: f.plans!.reduce((n, p) => n + p.runnerNames.length, 0),
        }),
        0o700,
      );
      const pattern = plan.array ? scheduler.outputIndexPattern : undefined;
      const log = `job-${token}-${s}${pattern ? `-${pattern}` : ""}`;
      const up = upstream?.jobs?.[s];
      const opts: SubmitOptions = {
        script,
        jobName: `${this.name}-${s}`,
        stdout: `${log}.out`,
        stderr: `${log}.err`,
        ...(plan.array ? { arrayCount: count } : {}),
        ...(up ? (up.array && plan.array ? { afterCorresponding: up.jobId } : { afterOk: [up.jobId] }) : {}),
      };
      lines.push(`id=$( ${scheduler.submitSnippet(opts)} ) || exit $?`, `echo "job ${s} $id"`);
      offset += count;
    });
    return lines.join("\n");
  }

  /** Parse `@<folder> pid <pid>` / `@<folder> job <s> <id>` lines of the launch command. */
  private recordJobIds(launching: Folder<Args, Result>[], stdout: string): void {
    const scheduler = this.scheduler;
    for (const line of stdout.split("\n")) {
      const m = /^@(\d+) (pid|job) (\S+)(?: (\S+))?$/.exec(line.trim());
      if (!m) continue;
      const f = launching[Number(m[1])];
      if (!f) continue;
      if (m[2] === "pid") {
        for (const r of f.runners) r.jobId = `pid:${m[3]}`;
        continue;
      }
      const plan = f.plans?.[Number(m[3])];
      if (!plan || !scheduler) continue;
      const id = scheduler.parseJobId(m[4] ?? "");
      plan.jobId = id;
      plan.runnerNames.forEach((names, t) => {
        for (const n of names) {
          const r = f.runners.find((x) => x.name === n);
          if (r) r.jobId = plan.array ? `${id}_${t}` : id;
        }
      });
    }
  }

  /** What a downstream Dataset needs to follow this submission. */
  private upstreamInfo(
    token: string,
    runners: Runner<Args, Result>[],
    folders: Map<string, Folder<Args, Result>>,
  ): UpstreamSubmission {
    const positions = new Map(this._runners.map((r, i) => [r.name, i]));
    const byPosition = new Map(runners.map((r) => [positions.get(r.name)!, r]));
    const first = [...folders.values()][0];
    const folder = this.folder;
    const plans = first.plans;
    return {
      token,
      remoteRoot: first.remoteRoot,
      pid: runners[0]?.jobId?.startsWith("pid:") ? runners[0].jobId : undefined,
      jobs: plans?.map((p) => ({ runnerNames: p.runnerNames, array: p.array, jobId: p.jobId ?? "" })),
      byPosition,
      link: (downPosition: number) => {
        const upName = byPosition.get(downPosition)?.name ?? `runner at position ${downPosition}`;
        return { file: `../${folder}/${resultFile(upName)}`, token, name: upName };
      },
    };
  }

  /** A downstream Dataset must put its files beside its upstream's (results are read as ../<folder>/...). */
  private checkCanFollow(upFolders: Iterable<{ remoteRoot: string }>): void {
    const mine =
      this.connection.kind === "local"
        ? resolve(String(this.runArgs.remoteDir))
        : String(this.runArgs.remoteDir);
    for (const f of upFolders) {
      if (f.remoteRoot !== mine) {
        throw new InvalidArgumentError(
          `remoteDir of downstream dataset ${this.name}`,
          mine,
          `the upstream's remoteDir ${f.remoteRoot}`,
        );
      }
    }
  }

  /** Before a resubmission, move the fetched result aside locally and forget it in memory. */
  private setAsideOldResult(r: Runner<Args, Result>, folder: string): void {
    const p = this.placements.get(r.name);
    if (p && r.token) {
      for (const f of [resultFile(r.name), errorFile(r.name)]) {
        const file = resolve(p.localRoot, folder, f);
        if (existsSync(file)) renameSync(file, `${file}.stale-${r.token}`);
      }
    }
    r.result = undefined;
    r.resultText = undefined;
    r.errorText = undefined;
  }

  // ---------------------------------------------------------------- tracking

  /**
   * Update every in-flight runner in one remote command: the scheduler's view of the jobs (when there
   * is a scheduler) and the state lines the runs wrote. The runs' own lines win; the scheduler's view
   * only turns runners whose job died without a word (timeout, cancel, node failure) into failures.
   */
  private async refresh(): Promise<void> {
    const folder = this.folder;
    const inFlight = this._runners.filter((r) => isInFlightState(r.state) && r.token);
    if (inFlight.length === 0) return;
    const wanted = new Map<string, { token: string; slot: number }>();
    const folders = new Map<string, { dir: string; token: string }>();
    for (const r of inFlight) {
      const p = this.placements.get(r.name);
      if (!p) continue;
      wanted.set(r.name, { token: r.token!, slot: p.slot });
      const dir = `${p.remoteRoot}/${folder}`;
      folders.set(`${dir}\0${r.token}`, { dir, token: r.token! });
    }
    const scheduler = this.scheduler;
    const jobIds = scheduler
      ? [...new Set(inFlight.map((r) => baseJobId(r.jobId)).filter((id) => id !== undefined))]
      : [];
    const res = await this.connection.exec(
      statusScript([...folders.values()], jobIds.length ? scheduler!.statusScript(jobIds) : undefined),
    );
    const cut = res.stdout.indexOf(STATUS_MARKER);
    const schedulerView = scheduler && cut > 0 ? scheduler.parseStatus(res.stdout.slice(0, cut)) : new Map();
    const updates = parseStateLines(
      cut >= 0 ? res.stdout.slice(cut + STATUS_MARKER.length) : res.stdout,
      wanted,
    );
    const changed: Runner<Args, Result>[] = [];
    for (const r of inFlight) {
      const u = updates.get(r.name);
      if (u && u.state !== r.state) {
        r.setState(u.state, u.time);
        if (u.crash) this.markFailed(r, u.crash);
        changed.push(r);
      }
      if (!isInFlightState(r.state) || !r.jobId) continue;
      const job = schedulerView.get(r.jobId) ?? schedulerView.get(baseJobId(r.jobId) ?? "");
      if (!job) continue;
      if (job.state === "failed") {
        const why = /Dependency/.test(job.reason ?? "")
          ? `upstream runner did not succeed, so the scheduler will never start this job (${job.reason})`
          : `job ${r.jobId} ended by the scheduler: ${job.reason ?? job.raw}`;
        this.markFailed(r, why);
        changed.push(r);
      } else if (job.state === "completed") {
        // The scheduler's view was read before the state lines: a finished job wrote its lines by then.
        this.markFailed(r, `job ${r.jobId} ended (${job.raw}) without the runner reporting a result`);
        changed.push(r);
      } else if (job.state === "running" && r.state === "submitted") {
        r.setState("started");
        changed.push(r);
      }
    }
    this.saveRunners([...new Set(changed)]);
    const never =
      inFlight.length && jobIds.length
        ? [...new Set(changed.filter((r) => /never start/.test(r.errorText ?? "")).map((r) => r.jobId!))]
        : [];
    // Jobs that wait for a dependency that can never be met would sit in the queue forever.
    if (never.length && scheduler)
      await this.connection.exec(scheduler.cancelScript(never), { allowFailure: true });
  }

  private markFailed(r: Runner<Args, Result>, why: string): void {
    r.setState("failed");
    r.errorText = why;
    r.result = new RunnerFailedError(r.name, why);
  }

  /**
   * Stop every in-flight runner: one scheduler cancel (or one kill of the master process groups)
   * for all of them. Cancelled runners are marked failed. Returns the names cancelled.
   */
  async cancel(): Promise<string[]> {
    await this.refresh();
    const inFlight = this._runners.filter((r) => isInFlightState(r.state));
    if (inFlight.length === 0) return [];
    const scheduler = this.scheduler;
    const ids = [...new Set(inFlight.map((r) => baseJobId(r.jobId)).filter((id) => id !== undefined))];
    let script: string;
    if (scheduler) script = scheduler.cancelScript(ids);
    else {
      const pids = ids.map((id) => id.replace(/^pid:/, "")).filter((p) => /^\d+$/.test(p));
      script = `for p in ${pids.join(" ")}; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done; true`;
    }
    await this.connection.exec(script, { allowFailure: true });
    for (const r of inFlight) this.markFailed(r, "cancelled");
    this.saveRunners(inFlight);
    this.log(1, `cancelled ${inFlight.length} runner(s)`);
    return inFlight.map((r) => r.name);
  }

  /** For every runner: has it finished (completed, failed or fetched)? One remote command. */
  async isFinished(): Promise<boolean[]> {
    await this.refresh();
    return this._runners.map((r) => isFinishedState(r.state));
  }

  /** True when no runner is in flight (nothing submitted is still pending). */
  async allFinished(): Promise<boolean> {
    await this.refresh();
    return !this._runners.some((r) => isInFlightState(r.state));
  }

  /** Poll until every submitted runner has finished; WaitTimeoutError after `timeout` seconds. */
  async wait(options: WaitOptions = {}): Promise<void> {
    const interval = options.interval ?? 1;
    const timeout = options.timeout;
    if (typeof interval !== "number" || !(interval > 0))
      throw new InvalidArgumentError("wait interval", interval, "a positive number of seconds");
    if (timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0))) {
      throw new InvalidArgumentError("wait timeout", timeout, "a number of seconds >= 0");
    }
    const t0 = Date.now();
    let pause = Math.min(0.02, interval);
    for (;;) {
      if (await this.allFinished()) return;
      const elapsed = (Date.now() - t0) / 1000;
      if (timeout !== undefined && elapsed >= timeout) {
        throw new WaitTimeoutError(
          timeout,
          this._runners.filter((r) => isInFlightState(r.state)).map((r) => r.name),
        );
      }
      const left = timeout === undefined ? pause : Math.min(pause, Math.max(0, timeout - elapsed));
      await new Promise((res) => setTimeout(res, left * 1000));
      pause = Math.min(interval, pause * 2);
    }
  }

  /**
   * Bring back results and errors of every finished runner not yet fetched: one transfer per
   * folder. Results are accepted only if they carry the token of the runner's current submission.
   */
  async fetchResults(): Promise<(Result | RunnerFailedError | undefined)[]> {
    await this.refresh();
    const folder = this.folder;
    const todo = this._runners.filter(
      (r) =>
        (r.state === "completed" && r.resultText === undefined) ||
        (r.state === "failed" && r.errorText === undefined),
    );
    const groups = new Map<string, { p: Placement; runners: Runner<Args, Result>[] }>();
    for (const r of todo) {
      const p = this.placements.get(r.name);
      if (!p) continue;
      const key = `${p.localRoot}\0${p.remoteRoot}`;
      if (!groups.has(key)) groups.set(key, { p, runners: [] });
      groups.get(key)!.runners.push(r);
    }
    if (groups.size === 0) return this.results;

    // One command reads the collected result lines of every submission concerned.
    const sources = [...groups.values()].flatMap(({ p, runners }) =>
      [...new Set(runners.map((r) => r.token!))].map((token) => ({
        dir: `${p.remoteRoot}/${folder}`,
        token,
      })),
    );
    const res = await this.connection.exec(collectedResultsScript(sources));
    const lines = new Map<string, string>();
    for (const line of res.stdout.split("\n")) {
      const m = /^\{"token":"([^"]+)","name":"([^"]+)"/.exec(line);
      if (m) lines.set(`${m[1]}\0${m[2]}`, line);
    }

    for (const { p, runners } of groups.values()) {
      const dir = resolve(p.localRoot, folder);
      const copies: [string, string][] = [];
      const missing: Runner<Args, Result>[] = [];
      for (const r of runners) {
        const line = lines.get(`${r.token}\0${r.name}`);
        if (line === undefined) {
          missing.push(r);
          continue;
        }
        this.applyFetched(r, parseDoc(line));
        copies.push([resolve(dir, r.state === "failed" ? errorFile(r.name) : resultFile(r.name)), line]);
      }
      // Local copies of what was fetched, beside the staged files.
      await writeFilesParallel(dir, copies);
      // Lines can be missing (a runtime of an older version, a damaged file): the runners' own files.
      if (missing.length) {
        const files = missing.map(
          (r) => `${folder}/${r.state === "completed" ? resultFile(r.name) : errorFile(r.name)}`,
        );
        await this.connection.pull(p.remoteRoot, p.localRoot, files);
        for (const r of missing) {
          const file = resolve(dir, r.state === "completed" ? resultFile(r.name) : errorFile(r.name));
          let text: string | undefined;
          try {
            text = readFileSync(file, "utf8");
          } catch {
            text = undefined;
          }
          this.applyFetched(r, text === undefined ? undefined : parseDoc(text));
        }
      }
    }
    this.saveRunners(todo);
    return this.results;
  }

  /** Take a fetched result or error document, if it belongs to the runner's current submission. */
  private applyFetched(r: Runner<Args, Result>, doc: FetchedDoc | undefined): void {
    const isResult = r.state === "completed";
    if (!doc || doc.token !== r.token || (isResult ? !("result" in doc) : doc.stderr === undefined)) {
      const why = `${isResult ? "result" : "error"} of submission ${r.token} is missing or stale`;
      this.markFailed(r, why);
      return;
    }
    if (isResult) {
      r.resultText = JSON.stringify(doc.result);
      r.result = decode(r.resultText) as Result;
      r.setState("satisfied");
    } else {
      r.errorText = doc.stderr ?? "";
      r.result = new RunnerFailedError(r.name, r.errorText);
    }
  }

  /** Results in runner order: the value, a RunnerFailedError for failures, undefined when not fetched. */
  get results(): (Result | RunnerFailedError | undefined)[] {
    return this._runners.map((r) => r.result);
  }

  /** Errors in runner order (undefined for runners that did not fail). */
  get errors(): (RunnerFailedError | undefined)[] {
    return this._runners.map((r) => r.error);
  }

  // ---------------------------------------------------------------- maintenance

  /**
   * Resubmit the runners that failed (and only those), as run({ force: true }) would for them, with
   * `temporary` run args. With `dryRun`, print which runners (failed as last known) would be resubmitted
   * and change nothing: no status command, no write.
   */
  async retryFailed(options: RunArgs & DryRunOption = {}): Promise<{ submitted: string[] }> {
    const dry = dryRunOf(options);
    const { dryRun: _dryRun, ...temporary } = options;
    validateRunArgs(temporary, "retryFailed() args");
    if (!dry) await this.refresh();
    const failed = this._runners.filter((r) => r.state === "failed");
    if (dry) {
      for (const r of failed) this.logger(`dry run: would resubmit ${r.name}`);
      return { submitted: failed.map((r) => r.name) };
    }
    if (failed.length === 0) {
      this.log(1, "no failed runners to retry");
      return { submitted: [] };
    }
    this.temporaryRunArgs = { ...temporary };
    try {
      await this.submit(failed);
    } finally {
      this.temporaryRunArgs = {};
    }
    return { submitted: failed.map((r) => r.name) };
  }

  /** Forget every runner's state and result (state `reset`): the next run() submits them again. */
  resetRuns(options: DryRunOption = {}): string[] {
    const dry = dryRunOf(options);
    const names = this._runners
      .filter((r) => r.state !== "created" && r.state !== "reset")
      .map((r) => r.name);
    if (dry) {
      for (const n of names) this.logger(`dry run: would reset ${n}`);
      return names;
    }
    for (const r of this._runners) {
      if (!names.includes(r.name)) continue;
      this.setAsideOldResult(r, this.folder);
      r.token = undefined;
      r.jobId = undefined;
      r.setState("reset");
    }
    this.saveRunners(this._runners.filter((r) => names.includes(r.name)));
    this.log(1, `reset ${names.length} runner(s)`);
    return names;
  }

  /** Remove one runner (by position in `runners` or by name) from the Dataset and its database. */
  removeRun(which: number | string, options: DryRunOption = {}): string {
    const dry = dryRunOf(options);
    const r = typeof which === "number" ? this._runners[which] : this.byName.get(which as string);
    if (!r) {
      throw new InvalidArgumentError(
        "runner",
        which,
        `a position below ${this._runners.length} or a runner name`,
      );
    }
    if (dry) {
      this.logger(`dry run: would remove ${r.name}`);
      return r.name;
    }
    this.forget([r]);
    this.log(1, `removed ${r.name}`);
    return r.name;
  }

  /** Remove every runner from the Dataset and its database (files are left; see wipeLocal/wipeRemote). */
  wipeRuns(options: DryRunOption = {}): string[] {
    const dry = dryRunOf(options);
    const names = this._runners.map((r) => r.name);
    if (dry) {
      for (const n of names) this.logger(`dry run: would remove ${n}`);
      return names;
    }
    this.forget([...this._runners]);
    this.log(1, `removed ${names.length} runner(s)`);
    return names;
  }

  private forget(runners: Runner<Args, Result>[]): void {
    const gone = new Set(runners);
    const all = gone.size === this._runners.length;
    if (all) this.store.clearRunners();
    for (const r of runners) {
      this.byName.delete(r.name);
      if (this.byIdentity.get(r.identity) === r) this.byIdentity.delete(r.identity);
      this.placements.delete(r.name);
      if (!all) this.store.removeRunner(r.index);
    }
    this._runners = this._runners.filter((r) => !gone.has(r));
    for (const r of this._runners) if (!this.byIdentity.has(r.identity)) this.byIdentity.set(r.identity, r);
  }

  /** Every local staging folder of this Dataset. */
  private localFolders(): string[] {
    const roots = new Set<string>([resolve(String(this.runArgs.localDir))]);
    for (const r of this._runners) roots.add(resolve(String(r.derivedRunArgs.localDir)));
    for (const p of this.placements.values()) roots.add(p.localRoot);
    return [...roots].map((root) => resolve(root, this.folder));
  }

  /** Delete the Dataset's staging folder(s) under localDir. */
  wipeLocal(options: DryRunOption = {}): string[] {
    const dry = dryRunOf(options);
    const dirs = this.localFolders().filter((d) => existsSync(d));
    for (const d of dirs) {
      if (dry) this.logger(`dry run: would delete ${d}`);
      else rmSync(d, { recursive: true, force: true });
    }
    return dirs;
  }

  /** Delete the Dataset's folder(s) under remoteDir on the far side, in one command. */
  async wipeRemote(options: DryRunOption = {}): Promise<string[]> {
    const dry = dryRunOf(options);
    const local = this.connection.kind === "local";
    const roots = new Set<string>([String(this.runArgs.remoteDir)]);
    for (const r of this._runners) roots.add(String(r.derivedRunArgs.remoteDir));
    for (const p of this.placements.values()) roots.add(p.remoteRoot);
    const dirs = [...new Set([...roots].map((root) => `${local ? resolve(root) : root}/${this.folder}`))];
    if (dry) {
      for (const d of dirs) this.logger(`dry run: would delete ${this.connection.label}:${d}`);
      return dirs;
    }
    await this.connection.exec(dirs.map((d) => `rm -rf -- ${shellQuote(d)}`).join("\n"));
    return dirs;
  }

  /**
   * Delete everything: local and remote folders, every runner and the database itself. The Dataset
   * object cannot be used afterwards.
   */
  async hardReset(options: DryRunOption = {}): Promise<void> {
    const dry = dryRunOf(options);
    this.wipeLocal(options);
    await this.wipeRemote(options);
    if (dry) {
      this.wipeRuns(options);
      this.logger(`dry run: would delete the database ${this.store.snapshotFile}`);
      return;
    }
    this.forget([...this._runners]);
    this.store.destroy();
    this.store.close();
    this.log(1, `hard reset of ${this.name}: files, runners and database deleted`);
  }

  // ---------------------------------------------------------------- persistence

  private meta(): DatasetMeta {
    const meta: DatasetMeta = {
      runArgs: this.runArgs,
      nextIndex: this.nextIndex,
      functionSource: this.functionSource,
      connection: this.connection.toJSON(),
    };
    if (this.computer) meta.computer = this.computer.toJSON();
    return meta;
  }

  private records(): StoredRunner[] {
    return this._runners.map((r) => this.record(r));
  }

  private record(r: Runner<Args, Result>): StoredRunner {
    const rec: StoredRunner = r.toRecord();
    const p = this.placements.get(r.name);
    if (p) rec.placement = p;
    return rec;
  }

  private saveRunners(runners: Runner<Args, Result>[]): void {
    if (runners.length) this.store.putRunners(runners.map((r) => this.record(r)));
  }

  private saveMeta(): void {
    validateRunArgs(this.runArgs, "Dataset run args");
    this.store.putMeta(this.meta());
  }

  /** Save everything now (run args changed by direct mutation, runner run args...). */
  save(): void {
    this.flush();
    this.store.writeSnapshot({
      identity: this.identity,
      name: this.name,
      meta: this.meta(),
      runners: this.records(),
    });
  }

  /** Save, release the database lock and close the connection if this Dataset made it. */
  async close(): Promise<void> {
    this.save();
    this.store.close();
  }

  private log(level: number, message: string): void {
    if (this.verbosity >= level) this.logger(message);
  }
}

/** Equal stored settings (nextIndex aside: it is derived from the runners on restore). */
function sameSettings(stored: DatasetMeta, current: DatasetMeta): boolean {
  const { nextIndex: _a, ...a } = stored;
  const { nextIndex: _b, ...b } = current;
  return canonicalJson(a) === canonicalJson(b);
}

function verbosityOf(v: unknown): number {
  if (v === undefined) return 1;
  if (v === true) return 2;
  if (v === false) return 0;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  throw new InvalidArgumentError("verbose", v, "a boolean or a whole number >= 0");
}

function isConnection(c: unknown): c is Connection {
  const o = c as Connection;
  return (
    !!o &&
    typeof o === "object" &&
    typeof o.exec === "function" &&
    typeof o.push === "function" &&
    typeof o.pull === "function"
  );
}

/** Turn a stored connection description back into connect() options. */
function connectOptionsOf(spec: ConnectionSpec): ConnectOptions {
  if (spec.kind === "local") return spec.node ? { kind: "local", node: spec.node } : { kind: "local" };
  const { kind: _kind, transport, ...rest } = spec;
  return {
    kind: "ssh",
    ...rest,
    host: spec.host ?? "localhost",
    ...(transport && transport !== "cp" ? { transport } : {}),
  } as ConnectOptions;
}

export interface DryRunOption {
  /** Print what would happen and change nothing. */
  dryRun?: boolean;
}

function dryRunOf(options: DryRunOption): boolean {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("options", options, "an object");
  if (options.dryRun !== undefined && typeof options.dryRun !== "boolean") {
    throw new InvalidArgumentError("dryRun", options.dryRun, "a boolean");
  }
  return options.dryRun === true;
}

interface FetchedDoc {
  token?: string;
  name?: string;
  result?: unknown;
  stderr?: string;
}

function parseDoc(text: string): FetchedDoc | undefined {
  try {
    const doc = JSON.parse(text) as FetchedDoc;
    return doc && typeof doc === "object" ? doc : undefined;
  } catch {
    return undefined;
  }
}

/** Write many small files with bounded parallelism (thousands of results come back at once). */
async function writeFilesParallel(dir: string, files: [string, string][]): Promise<void> {
  if (files.length === 0) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const [file, text] = files[next++];
      await writeFile(file, text, { mode: 0o600 });
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, files.length) }, lane));
}
