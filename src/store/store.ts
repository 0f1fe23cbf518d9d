/**
 * The database of one Dataset: a snapshot replaced whole, an append-only journal and a lock. The
 * format (version DB_VERSION, its own number, independent of the wire codec; values inside are the
 * codec's tagged JSON, see src/remote/codec.mjs), how a reader and a crash at any point see the pair
 * of files, and the reading of version 1 are described in docs/database.md. Records are checked on
 * load by the validator the owner gives (see src/dataset/records.ts): the store itself stays generic.
 */
import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { decode, encode, MAX_DEPTH } from "../remote/codec.mjs";
import { DatabaseError, describeValue } from "../shared/errors.js";
import { syncFolder, writeAll, writeFailure, writeFileAtomic, writeTemp } from "./atomic.js";
import { FileLock } from "./lock.js";

export const DB_FORMAT = "remoterun-db";
export const JOURNAL_FORMAT = "remoterun-journal";
/** Version of the database files (not of the wire codec). */
export const DB_VERSION = 2;
const LEGACY_VERSION = 1;
/** How many times a reader reads the pair of files again when a compaction ran in between. */
const READ_ATTEMPTS = 40;
/** Args may nest MAX_DEPTH deep; the records around them add a few levels. */
const DB_MAX_DEPTH = MAX_DEPTH + 8;

export interface Indexed {
  index: number;
}

/** Everything a database holds for one Dataset. */
export interface DbState<Meta, Rec extends Indexed> {
  identity: string;
  name: string;
  meta: Meta;
  runners: Rec[];
}

/**
 * Checks of the owner's records, run on every load. Each returns what is wrong ("state is
 * \"bogus\", expected one of …") or undefined. The store checks the rest (files, entries, indexes).
 */
export interface StoreValidator {
  meta(value: unknown): string | undefined;
  /** One record, already known to be an object with a valid index. */
  record(value: Record<string, unknown>): string | undefined;
  /** Checks across the records of the loaded state (e.g. unique names). */
  all?(records: readonly Record<string, unknown>[]): string | undefined;
}

type JournalEntry<Meta, Rec> =
  | { op: "meta"; meta: Meta }
  | { op: "runners"; recs: Rec[] }
  | { op: "remove"; index: number }
  | { op: "clear" };

const OPS = "one of meta, runners, remove, clear";

interface Snapshot<Meta, Rec extends Indexed> {
  state: DbState<Meta, Rec>;
  version: number;
  generation: number;
  fromVersion?: number;
}

interface Journal<Meta, Rec> {
  /** Generation of the header; undefined when there is no header (version 1, or an empty file). */
  generation: number | undefined;
  entries: JournalEntry<Meta, Rec>[];
  /** Index of a torn last line, or -1. */
  tornLine: number;
  buf: Buffer;
}

/** Live store objects of this process, so a newer Dataset on the same file retires the older one. */
const openStores = new Map<string, DatasetStore<unknown, Indexed>>();

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * One Dataset's database: a snapshot plus an append-only journal (format above) so that appends and
 * state changes never rewrite the whole file. A lock file keeps other processes out while this one
 * holds the Dataset; readers (peek) need no lock.
 */
export class DatasetStore<Meta, Rec extends Indexed> {
  readonly snapshotFile: string;
  readonly journalFile: string;
  private readonly lock: FileLock;
  private journalFd: number | undefined;
  private journalBytes = 0;
  private snapshotBytes = 0;
  /** Generation of the snapshot on disk (0: none yet, or version 1). */
  private generation = 0;
  /** A version-2 snapshot of this store is on disk. */
  private snapshotOnDisk = false;
  /** The journal on disk continues the snapshot's generation and can be appended to. */
  private journalReady = false;
  /** A version-1 database as loaded: rewritten as version 2 at the first change. */
  private legacyState: DbState<Meta, Rec> | undefined;
  private retired = false;
  private current: (() => DbState<Meta, Rec>) | undefined;

