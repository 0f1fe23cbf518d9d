import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { Computer } from "../computer/index.js";
import { linkedNames } from "../computer/names.js";
import type { Template } from "../computer/template.js";
import type { Connection } from "../connection/types.js";
import type { Serializer } from "../remote/serial.mjs";
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
  type RunnerState,
  runnerIdentity,
} from "../runner/index.js";
import {
  DatabaseError,
  DatasetClosedError,
  InvalidArgumentError,
  type RunnerFailedError,
} from "../shared/errors.js";
import { hashOf } from "../shared/hash.js";
import { localPath, remoteHomePath } from "../shared/paths.js";
import { shellQuote } from "../shared/quote.js";
import { checkOptionKeys } from "../shared/suggest.js";
import { DatasetStore } from "../store/index.js";
import type { ParamFacts } from "./analyse.js";
import { normalisedSource } from "./bundle.js";
import { type DryRun, DryRunRecorder, dryRunSummary, type RunResult } from "./dryrun.js";
import { fetchFinished, setAsideOldResult } from "./fetch.js";
import { checkArgsAgainst, type Fn, type FunctionModule, fromSource, shippedFunction } from "./function.js";
import type { Follower, SubmissionHost } from "./internals.js";
import { settleLaunches } from "./launch.js";
import { datasetFolder, isValidName } from "./layout.js";
import {
  APPEND_RUNS_OWN_KEYS,
  type AppendOptions,
  DATASET_OWN_KEYS,
  type DatasetOptions,
  FETCH_KEYS,
  type FetchOptions,
  type Logger,
  OPEN_KEYS,
  type OpenOptions,
  splitOptions,
  type WaitOptions,
} from "./options.js";
import type { UpstreamSubmission } from "./plans.js";
import { type WaitProgress, waitProgress } from "./progress.js";
import {
  DATABASE_VALIDATOR,
  type DatasetMeta,
  type InspectedDatabase,
  inspectDatabase,
  type Placement,
  type StoredRunner,
  sameSettings,
  storedDataset,
} from "./records.js";
import { sharedOutputFolders } from "./recv.js";
import { checkScriptArgs, parseScript, resultOption, type ScriptResult } from "./script.js";
import { driverSerializer, type SerializerName } from "./serializer.js";
import type { MasterLiveness } from "./status.js";
import { submit } from "./submission.js";
import { cancel, refresh, waitUntil } from "./tracking.js";
import { appendInput, type DryRunOption, datasetSettings, dryRunOf, runArgNamesOf } from "./validate.js";

export type { DryRun, DryRunSubmission, RunResult } from "./dryrun.js";
export type { DryRunOption } from "./validate.js";

/**
 * A function (or, with the `script` option, a bash script) plus many runs of it. Runs are staged, transferred, submitted, tracked and fetched in
 * a constant number of commands per phase, and everything is kept in a database so that a new
 * process picks up where the last one stopped.
 */
export class Dataset<Args extends object = Record<string, unknown>, Result = unknown> {
  readonly name: string;
  /** Hash of the function source (or the script) and the name. */
  readonly identity: string;
  /** Dataset-level run args; mutate freely or use setRunArgs/updateRunArgs. */
  runArgs: RunArgs;
  /** Temporary args of the run() in progress; empty otherwise. */
  temporaryRunArgs: RunArgs = {};
  readonly connection: Connection;
  /** How jobs are scripted and submitted; undefined = no scheduler (runs start right away). */
  readonly computer: Computer | undefined;
  readonly dbFile: string;
  /** How args and results are encoded (the `serializer` option; part of the identity unless "json"). */
  readonly serializer: SerializerName;
  private readonly codec: Serializer;
  /** v8 Datasets: each runner's args in wire form (base64), as the database keeps them. */
  private readonly argsV8 = new WeakMap<Runner<Args, Result>, string>();
  private readonly downstream: Dataset<Record<string, unknown>, unknown>[] = [];
  readonly extraFilesSend: readonly string[];
  private readonly functionSource: string;
  /** The function's parameters as analysed (for the one-args-object check at append). */
  private readonly params: ParamFacts | undefined;
  /** The script of a script Dataset (then functionSource is ""). */
  readonly script: string | undefined;
  /** A script Dataset's result file and its format (the `resultFile` option); else the result is stdout. */
  readonly scriptResult: ScriptResult | undefined;
  private readonly template: Template | undefined;
  private readonly verbosity: number;
  private readonly logger: Logger;
  private readonly store: DatasetStore<DatasetMeta, StoredRunner>;
  private readonly ownsConnection: boolean;
  private _runners: Runner<Args, Result>[] = [];
  /** Lookups that keep appends O(1) however many runners there are. */
  private readonly byName = new Map<string, Runner<Args, Result>>();
  private readonly byIdentity = new Map<string, Runner<Args, Result>>();
  private readonly placements = new Map<string, Placement>();
  /** What the last status command found of the masters of in-flight submissions (no scheduler). */
  private readonly masters = new Map<string, MasterLiveness>();
  private nextIndex = 0;
  private lazySummary: { appended: number; skipped: number; forced: number } | undefined;
  /** Whether this Dataset was restored from an existing database. */
  readonly restored: boolean;
  /** What the submission, tracking and fetching modules see of this Dataset (see makeInternals). */
  private readonly internals: SubmissionHost<Args, Result>;
  /**
   * The working folder when this object was made: relative localDir (and remoteDir on a local
   * connection) of the Dataset level resolve against it, whatever `process.chdir` happens later.
   */
  private readonly baseDir: string;
  /** The run-arg names remoterun and the Computer's template read (typo checks, unused warning). */
  private readonly runArgNames: ReadonlySet<string>;
  /** Run args already named as unused, so that each is named once. */
  private readonly warnedUnused = new Set<string>();
  private warnedSharedOutputs = false;
  /** The hints `results`/`errors` gave already (runners in flight, results not fetched). */
  private readonly hinted = new Set<"running" | "unfetched">();

