import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { decode, encode } from "../remote/codec.mjs";
import { DatabaseError } from "../shared/errors.js";
import { writeFileAtomic } from "./atomic.js";
import { FileLock } from "./lock.js";

export const DB_FORMAT = "remoterun-db";
export const DB_VERSION = 1;

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

type JournalEntry<Meta, Rec> =
  | { op: "meta"; meta: Meta }
  | { op: "runners"; recs: Rec[] }
  | { op: "remove"; index: number }
  | { op: "clear" };

/** Live store objects of this process, so a newer Dataset on the same file retires the older one. */
const openStores = new Map<string, DatasetStore<unknown, Indexed>>();

/**
 * One Dataset's database: a snapshot (`<base>.json`, replaced atomically) plus an append-only
 * journal (`<base>.journal`, one JSON line per change) so that appends and state changes never
 * rewrite the whole file. Loading replays the journal over the snapshot; a torn last line (crash
 * mid-write) is ignored. The journal is folded into a new snapshot when it grows past the size of
 * the data. A lock file keeps other processes out while this one holds the Dataset.
 */
export class DatasetStore<Meta, Rec extends Indexed> {
  readonly snapshotFile: string;
  readonly journalFile: string;
  private readonly lock: FileLock;
  private journalFd: number | undefined;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private retired = false;
  private current: (() => DbState<Meta, Rec>) | undefined;

  private constructor(
    readonly base: string,
    readonly identity: string,
  ) {
    this.snapshotFile = `${base}.json`;
    this.journalFile = `${base}.journal`;
    this.lock = new FileLock(`${base}.lock`);
  }

  /**
   * Open (and lock) the database at `base`. With `fresh`, existing files are removed first.
   * Returns the stored state, or null when there is none. A database of another identity is never
   * touched: DatabaseError.
   */
  static open<Meta, Rec extends Indexed>(
    base: string,
    identity: string,
    options: { fresh: boolean },
  ): { store: DatasetStore<Meta, Rec>; state: DbState<Meta, Rec> | null } {
    const store = new DatasetStore<Meta, Rec>(base, identity);
    store.lock.acquire();
    try {
      openStores.get(base)?.retire();
      openStores.set(base, store as unknown as DatasetStore<unknown, Indexed>);
      let state: DbState<Meta, Rec> | null = null;
      if (options.fresh) {
        store.checkIdentityIfPresent();
        rmSync(store.snapshotFile, { force: true });
        rmSync(store.journalFile, { force: true });
      } else {
        state = store.read();
      }
      return { store, state };
    } catch (e) {
      store.lock.release();
      openStores.delete(base);
      throw e;
    }
  }

  /** Read without locking (for inspection tools). */
  static peek<Meta, Rec extends Indexed>(base: string): DbState<Meta, Rec> | null {
    const s = new DatasetStore<Meta, Rec>(base, "");
    return s.read(false);
  }

  /** Give the store a way to see the whole current state, for compaction. */
  attach(current: () => DbState<Meta, Rec>): void {
    this.current = current;
  }

  private checkIdentityIfPresent(): void {
    if (!existsSync(this.snapshotFile)) return;
    const head = this.readSnapshot();
    if (head && head.identity !== this.identity) {
      throw new DatabaseError(
        this.snapshotFile,
        `belongs to another Dataset (identity ${head.identity.slice(0, 12)})`,
      );
    }
  }

  private readSnapshot(): DbState<Meta, Rec> | null {
    if (!existsSync(this.snapshotFile)) return null;
    let doc: { format?: string; version?: number } & DbState<Meta, Rec>;
    try {
      doc = decode(readFileSync(this.snapshotFile, "utf8")) as typeof doc;
    } catch (e) {
      throw new DatabaseError(this.snapshotFile, "is not a readable remoterun database", { cause: e });
    }
    if (doc?.format !== DB_FORMAT) throw new DatabaseError(this.snapshotFile, "is not a remoterun database");
    if (doc.version !== DB_VERSION)
      throw new DatabaseError(this.snapshotFile, `has unsupported version ${doc.version}`);
    return { identity: doc.identity, name: doc.name, meta: doc.meta, runners: doc.runners };
  }