  private constructor(
    readonly base: string,
    readonly identity: string,
    private readonly validator: StoreValidator | undefined,
  ) {
    this.snapshotFile = `${base}.json`;
    this.journalFile = `${base}.journal`;
    this.lock = new FileLock(`${base}.lock`);
  }

  /**
   * Open (and lock) the database at `base`. With `fresh`, existing files are removed first.
   * Returns the stored state, or null when there is none. A database of another identity is never
   * touched: DatabaseError; so is damage (see the format above).
   */
  static open<Meta, Rec extends Indexed>(
    base: string,
    identity: string,
    options: { fresh: boolean; validate?: StoreValidator },
  ): { store: DatasetStore<Meta, Rec>; state: DbState<Meta, Rec> | null; deleted: boolean } {
    const store = new DatasetStore<Meta, Rec>(base, identity, options.validate);
    store.lock.acquire();
    try {
      openStores.get(base)?.retire();
      openStores.set(base, store as unknown as DatasetStore<unknown, Indexed>);
      store.removeLeftovers();
      let state: DbState<Meta, Rec> | null = null;
      let deleted = false;
      if (options.fresh) {
        const head = store.checkIdentityIfPresent();
        deleted = head !== null;
        // Generations keep growing, so a reader that read the old snapshot never pairs it with the
        // new journal.
        store.generation = head?.generation ?? 0;
        rmSync(store.journalFile, { force: true });
        rmSync(store.snapshotFile, { force: true });
      } else {
        state = store.load(true);
      }
      return { store, state, deleted };
    } catch (e) {
      store.lock.release();
      openStores.delete(base);
      throw e;
    }
  }

  /** Read without locking (for inspection tools, next to a process that holds the database). */
  static peek<Meta, Rec extends Indexed>(base: string, validate?: StoreValidator): DbState<Meta, Rec> | null {
    return new DatasetStore<Meta, Rec>(base, "", validate).load(false);
  }

  /** Give the store a way to see the whole current state, for compaction. */
  attach(current: () => DbState<Meta, Rec>): void {
    this.current = current;
  }