  /**
   * `new Dataset(fn, options)`, or `new Dataset(undefined, { script, ... })` for a script Dataset
   * (exactly one of the two).
   */
  constructor(fn: Fn<Args, Result> | FunctionModule | null | undefined, options: DatasetOptions = {}) {
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new InvalidArgumentError("Dataset options", options, "an object");
    }
    // Option typos are refused before anything else happens (no connection, no database).
    this.runArgNames = runArgNamesOf(options.computer instanceof Computer ? options.computer : undefined);
    checkOptionKeys("Dataset", options, { own: DATASET_OWN_KEYS, runArgs: this.runArgNames });
    this.baseDir = process.cwd();
    let legacyIdentity: string | undefined;
    if (fn === undefined || fn === null) {
      if (options.script === undefined)
        throw new InvalidArgumentError("function", fn, "a function, or the `script` option with no function");
      this.template = parseScript(options.script);
      this.script = options.script;
      this.functionSource = "";
      this.params = undefined;
    } else {
      if (options.script !== undefined)
        throw new InvalidArgumentError(
          "script",
          options.script,
          "no script when a function is given (give undefined as the function for a script Dataset)",
        );
      const shipped = shippedFunction(fn);
      this.functionSource = shipped.source;
      this.params = shipped.params;
      legacyIdentity = shipped.identity;
      this.script = undefined;
      this.template = undefined;
    }
    this.scriptResult = resultOption(options.resultFile, options.resultFormat, this.script !== undefined);
    const { own, runArgs } = splitOptions(options, DATASET_OWN_KEYS);
    const {
      name,
      verbosity,
      logger,
      connection,
      ownsConnection,
      computer,
      extraFilesSend,
      dbDir,
      serializer,
    } = datasetSettings(own, runArgs);
    this.serializer = serializer;
    this.codec = driverSerializer(serializer);
    this.verbosity = verbosity;
    this.logger = logger;
    this.connection = connection;
    this.ownsConnection = ownsConnection;
    this.computer = computer;
    this.extraFilesSend = extraFilesSend;
    this.name = name;
    this.identity =
      legacyIdentity ??
      datasetIdentity(name, this.script, this.functionSource, serializer, this.scriptResult);
    this.internals = this.makeInternals();
    try {
      mkdirSync(dbDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new InvalidArgumentError(
        "dbDir",
        dbDir,
        `a folder that exists or can be made (${(e as Error).message})`,
      );
    }
    this.dbFile = resolve(dbDir, `${datasetFolder(name, this.identity)}.remoterun`);
    const { store, state, deleted } = DatasetStore.open<DatasetMeta, StoredRunner>(
      this.dbFile,
      this.identity,
      { fresh: own.skip === false, validate: DATABASE_VALIDATOR },
    );
    if (deleted)
      this.log(
        1,
        `skip: false: the earlier database of ${name} (${basename(this.dbFile)}.json) was deleted with its runners and results; starting afresh`,
      );
    this.store = store;
    this.runArgs = { ...defaultRunArgs(), ...runArgs };
    this.restored = state !== null;
    if (state) {
      // The code that created this object is the source of truth for run args given to it now.
      this.runArgs = { ...state.meta.runArgs, ...runArgs };
      this.nextIndex = state.runners.reduce((n, r) => Math.max(n, r.index + 1), state.meta.nextIndex);
      try {
        for (const rec of state.runners) this.adopt(rec);
      } catch (e) {
        store.close(); // a database that cannot be restored is left as it was, and unlocked
        throw e;
      }
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
    } else {
      this.store.writeSnapshot({ identity: this.identity, name, meta: this.meta(), runners: this.records() });
      this.noteOtherDatabases(dbDir);
    }
  }