  private read(checkIdentity = true, repair = checkIdentity): DbState<Meta, Rec> | null {
    const snap = this.readSnapshot();
    if (snap && checkIdentity && snap.identity !== this.identity) {
      throw new DatabaseError(
        this.snapshotFile,
        `belongs to another Dataset (identity ${snap.identity.slice(0, 12)})`,
      );
    }
    const entries = this.readJournal(repair);
    if (!snap && entries.length === 0) return null;
    const state: DbState<Meta, Rec> = snap ?? {
      identity: this.identity,
      name: "",
      meta: undefined as Meta,
      runners: [],
    };
    const byIndex = new Map<number, Rec>(state.runners.map((r) => [r.index, r]));
    for (const e of entries) {
      if (e.op === "meta") state.meta = e.meta;
      else if (e.op === "runners") for (const r of e.recs) byIndex.set(r.index, r);
      else if (e.op === "remove") byIndex.delete(e.index);
      else if (e.op === "clear") byIndex.clear();
    }
    state.runners = [...byIndex.values()].sort((a, b) => a.index - b.index);
    this.journalBytes = existsSync(this.journalFile) ? statSync(this.journalFile).size : 0;
    this.snapshotBytes = existsSync(this.snapshotFile) ? statSync(this.snapshotFile).size : 0;
    return state;
  }

  /**
   * Parse the journal. With `repair` (only while holding the lock), a torn last line is cut off and
   * a missing final newline is added, so that the next append starts on a line of its own instead of
   * gluing itself to the fragment (which would turn it into damage in the middle of the file).
   */
  private readJournal(repair = false): JournalEntry<Meta, Rec>[] {
    if (!existsSync(this.journalFile)) return [];
    const buf = readFileSync(this.journalFile);
    const lines = buf.toString("utf8").split("\n");
    const out: JournalEntry<Meta, Rec>[] = [];
    let tornLine = -1;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line === "") continue;
      try {
        out.push(decode(line) as JournalEntry<Meta, Rec>);
      } catch (e) {
        // Only the very last line may be torn by a crash; anything else is damage worth reporting.
        if (lines.slice(i + 1).some((l) => l !== "")) {
          throw new DatabaseError(this.journalFile, `line ${i + 1} is damaged`, { cause: e });
        }
        tornLine = i;
      }
    }
    if (repair && tornLine >= 0) {
      let offset = 0;
      for (let j = 0; j < tornLine; j++) offset = buf.indexOf(0x0a, offset) + 1;
      truncateSync(this.journalFile, offset);
    } else if (repair && buf.length > 0 && buf[buf.length - 1] !== 0x0a) {
      appendFileSync(this.journalFile, "\n");
    }
    return out;
  }

  private ensureUsable(): void {
    if (this.retired) {
      throw new DatabaseError(
        this.snapshotFile,
        "this Dataset object was replaced by a newer one for the same database; use the newer one",
      );
    }
  }

  private append(entry: JournalEntry<Meta, Rec>): void {
    this.ensureUsable();
    if (this.journalFd === undefined) this.journalFd = openSync(this.journalFile, "a", 0o600);
    // One write(2) per change: a kill -9 leaves either the whole line or a torn tail that load() drops.
    const line = `${encode(entry, "database entry")}\n`;
    writeSync(this.journalFd, line);
    this.journalBytes += Buffer.byteLength(line);
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

  /** Write the whole state as a new snapshot and empty the journal. */
  writeSnapshot(state: DbState<Meta, Rec>): void {
    this.ensureUsable();
    const doc = { format: DB_FORMAT, version: DB_VERSION, ...state };
    const text = encode(doc, "database");
    writeFileAtomic(this.snapshotFile, text);
    this.snapshotBytes = Buffer.byteLength(text);
    // The snapshot holds everything: the journal can start over. (A crash between the two steps only
    // leaves entries that replay to the same state.)
    if (this.journalFd !== undefined) closeSync(this.journalFd);
    this.journalFd = openSync(this.journalFile, "w", 0o600);
    this.journalBytes = 0;
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
    rmSync(this.snapshotFile, { force: true });
    rmSync(this.journalFile, { force: true });
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

  /** Release the lock; the object can no longer write. */
  close(): void {
    if (this.retired) return;
    this.retire();
    if (openStores.get(this.base) === (this as unknown)) openStores.delete(this.base);
    this.lock.release();
  }
}

process.once("exit", () => {
  for (const s of openStores.values()) s.close();
});