  /** Temp files of writes a crash interrupted (only ever ours: we hold the lock). */
  private removeLeftovers(): void {
    const dir = dirname(this.base);
    const prefixes = [`${basename(this.snapshotFile)}.tmp-`, `${basename(this.journalFile)}.tmp-`];
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) if (prefixes.some((p) => n.startsWith(p))) rmSync(join(dir, n), { force: true });
  }

  private checkIdentityIfPresent(): Snapshot<Meta, Rec> | null {
    const head = this.readSnapshot(true);
    if (head && head.state.identity !== this.identity) {
      throw new DatabaseError(
        this.snapshotFile,
        `belongs to another Dataset (identity ${head.state.identity.slice(0, 12)})`,
      );
    }
    return head;
  }

  private damaged(what: string): DatabaseError {
    return new DatabaseError(this.snapshotFile, what);
  }

  /** The snapshot, checked; with `headerOnly`, the runners and meta are not looked at. */
  private readSnapshot(headerOnly = false): Snapshot<Meta, Rec> | null {
    let text: string;
    try {
      text = readFileSync(this.snapshotFile, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new DatabaseError(this.snapshotFile, `cannot be read: ${(e as Error).message}`, { cause: e });
    }
    let doc: unknown;
    try {
      doc = decode(text);
    } catch (e) {
      throw new DatabaseError(
        this.snapshotFile,
        `is not a readable remoterun database (not complete JSON: ${(e as Error).message}); restore it from a backup or remove it (and its .journal)`,
        { cause: e },
      );
    }
    if (!isObject(doc) || doc.format !== DB_FORMAT)
      throw this.damaged(`is not a remoterun database (expected an object with "format": "${DB_FORMAT}")`);
    const version = doc.version;
    if (version !== DB_VERSION && version !== LEGACY_VERSION)
      throw this.damaged(
        `has unsupported version ${describeValue(version)} (expected ${DB_VERSION}, or ${LEGACY_VERSION} to upgrade)`,
      );
    const generation = version === LEGACY_VERSION ? 0 : doc.generation;
    if (!isIndex(generation) || (version === DB_VERSION && generation === 0))
      throw this.damaged(`has generation ${describeValue(generation)}, expected a positive integer`);
    if (typeof doc.identity !== "string" || doc.identity === "")
      throw this.damaged(`has identity ${describeValue(doc.identity)}, expected a non-empty string`);
    const state = {
      identity: doc.identity,
      name: doc.name as string,
      meta: doc.meta as Meta,
      runners: doc.runners as Rec[],
    };
    const snap: Snapshot<Meta, Rec> = { state, version, generation };
    if (doc.fromVersion === LEGACY_VERSION) snap.fromVersion = LEGACY_VERSION;
    if (headerOnly) return snap;
    if (typeof doc.name !== "string")
      throw this.damaged(`has name ${describeValue(doc.name)}, expected a string`);
    if (!Array.isArray(doc.runners))
      throw this.damaged(`has runners ${describeValue(doc.runners)}, expected an array of runner records`);
    const metaProblem = this.validator?.meta(doc.meta);
    if (metaProblem) throw this.damaged(`meta: ${metaProblem}`);
    const seen = new Set<number>();
    for (let i = 0; i < state.runners.length; i++) {
      const r: unknown = state.runners[i];
      const problem = this.checkRecord(r);
      if (problem) throw this.damaged(`runner at position ${i}${label(r)}: ${problem}`);
      const index = (r as Indexed).index;
      if (seen.has(index))
        throw this.damaged(
          `runner at position ${i}${label(r)}: index ${index} is used by another runner, expected unique indexes`,
        );
      seen.add(index);
    }
    return snap;
  }

  private checkRecord(r: unknown): string | undefined {
    if (!isObject(r)) return `got ${describeValue(r)}, expected a runner record (an object)`;
    if (!isIndex(r.index)) return `index is ${describeValue(r.index)}, expected a non-negative integer`;
    return this.validator?.record(r);
  }

  /**
   * The journal as on disk (undefined when there is none). Entries are parsed and checked only when
   * `entries` (a journal of another generation is not replayed, so its lines do not matter).
   */
  private readJournal(
    parseEntries: (generation: number | undefined) => boolean,
  ): Journal<Meta, Rec> | undefined {
    let buf: Buffer;
    try {
      buf = readFileSync(this.journalFile);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new DatabaseError(this.journalFile, `cannot be read: ${(e as Error).message}`, { cause: e });
    }
    const lines = buf.toString("utf8").split("\n");
    let last = lines.length - 1;
    while (last >= 0 && lines[last] === "") last--;
    const out: Journal<Meta, Rec> = { generation: undefined, entries: [], tornLine: -1, buf };
    const parse = (i: number): unknown => {
      try {
        return decode(lines[i]);
      } catch (e) {
        // Only the very last line may be torn by a crash; anything else is damage worth reporting.
        if (i === last) {
          out.tornLine = i;
          return undefined;
        }
        throw new DatabaseError(
          this.journalFile,
          `line ${i + 1} is damaged (not complete JSON: ${(e as Error).message}); restore the file from a backup, or cut it before that line to lose the changes from there on`,
          { cause: e },
        );
      }
    };
    let first = 0;
    let head: unknown;
    if (lines[0] !== "") {
      head = parse(0);
      if (isObject(head) && head.format === JOURNAL_FORMAT) {
        if (head.version !== DB_VERSION || !isIndex(head.generation) || head.generation === 0)
          throw new DatabaseError(
            this.journalFile,
            `line 1: header ${describeValue(head)}, expected {"format":"${JOURNAL_FORMAT}","version":${DB_VERSION},"generation":<positive integer>}`,
          );
        out.generation = head.generation;
        first = 1;
      }
    }
    if (!parseEntries(out.generation)) return out;
    for (let i = first; i <= last; i++) {
      if (lines[i] === "") continue;
      const e = i === 0 ? head : parse(i);
      if (out.tornLine === i) break;
      const problem = this.checkEntry(e);
      if (problem) throw new DatabaseError(this.journalFile, `line ${i + 1}: ${problem}`);
      out.entries.push(e as JournalEntry<Meta, Rec>);
    }
    return out;
  }

  private checkEntry(e: unknown): string | undefined {
    if (!isObject(e)) return `got ${describeValue(e)}, expected a journal entry (an object with "op")`;
    switch (e.op) {
      case "meta": {
        if (!("meta" in e)) return 'a "meta" entry without "meta"';
        const p = this.validator?.meta(e.meta);
        return p && `meta: ${p}`;
      }
      case "runners": {
        if (!Array.isArray(e.recs))
          return `"recs" is ${describeValue(e.recs)}, expected an array of runner records`;
        for (let k = 0; k < e.recs.length; k++) {
          const p = this.checkRecord(e.recs[k]);
          if (p) return `record ${k}${label(e.recs[k])}: ${p}`;
        }
        return undefined;
      }
      case "remove":
        return isIndex(e.index)
          ? undefined
          : `"remove" of index ${describeValue(e.index)}, expected a non-negative integer`;
      case "clear":
        return undefined;
      default:
        return `unknown operation ${describeValue(e.op)}, expected ${OPS}`;
    }
  }

  /**
   * Read the state (the holder with `holder`: checks the identity, repairs a torn last line and
   * learns where to append). Readers read again while the two files are of different generations.
   */
  private load(holder: boolean): DbState<Meta, Rec> | null {
    const seen = new Set<number | undefined>();
    for (let attempt = 1; ; attempt++) {
      const snap = this.readSnapshot();
      seen.add(snap?.generation);
      if (snap && holder && snap.state.identity !== this.identity) {
        throw new DatabaseError(
          this.snapshotFile,
          `belongs to another Dataset (identity ${snap.state.identity.slice(0, 12)})`,
        );
      }
      const snapGen = snap?.generation;
      // Replay when the journal continues this snapshot; a header-less one only with version 1.
      const replays = (g: number | undefined) =>
        g === undefined ? !snap || snap.version === LEGACY_VERSION : g === snapGen;
      const journal = this.readJournal(replays);
      const jGen = journal?.generation;
      let problem: string | undefined;
      if (jGen !== undefined && (snapGen === undefined || jGen > snapGen)) {
        problem = `continues generation ${jGen} of the snapshot, but ${basename(this.snapshotFile)} ${snap ? `is generation ${snapGen}` : "is missing"} (replaced or removed by hand?)`;
      } else if (
        journal &&
        jGen === undefined &&
        snap?.version === DB_VERSION &&
        snap.fromVersion === undefined
      ) {
        // Never legitimately empty: a journal is created whole, with its header, and renamed into place.
        problem = `${journal.buf.length === 0 ? "is empty" : "line 1 is not the journal header"}, expected {"format":"${JOURNAL_FORMAT}","version":${DB_VERSION},"generation":${snapGen}}`;
      }
      if (problem) {
        // A reader may have read the snapshot just before a compaction and the journal just after.
        if (!holder && attempt < READ_ATTEMPTS) {
          sleep(Math.min(5 * attempt, 50));
          continue;
        }
        if (seen.size > 1)
          throw new DatabaseError(
            this.journalFile,
            `is rewritten faster than it can be read (snapshot generations ${[...seen].join(", ")} in ${attempt} reads); try again`,
          );
        throw new DatabaseError(this.journalFile, problem);
      }
      const replayed = journal !== undefined && replays(jGen) ? journal.entries : [];
      if (!snap && replayed.length === 0) return null;
      const state: DbState<Meta, Rec> = snap?.state ?? {
        identity: this.identity,
        name: "",
        meta: undefined as Meta,
        runners: [],
      };
      const byIndex = new Map<number, Rec>();
      for (const r of state.runners) byIndex.set(r.index, r);
      for (const e of replayed) {
        if (e.op === "meta") state.meta = e.meta;
        else if (e.op === "runners") for (const r of e.recs) byIndex.set(r.index, r);
        else if (e.op === "remove") byIndex.delete(e.index);
        else byIndex.clear();
      }
      state.runners = [...byIndex.values()].sort((a, b) => a.index - b.index);
      const across = this.validator?.all?.(state.runners as unknown as Record<string, unknown>[]);
      if (across) {
        throw replayed.length
          ? new DatabaseError(this.journalFile, `after replaying the journal: ${across}`)
          : this.damaged(across);
      }
      if (holder) this.learn(state, snap, journal, replays(jGen));
      return state;
    }
  }

  /** What the holder needs to know to write on: generations, sizes, a torn line to cut. */
  private learn(
    state: DbState<Meta, Rec>,
    snap: Snapshot<Meta, Rec> | null,
    journal: Journal<Meta, Rec> | undefined,
    continues: boolean,
  ): void {
    this.generation = snap?.generation ?? 0;
    this.snapshotBytes = snap ? statSync(this.snapshotFile).size : 0;
    if (!snap || snap.version === LEGACY_VERSION) {
      // Rewritten as version 2 at the first change (and the journal with it).
      this.legacyState = state;
      this.journalReady = false;
      return;
    }
    this.snapshotOnDisk = true;
    this.journalReady = journal !== undefined && journal.generation === this.generation && continues;
    if (!this.journalReady || !journal) return;
    const buf = journal.buf;
    // A torn last line is cut off and a missing final newline added, so that the next append starts
    // on a line of its own instead of gluing itself to the fragment (damage in the middle).
    try {
      if (journal.tornLine >= 0) {
        let offset = 0;
        for (let j = 0; j < journal.tornLine; j++) offset = buf.indexOf(0x0a, offset) + 1;
        truncateSync(this.journalFile, offset);
      } else if (buf.length > 0 && buf[buf.length - 1] !== 0x0a) {
        appendFileSync(this.journalFile, "\n");
      }
    } catch (e) {
      throw writeFailure(this.journalFile, e);
    }
    this.journalBytes = statSync(this.journalFile).size;
  }

  private ensureUsable(): void {
    if (this.retired) {
      throw new DatabaseError(
        this.snapshotFile,
        "this Dataset object was replaced by a newer one for the same database; use the newer one",
      );
    }
  }

  /** Make the journal ready for appends: the one on disk if it continues the snapshot, else a new one. */
  private prepareJournal(): number {
    if (this.journalFd !== undefined) return this.journalFd;
    if (this.legacyState) {
      this.writeSnapshot(this.legacyState, LEGACY_VERSION);
    } else if (!this.snapshotOnDisk) {
      // No snapshot yet (a fresh database): the journal needs one to continue.
      if (!this.current) throw new Error("internal error: the first change of a database needs a snapshot");
      this.writeSnapshot(this.current());
    } else if (this.journalReady) {
      try {
        this.journalFd = openSync(this.journalFile, "a", 0o600);
      } catch (e) {
        throw writeFailure(this.journalFile, e);
      }
    } else {
      this.startJournal();
    }
    return this.journalFd as number;
  }

  /** A new journal (header only) for the current generation, renamed into place. */
  private startJournal(): void {
    this.closeJournal();
    const header = Buffer.from(
      `${JSON.stringify({ format: JOURNAL_FORMAT, version: DB_VERSION, generation: this.generation })}\n`,
    );
    const { tmp, fd } = writeTemp(this.journalFile, header, true);
    try {
      renameSync(tmp, this.journalFile);
    } catch (e) {
      closeSync(fd as number);
      rmSync(tmp, { force: true });
      throw writeFailure(this.journalFile, e);
    }
    this.journalFd = fd;
    this.journalBytes = header.length;
    this.journalReady = true;
  }

  private append(entry: JournalEntry<Meta, Rec>): void {
    this.ensureUsable();
    const line = Buffer.from(`${encode(entry, "database entry", DB_MAX_DEPTH)}\n`);
    const fd = this.prepareJournal();
    // One write(2) per change: a kill -9 leaves either the whole line or a torn tail that load() drops.
    try {
      writeAll(fd, line);
    } catch (e) {
      // A short write (full disk) must not leave a fragment for the next line to glue onto.
      try {
        ftruncateSync(fd, this.journalBytes);
      } catch {}
      throw writeFailure(this.journalFile, e);
    }
    this.journalBytes += line.length;
    this.maybeCompact();
  }

  putMeta(meta: Meta): void {
    this.append({ op: "meta", meta });
  }

  putRunners(recs: Rec[]): void {
    if (recs.length) this.append({ op: "runners", recs });
  }

  /** Remove every runner in one journal line. */
  clearRunners(): void {
    this.append({ op: "clear" });
  }

  removeRunner(index: number): void {
    this.append({ op: "remove", index });
  }

  /** Write the whole state as snapshot generation G+1, then start journal G+1 (see the format). */
  writeSnapshot(state: DbState<Meta, Rec>, fromVersion?: number): void {
    this.ensureUsable();
    const generation = this.generation + 1;
    const doc = {
      format: DB_FORMAT,
      version: DB_VERSION,
      generation,
      ...(fromVersion !== undefined ? { fromVersion } : {}),
      ...state,
    };
    const text = Buffer.from(encode(doc, "database", DB_MAX_DEPTH));
    writeFileAtomic(this.snapshotFile, text);
    this.generation = generation;
    this.snapshotOnDisk = true;
    this.legacyState = undefined;
    this.snapshotBytes = text.length;
    // Until the new journal is in place, the old one (older generation) is ignored by every reader.
    this.journalReady = false;
    this.startJournal();
  }

  private maybeCompact(): void {
    // Amortised: the journal may grow to the size of the snapshot before it is folded in, so the
    // total bytes written stay proportional to the data, however many small changes there are.
    if (!this.current || this.journalBytes < Math.max(256 * 1024, this.snapshotBytes)) return;
    this.writeSnapshot(this.current());
  }

  /** Remove the database files (hardReset / wipe). */
  destroy(): void {
    this.ensureUsable();
    this.closeJournal();
    rmSync(this.journalFile, { force: true });
    rmSync(this.snapshotFile, { force: true });
    syncFolder(this.snapshotFile);
    this.journalReady = false;
    this.snapshotOnDisk = false;
  }

  private closeJournal(): void {
    if (this.journalFd !== undefined) {
      closeSync(this.journalFd);
      this.journalFd = undefined;
    }
  }

  private retire(): void {
    this.closeJournal();
    this.retired = true;
  }

  /** Whether this object can no longer write (closed, or replaced by a newer one for the same file). */
  get closed(): boolean {
    return this.retired;
  }

  /** Why this object can no longer write: closed here, or replaced by a newer one for the same file. */
  get closedBy(): "close" | "replaced" {
    return this.closedHere ? "close" : "replaced";
  }

  private closedHere = false;

  /** Release the lock; the object can no longer write. */
  close(): void {
    if (this.retired) return;
    this.closedHere = true;
    this.retire();
    if (openStores.get(this.base) === (this as unknown)) openStores.delete(this.base);
    this.lock.release();
  }
}

/** ` (index 3, "name")` for error messages, as far as the record tells. */
function label(r: unknown): string {
  if (!isObject(r)) return "";
  const parts: string[] = [];
  if (r.index !== undefined) parts.push(`index ${describeValue(r.index)}`);
  if (typeof r.name === "string") parts.push(`name ${describeValue(r.name)}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

process.once("exit", () => {
  for (const s of openStores.values()) s.close();
});