  /** A new database beside one of the same name: its function (or script) differs. Say so once. */
  private noteOtherDatabases(dbDir: string): void {
    if (this.verbosity < 1) return;
    const mine = basename(this.dbFile);
    let others: string[];
    try {
      others = readdirSync(dbDir).filter((f) => {
        if (!f.startsWith(`${this.name}-`) || !f.endsWith(".remoterun.json")) return false;
        const id = f.slice(this.name.length + 1, -".remoterun.json".length);
        return id.length === 8 && `${this.name}-${id}.remoterun` !== mine && isShortId(id);
      });
    } catch {
      return;
    }
    if (others.length === 0) return;
    const what = this.script !== undefined ? "script" : "function";
    // The most recently written first: the one a user editing the function most likely means.
    const written = (f: string) => {
      try {
        return statSync(f).mtimeMs;
      } catch {
        return 0;
      }
    };
    const files = others
      .map((f) => resolve(dbDir, f))
      .map((f) => ({ f, t: written(f) }))
      .sort((a, b) => b.t - a.t)
      .map(({ f }) => f);
    this.log(
      1,
      `another database of Dataset ${this.name} exists (${files.join(", ")}), made with another ${what}: this ${what} differs, so this is a new Dataset. To go on with the other, open it with Dataset.open(${JSON.stringify(files[0])}), or remove it`,
    );
  }

  /**
   * Read a database without opening (or locking) its Dataset: the states as last recorded by
   * whichever process holds it. For status displays next to a running script.
   */
  static inspect(dbFile: string): InspectedDatabase {
    return inspectDatabase(dbFile);
  }

  /**
   * Open the Dataset stored in a database file (`<name>-<id>.remoterun.json`, with or without the
   * `.json`) without the code that created it: the function, run args, connection and Computer come
   * from the database. `options` may override the connection, logger and verbosity.
   */
  static open<Args extends object = Record<string, unknown>, Result = unknown>(
    dbFile: string,
    options: OpenOptions = {},
  ): Dataset<Args, Result> {
    if (options === null || typeof options !== "object" || Array.isArray(options))
      throw new InvalidArgumentError("Dataset.open() options", options, "an object");
    checkOptionKeys("Dataset.open()", options, { own: OPEN_KEYS, runArgs: false });
    const stored = storedDataset(dbFile, options);
    // Checked before anything is opened: a database whose function or script was edited would
    // otherwise open (and create) the database of another Dataset beside it.
    const found = datasetIdentity(
      String(stored.options.name),
      stored.options.script,
      stored.functionSource ?? "",
      stored.options.serializer ?? "json",
      resultOption(
        stored.options.resultFile,
        stored.options.resultFormat,
        stored.options.script !== undefined,
      ),
    );
    // Databases made before identities hashed the normalised function keep the identity they have.
    const legacy =
      found !== stored.identity &&
      stored.functionSource !== undefined &&
      hashOf({ function: stored.functionSource, name: String(stored.options.name) }) === stored.identity;
    if (found !== stored.identity && !legacy) {
      throw new DatabaseError(
        String(dbFile),
        `records identity ${stored.identity.slice(0, 12)} but its ${stored.options.script !== undefined ? "script" : "function"} and name hash to ${found.slice(0, 12)}: the database was edited; expected them unchanged`,
      );
    }
    // The identity was checked above, from the same name and source the Dataset hashes.
    return new Dataset<Args, Result>(
      stored.functionSource === undefined
        ? undefined
        : fromSource<Args, Result>(stored.functionSource, legacy ? stored.identity : undefined),
      stored.options,
    );
  }

  // ---------------------------------------------------------------- run args

  setRunArgs(keys: string | string[], vals: unknown): void {
    this.assertOpen();
    setRunArgsOn(this.runArgs, "Dataset run args", keys, vals);
    this.saveMeta();
  }

  updateRunArgs(update: Record<string, unknown>): void {
    this.assertOpen();
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
    this.assertOpen();
    const { runner } = this.appendOne(args, options);
    if (!options?.lazy) this.flush();
    return runner;
  }

  /** Append many runs with one database write and one summary line. */
  appendRuns(
    list: readonly Args[],
    options: Omit<AppendOptions, "name" | "lazy"> = {},
  ): Runner<Args, Result>[] {
    this.assertOpen();
    if (!Array.isArray(list))
      throw new InvalidArgumentError("appendRuns list", list, "an array of args objects");
    if (options === null || typeof options !== "object" || Array.isArray(options))
      throw new InvalidArgumentError("appendRuns options", options, "an object");
    for (const key of ["name", "lazy"])
      if (key in options)
        throw new InvalidArgumentError(
          "appendRuns option",
          key,
          "an option of appendRuns (skip, force, quiet) or a run arg",
          "appendRuns names each runner and writes them at once: use appendRun for these",
        );
    checkOptionKeys("appendRuns", options, { own: APPEND_RUNS_OWN_KEYS, runArgs: this.runArgNames });
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
    const { own, runArgs, wireArgs } = appendInput(args, options, this.runArgNames, this.codec);
    // appendInput checked that args is a plain object.
    const plain = args as Record<string, unknown>;
    if (this.template) checkScriptArgs(plain);
    else checkArgsAgainst(this.params, plain);
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
    const identity = runnerIdentity(plain, derived, this.identity);
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
      identity: decision === "force" ? runnerIdentity(plain, derived, this.identity, index) : identity,
      // A copy through the wire form: what the function will see, safe from later changes by the caller.
      args: this.codec.fromWire(wireArgs) as Record<string, unknown>,
      // Hashed as given above; kept with local paths pinned to the working folder of this call.
      runArgs: this.pinned(runArgs),
      state: "created",
      stateTime: Date.now(),
    };
    this.nextIndex = index + 1;
    const runner = this.adopt(rec);
    if (this.serializer === "v8") this.argsV8.set(runner, wireArgs as string);
    this.pendingWrites.push(this.record(runner));
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
    let runner: Runner<Args, Result>;
    let args: Record<string, unknown>;
    try {
      args =
        rec.argsV8 !== undefined ? (this.codec.fromWire(rec.argsV8) as Record<string, unknown>) : rec.args;
    } catch (e) {
      throw new DatabaseError(
        `${this.dbFile}.json`,
        `runner ${rec.name} (index ${rec.index}): its args are not readable, expected the ${this.serializer} serializer's form of an object`,
        { cause: e },
      );
    }
    try {
      runner = new Runner<Args, Result>(this, { ...rec, args }, (t) => this.codec.fromWire(JSON.parse(t)));
    } catch (e) {
      throw new DatabaseError(
        `${this.dbFile}.json`,
        `runner ${rec.name} (index ${rec.index}): its result is not readable, expected the ${this.serializer} serializer's form of a value`,
        { cause: e },
      );
    }
    if (rec.argsV8 !== undefined) this.argsV8.set(runner, rec.argsV8);
    this._runners.push(runner);
    this.byName.set(runner.name, runner);
    if (!this.byIdentity.has(runner.identity)) this.byIdentity.set(runner.identity, runner);
    if (rec.placement) this.placements.set(rec.name, rec.placement);
    return runner;
  }

  /** Forget the runners after the first `n` (undoing a failed bulk append). */
  private truncateRunners(n: number): void {
    for (const r of this._runners.splice(n)) this.unindex(r);
  }

  /** Drop a runner from the lookups (not from the list). */
  private unindex(r: Runner<Args, Result>): void {
    this.byName.delete(r.name);
    if (this.byIdentity.get(r.identity) === r) this.byIdentity.delete(r.identity);
    this.placements.delete(r.name);
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
    if (this.script !== undefined || next.script !== undefined) {
      throw new InvalidArgumentError(
        "downstream dataset",
        next.name,
        "a dependency between function Datasets (script Datasets cannot be chained)",
      );
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
   *
   * With `dryRun: true`, do everything up to the submission (choose the runners, render the job
   * scripts, master script, launch script and submit commands, list the transfer) into
   * `<localDir>/<Dataset folder>/dry-run-<token>/`, print a summary, and return it as `dryRun`: nothing
   * is transferred, submitted or recorded, and the far side is not contacted (the runners are chosen
   * from their states as last recorded). Downstream Datasets are included.
   */
  async run(options: RunArgs & { dryRun: true }): Promise<RunResult & { dryRun: DryRun }>;
  async run(options?: RunArgs & DryRunOption): Promise<RunResult>;
  async run(options: RunArgs & DryRunOption = {}): Promise<RunResult> {
    this.assertOpen();
    return this.exclusive(() => this.runNow(options));
  }

  private async runNow(options: RunArgs & DryRunOption): Promise<RunResult> {
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new InvalidArgumentError("run args", options, "an object of run args");
    }
    const dry = dryRunOf(options, "run()", this.runArgNames);
    const { dryRun: _dryRun, ...temporary } = options;
    validateRunArgs(temporary, "run() args");
    // A dry run writes nothing to the database: appends still pending stay pending.
    if (!dry) this.flush();
    this.temporaryRunArgs = this.pinned(temporary);
    try {
      for (const r of this._runners) validateRunArgs(r.derivedRunArgs, `${r.name} derived run args`);
      if (!dry) {
        await settleLaunches(this.internals);
        if (this._runners.some((r) => isInFlightState(r.state))) await this.refresh();
      }
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
      this.warnUnusedRunArgs(submit);
      this.warnSharedOutputs(submit);
      if (dry) return await this.dryRun(submit, skipped);
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

  /** The dry run of a submission of these runners: rendered, written under localDir, summarised. */
  private async dryRun(
    runners: Runner<Args, Result>[],
    skipped: string[],
  ): Promise<RunResult & { dryRun: DryRun }> {
    const recorder = new DryRunRecorder();
    if (runners.length) await this.submit(runners, undefined, recorder);
    const dryRun: DryRun = { runners: runners.map((r) => r.name), submissions: recorder.submissions };
    if (this.verbosity >= 1)
      for (const line of dryRunSummary(this.name, dryRun, skipped.length, this.verbosity >= 2))
        this.logger(line);
    return { submitted: [], skipped, dryRun };
  }

  /** Say once (verbose >= 1) when runners with output files share a folder on the far side. */
  private warnSharedOutputs(runners: readonly Runner<Args, Result>[]): void {
    if (this.verbosity < 1 || this.warnedSharedOutputs) return;
    const shared = sharedOutputFolders(runners, this.name);
    if (shared.length === 0) return;
    this.warnedSharedOutputs = true;
    const [dir, n] = shared[0];
    this.log(
      1,
      `${n} runners with extraFilesRecv work in the same folder (${dir === "." ? "remoteDir" : `runDir ${dir}`}): output files of the same name overwrite each other there; give each runner its own folder, e.g. runDir: "{name}"`,
    );
  }

  /**
   * Name once (verbose >= 1) the run args of these runners that neither remoterun nor the
   * Computer's template reads: most likely misspelt.
   */
  private warnUnusedRunArgs(runners: readonly Runner<Args, Result>[]): void {
    if (this.verbosity < 1) return;
    const unused = new Set<string>();
    const linked = new Set<string>();
    // The call's own run args count even when it submits nothing.
    const given = [this.temporaryRunArgs, ...runners.map((r) => r.derivedRunArgs)];
    for (const args of given) {
      for (const [key, value] of Object.entries(args)) {
        if (!this.runArgNames.has(key) && !this.warnedUnused.has(key)) unused.add(key);
        if (this.computer) for (const n of linkedNames(value)) linked.add(n);
      }
    }
    for (const n of linked) unused.delete(n);
    if (unused.size === 0) return;
    for (const key of unused) this.warnedUnused.add(key);
    const names = [...unused].join(", ");
    const why = this.computer
      ? `the Computer's template (${this.computer.name})`
      : "a Computer's template (no Computer is set)";
    this.log(1, `run arg(s) ${names} are not used by remoterun or ${why}: check the spelling`);
  }

  /**
   * A copy of run args with the local paths among them made absolute from the working folder now
   * (`~` is the local home): localDir, and remoteDir on a local connection.
   */
  private pinned(runArgs: RunArgs): RunArgs {
    const out: RunArgs = { ...runArgs };
    if (typeof out.localDir === "string") out.localDir = localPath(out.localDir, "localDir");
    if (typeof out.remoteDir === "string" && this.connection.kind === "local")
      out.remoteDir = localPath(out.remoteDir, "remoteDir");
    return out;
  }

  /** The absolute local folder of a localDir run arg: `~` is the local home, relative is from baseDir. */
  private localRoot(dir: unknown): string {
    return localPath(String(dir), "localDir", this.baseDir);
  }

  /**
   * The remote folder of a remoteDir run arg: on a local connection an absolute path as for localDir;
   * over SSH absolute or relative to the remote home (`~/x` is `x`), where every command and transfer
   * starts.
   */
  private remoteRoot(dir: unknown): string {
    return this.connection.kind === "local"
      ? localPath(String(dir), "remoteDir", this.baseDir)
      : remoteHomePath(String(dir), "remoteDir");
  }

  private submit(
    runners: Runner<Args, Result>[],
    upstream?: UpstreamSubmission,
    dry?: DryRunRecorder,
  ): Promise<void> {
    return submit(this.internals, runners, upstream, dry);
  }

  /** This Dataset as a submission of its upstream sees it. */
  private asFollower(): Follower {
    const ds = this as unknown as Dataset<Record<string, unknown>, unknown>;
    return {
      name: this.name,
      folder: this.folder,
      remoteRoot: this.remoteRoot(this.runArgs.remoteDir),
      runners: ds.runners,
      submit: (runners, upstream, dry) => ds.submit(runners, upstream, dry),
      started: (runners, jobId) => {
        const now = Date.now();
        for (const r of runners) {
          r.jobId = jobId;
          r.setState(jobId === undefined ? "created" : "submitted", now);
        }
        ds.saveRunners(runners);
        if (jobId !== undefined)
          ds.log(1, `submitted ${runners.length} runner(s) of ${ds.name} after their upstream runners`);
      },
    };
  }

  /** The live view of this Dataset that the submission, tracking and fetching modules work on. */
  private makeInternals(): SubmissionHost<Args, Result> {
    const runners = () => this._runners;
    const downstream = () => this.downstream.map((ds) => ds.asFollower());
    return {
      name: this.name,
      folder: this.folder,
      connection: this.connection,
      scheduler: this.scheduler,
      script: this.template,
      ...(this.scriptResult ? { scriptResult: this.scriptResult } : {}),
      functionSource: this.functionSource,
      codec: this.codec,
      extraFilesSend: this.extraFilesSend,
      placements: this.placements,
      unreported: new Map(),
      liveness: this.masters,
      get runners() {
        return runners();
      },
      get downstream() {
        return downstream();
      },
      saveRunners: (rs) => this.saveRunners(rs),
      log: (level, message) => this.log(level, message),
      localRoot: (dir) => this.localRoot(dir),
      remoteRoot: (dir) => this.remoteRoot(dir),
    };
  }

  // ---------------------------------------------------------------- tracking

  /** Settle launches a stopped process left unknown, then read the state of in-flight runners. */
  private async refresh(): Promise<void> {
    await settleLaunches(this.internals);
    await refresh(this.internals);
  }

  /**
   * Stop every in-flight runner: one scheduler cancel (or one kill of the master process groups)
   * for all of them. Cancelled runners are marked failed. Returns the names cancelled.
   */
  async cancel(): Promise<string[]> {
    this.assertOpen();
    return this.exclusive(() => this.cancelNow());
  }

  private async cancelNow(): Promise<string[]> {
    await settleLaunches(this.internals);
    return cancel(this.internals);
  }

  /**
   * Without a scheduler: what the last status command (isFinished, allFinished, wait, fetchResults)
   * found of the master process of each submission that had runners in flight, one entry per
   * submission and remote folder. A master `gone` (or a folder removed) fails the runners it leaves
   * without a final state, with the reason and the tail of the submission log.
   */
  get liveness(): readonly MasterLiveness[] {
    return [...this.masters.values()];
  }

  /** For every runner: has it finished (completed, failed or fetched)? One remote command. */
  async isFinished(): Promise<boolean[]> {
    this.assertOpen();
    return this.exclusive(() => this.isFinishedNow());
  }

  private async isFinishedNow(): Promise<boolean[]> {
    await this.refresh();
    return this._runners.map((r) => isFinishedState(r.state));
  }

  /** True when no runner is in flight (nothing submitted is still pending). */
  async allFinished(): Promise<boolean> {
    this.assertOpen();
    return this.exclusive(() => this.allFinishedNow());
  }

  private async allFinishedNow(): Promise<boolean> {
    await this.refresh();
    return !this._runners.some((r) => isInFlightState(r.state));
  }

  /** Poll until every submitted runner has finished; WaitTimeoutError after `timeout` seconds. */
  async wait(options: WaitOptions = {}): Promise<void> {
    const progress = waitProgress((options as WaitOptions | null)?.progress, this.verbosity, this.name);
    this.progress = progress;
    try {
      await waitUntil(
        async () => {
          const done = await this.allFinished();
          progress?.update(this._runners);
          return done;
        },
        () => this._runners.filter((r) => isInFlightState(r.state)).map((r) => r.name),
        options,
      );
    } finally {
      progress?.stop();
      if (this.progress === progress) this.progress = undefined;
    }
  }

  /**
   * Bring back results and errors of every finished runner not yet fetched: one transfer per
   * folder. Results are accepted only if they carry the token of the runner's current submission.
  /**
   * Bring back results and errors of every finished runner not yet fetched: one transfer per
   * folder. Results are accepted only if they carry the token of the runner's current submission.
   */
  async fetchResults(options: FetchOptions = {}): Promise<(Result | RunnerFailedError | undefined)[]> {
    this.assertOpen();
    return this.exclusive(() => this.fetchNow(options));
  }

  private async fetchNow(options: FetchOptions): Promise<(Result | RunnerFailedError | undefined)[]> {
    if (options === null || typeof options !== "object" || Array.isArray(options))
      throw new InvalidArgumentError("fetchResults() options", options, "an object");
    checkOptionKeys("fetchResults()", options, { own: FETCH_KEYS, runArgs: false });
    await settleLaunches(this.internals);
    await fetchFinished(this.internals);
    return this._runners.map((r) => r.result);
  }

  /**
   * Results in runner order: the value, a RunnerFailedError for failures, undefined when not fetched.
   * Read while runners are in flight or finished but not fetched, it says so once (verbose >= 1).
   */
  get results(): (Result | RunnerFailedError | undefined)[] {
    this.hintUnfetched();
    return this._runners.map((r) => r.result);
  }

  /** Errors in runner order (undefined for runners that did not fail); hints as `results` does. */
  get errors(): (RunnerFailedError | undefined)[] {
    this.hintUnfetched();
    return this._runners.map((r) => r.error);
  }

  /**
   * The hint of `results`/`errors`: how many runners are in flight or finished with nothing fetched,
   * as last known (no remote command). Each condition is named once per Dataset object.
   */
  private hintUnfetched(): void {
    if (this.verbosity < 1 || this.hinted.size === 2) return;
    let running = 0;
    let unfetched = 0;
    for (const r of this._runners) {
      const s: RunnerState = r.state;
      if (s === "staged" || s === "transferred" || isInFlightState(s)) running++;
      else if (s === "completed" || (s === "failed" && r.result === undefined)) unfetched++;
    }
    const parts: string[] = [];
    if (running && !this.hinted.has("running")) {
      this.hinted.add("running");
      parts.push(`${running} runner(s) are still running (as last checked)`);
    }
    if (unfetched && !this.hinted.has("unfetched")) {
      this.hinted.add("unfetched");
      parts.push(`${unfetched} runner(s) finished but their results are not fetched`);
    }
    if (parts.length === 0) return;
    const advice = running ? "call wait() then fetchResults()" : "call fetchResults()";
    this.log(1, `${parts.join(" and ")}: ${advice} (their results read undefined until then)`);
  }

  // ---------------------------------------------------------------- maintenance

  /**
   * Resubmit the runners that failed (and only those), as run({ force: true }) would for them, with
   * `temporary` run args. With `dryRun`, print which runners (failed as last known) would be resubmitted
   * and change nothing: no status command, no write.
   */
  async retryFailed(options: RunArgs & DryRunOption = {}): Promise<{ submitted: string[] }> {
    this.assertOpen();
    return this.exclusive(() => this.retryNow(options));
  }

  private async retryNow(options: RunArgs & DryRunOption): Promise<{ submitted: string[] }> {
    const dry = dryRunOf(options, "retryFailed()", this.runArgNames);
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
    this.temporaryRunArgs = this.pinned(temporary);
    try {
      this.warnUnusedRunArgs(failed);
      await this.submit(failed);
    } finally {
      this.temporaryRunArgs = {};
    }
    return { submitted: failed.map((r) => r.name) };
  }

  /** Forget every runner's state and result (state `reset`): the next run() submits them again. */
  resetRuns(options: DryRunOption = {}): string[] {
    this.assertOpen();
    const dry = dryRunOf(options, "resetRuns()");
    const names = this._runners
      .filter((r) => r.state !== "created" && r.state !== "reset")
      .map((r) => r.name);
    if (dry) {
      for (const n of names) this.logger(`dry run: would reset ${n}`);
      return names;
    }
    for (const r of this._runners) {
      if (!names.includes(r.name)) continue;
      setAsideOldResult(r, this.placements.get(r.name), this.folder);
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
    this.assertOpen();
    const dry = dryRunOf(options, "removeRun()");
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
    this.assertOpen();
    const dry = dryRunOf(options, "wipeRuns()");
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
    for (const r of runners) this.unindex(r);
    this._runners = this._runners.filter((r) => !gone.has(r));
    for (const r of this._runners) if (!this.byIdentity.has(r.identity)) this.byIdentity.set(r.identity, r);
    // Written once the runners are gone from memory: a compaction the write sets off saves the rest.
    if (all) this.store.clearRunners();
    else for (const r of runners) this.store.removeRunner(r.index);
  }

  /** Every local staging folder of this Dataset. */
  private localFolders(): string[] {
    const roots = new Set<string>([this.localRoot(this.runArgs.localDir)]);
    for (const r of this._runners) roots.add(this.localRoot(r.derivedRunArgs.localDir));
    for (const p of this.placements.values()) roots.add(p.localRoot);
    return [...roots].map((root) => resolve(root, this.folder));
  }

  /** Delete the Dataset's staging folder(s) under localDir. */
  wipeLocal(options: DryRunOption = {}): string[] {
    const dry = dryRunOf(options, "wipeLocal()");
    const dirs = this.localFolders().filter((d) => existsSync(d));
    for (const d of dirs) {
      if (dry) this.logger(`dry run: would delete ${d}`);
      else rmSync(d, { recursive: true, force: true });
    }
    return dirs;
  }

  /** Delete the Dataset's folder(s) under remoteDir on the far side, in one command. */
  async wipeRemote(options: DryRunOption = {}): Promise<string[]> {
    const dry = dryRunOf(options, "wipeRemote()");
    const roots = new Set<string>([this.remoteRoot(this.runArgs.remoteDir)]);
    for (const r of this._runners) roots.add(this.remoteRoot(r.derivedRunArgs.remoteDir));
    for (const p of this.placements.values()) roots.add(this.remoteRoot(p.remoteRoot));
    const dirs = [...new Set([...roots].map((root) => `${root}/${this.folder}`))];
    if (dry) {
      for (const d of dirs) this.logger(`dry run: would delete ${this.connection.label}:${d}`);
      return dirs;
    }
    await this.connection.exec(dirs.map((d) => `rm -rf -- ${shellQuote(d)}`).join("\n"));
    return dirs;
  }

  /**
   * Delete everything: local and remote folders, every runner and the database itself. Runners in
   * flight (as last known) are cancelled first, so that no orphan keeps running (or writes into a
   * folder made anew). The Dataset object cannot be used afterwards.
   */
  async hardReset(options: DryRunOption = {}): Promise<void> {
    const dry = dryRunOf(options, "hardReset()");
    const inFlight = this._runners.filter((r) => r.state === "transferred" || isInFlightState(r.state));
    if (inFlight.length) {
      if (dry) this.logger(`dry run: would cancel ${inFlight.length} runner(s) in flight first`);
      else await this.cancelNow();
    }
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
      ...(this.script !== undefined ? { script: this.script } : { functionSource: this.functionSource }),
      connection: this.connection.toJSON(),
    };
    if (this.scriptResult) {
      meta.resultFile = this.scriptResult.file;
      meta.resultFormat = this.scriptResult.format;
    }
    if (this.computer) meta.computer = this.computer.toJSON();
    // Absent for json, so that the databases of json Datasets stay as they always were.
    if (this.serializer !== "json") meta.serializer = this.serializer;
    return meta;
  }

  private records(): StoredRunner[] {
    return this._runners.map((r) => this.record(r));
  }

  private record(r: Runner<Args, Result>): StoredRunner {
    let rec: StoredRunner = r.toRecord();
    if (this.serializer === "v8") {
      // The database's tagged JSON cannot hold all that v8 carries: the args stay in their wire form.
      let wire = this.argsV8.get(r);
      if (wire === undefined) {
        wire = this.codec.toWire(r.args, `${r.name} args`) as string;
        this.argsV8.set(r, wire);
      }
      const { args: _args, ...rest } = rec;
      rec = { ...rest, argsV8: wire } as StoredRunner;
    }
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
    // After hardReset(), or once a newer Dataset took the same database, there is nothing to save.
    if (!this.store.closed) {
      this.save();
      this.store.close();
    }
    if (this.ownsConnection) await this.connection.close();
  }

  /** The calls that read or change remote state, one at a time: a second run() waits for the first. */
  private queue: Promise<unknown> = Promise.resolve();

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Refuse to use a Dataset after close() or hardReset(), before anything in memory changes. */
  private assertOpen(): void {
    if (this.store.closed)
      throw new DatasetClosedError(this.name, this.store.snapshotFile, this.store.closedBy);
  }

  /** The progress line of a wait() under way: messages are written around it. */
  private progress: WaitProgress | undefined;

  private log(level: number, message: string): void {
    if (this.verbosity < level) return;
    if (this.progress) this.progress.interrupt(() => this.logger(message));
    else this.logger(message);
  }
}

/**
 * Hash of a Dataset's name and its script (script Datasets) or its function's shipped module
 * (normalised: comments and formatting do not count), and of its
 * serializer unless "json" (the identities of json Datasets are what they always were): args and
 * results in the database and on the far side are in the serializer's form, so another serializer
 * is another Dataset, with a database of its own. A script Dataset's result file and its format are
 * part of what the far side does: they count too (when set).
 */
function datasetIdentity(
  name: string,
  script: string | undefined,
  functionSource: string,
  serializer: SerializerName,
  scriptResult?: ScriptResult,
): string {
  const base =
    script === undefined
      ? { function: normalisedSource(functionSource), name }
      : scriptResult
        ? { script, name, resultFile: scriptResult.file, resultFormat: scriptResult.format }
        : { script, name };
  return hashOf(serializer === "json" ? base : { ...base, serializer });
}

const isShortId = (id: string) => [...id].every((c) => (c >= "0" && c <= "9") || (c >= "a" && c <= "f"));
