// The embedded store under the disk backend (does I/O): one LMDB environment per operator
// instance, one LMDB database per state. Access is synchronous; writes go into one long write
// transaction that is committed every `commitEvery` writes and before every snapshot.
import { open, type Database, type RootDatabase, type Transaction } from 'lmdb';
import { FloeError } from '../../core/errors.js';
import { diskFullError } from './disk-write-failure.js';

/**
 * How every environment is opened: no fsync on commit (a failed job restores from its checkpoint,
 * never from this directory), binary keys and values, no lmdb-js value cache or compression. The
 * map starts at 1 GiB and lmdb-js grows it when full. The disk benchmark's raw store uses the same.
 */
export const LMDB_ENV_OPTIONS = {
  noSync: true,
  noMetaSync: true,
  maxDbs: 4096,
  compression: false,
  cache: false,
  keyEncoding: 'binary',
  encoding: 'binary',
  mapSize: 1 << 30,
} as const;

/** Put options of appends (one object: lmdb-js only reads it). */
const APPEND = Object.freeze({ append: true });

export interface LmdbStoreOptions {
  path: string;
  /** Writes per transaction; larger batches amortise LMDB's copy-on-write of pages (measured: 16k -> 106k, 128k -> 172k get+put/s on 1M keys). */
  commitEvery: number;
  /** Names the operator instance in errors. */
  place: string;
}

/** A key and value as read from the store (copies, safe to keep). */
export interface StoreEntry {
  key: Buffer;
  value: Buffer;
}

/**
 * Synchronous key-value access over LMDB. Local durability is not needed (a failed job restores
 * from its checkpoint, never from this directory), so commits do not fsync.
 *
 * Why one long write transaction: LMDB commits cost ~1-2 ms (every touched page is copied), so a
 * transaction per write or per batch would dominate. lmdb-js keeps a `transactionSync` open while
 * its callback's result is pending; the callback returns a thenable whose continuation this
 * class calls itself, which ends the transaction synchronously at a point it chooses. Reads see
 * the open transaction's writes. Range reads are copied out in bounded chunks, so no cursor is
 * open when a commit happens.
 */
export class LmdbStore {
  readonly env: RootDatabase;
  private readonly dbs = new Map<string, Database<Buffer, Buffer>>();
  private finish: ((value: unknown) => unknown) | undefined;
  private writes = 0;
  private endedNativeLine = false;

  constructor(private readonly options: LmdbStoreOptions) {
    try {
      this.env = open({ path: options.path, ...LMDB_ENV_OPTIONS }) as RootDatabase;
    } catch (cause) {
      throw (
        diskFullError({ place: options.place, dir: options.path, cause }) ??
        new FloeError('IO_ERROR', `${options.place}: cannot open the disk state store at ${options.path}: ${(cause as Error).message}`, { cause })
      );
    }
  }

  /** The database of one state, created on first use. */
  db(name: string): Database<Buffer, Buffer> {
    let db = this.dbs.get(name);
    if (db === undefined) {
      // Opening a database is itself a write in LMDB: do it outside the long transaction.
      this.commit();
      try {
        db = this.env.openDB({ name, keyEncoding: 'binary', encoding: 'binary', cache: false }) as unknown as Database<Buffer, Buffer>;
      } catch (cause) {
        throw this.writeError(cause);
      }
      this.dbs.set(name, db);
    }
    return db;
  }

  /**
   * The value under `key` as a view that the next read overwrites (no copy; decode it at once).
   */
  getUnsafe(db: Database<Buffer, Buffer>, key: Uint8Array): Buffer | undefined {
    const v = db.getBinaryFast(key as Buffer);
    // lmdb-js returns a Buffer with a patched length over its shared read buffer; Buffer.from and
    // copy() reject it, so hand out a plain view of the same bytes.
    return v === undefined || v === null ? undefined : Buffer.from(v.buffer, v.byteOffset, v.length);
  }

  put(db: Database<Buffer, Buffer>, key: Uint8Array, value: Uint8Array): void {
    this.begin();
    try {
      db.putSync(key as Buffer, value as Buffer);
    } catch (cause) {
      throw this.writeError(cause);
    }
    if (++this.writes >= this.options.commitEvery) this.commit();
  }

  remove(db: Database<Buffer, Buffer>, key: Uint8Array): void {
    this.begin();
    try {
      db.removeSync(key as Buffer);
    } catch (cause) {
      throw this.writeError(cause);
    }
    if (++this.writes >= this.options.commitEvery) this.commit();
  }

  /**
   * Up to `limit` entries with `start <= key < end` (or `start < key` when `exclusive`), copied, in
   * key order. Chunked scans call this repeatedly from the last key seen.
   */
  range(db: Database<Buffer, Buffer>, start: Uint8Array, end: Uint8Array | undefined, limit: number, exclusive = false, transaction?: Transaction): StoreEntry[] {
    const out: StoreEntry[] = [];
    const options: Record<string, unknown> = { start, limit: exclusive ? limit + 1 : limit };
    if (end !== undefined) options.end = end;
    if (transaction !== undefined) options.transaction = transaction;
    for (const { key, value } of db.getRange(options as never) as Iterable<{ key: Buffer; value: Buffer }>) {
      if (exclusive && out.length === 0 && Buffer.compare(key, start) === 0) continue;
      if (out.length === limit) break;
      // lmdb-js gives every range entry buffers of its own (unlike getBinaryFast), so no copy.
      out.push({ key, value });
    }
    return out;
  }

  /**
   * Calls `visit` with up to `limit` entries from `start` (after it when `exclusive`) and below
   * `end` (when given), without collecting them (snapshots stream entries straight into a file).
   * Returns the number visited and the last key (where the next call resumes).
   */
  scanViews(
    db: Database<Buffer, Buffer>,
    start: Uint8Array,
    exclusive: boolean,
    limit: number,
    transaction: Transaction,
    visit: (key: Buffer, value: Buffer) => void,
    end?: Uint8Array,
  ): { visited: number; lastKey: Buffer | undefined } {
    let visited = 0;
    let last: Buffer | undefined;
    const options: Record<string, unknown> = { start, limit: exclusive ? limit + 1 : limit, transaction };
    if (end !== undefined) options.end = end;
    for (const { key, value } of db.getRange(options as never) as Iterable<{ key: Buffer; value: Buffer }>) {
      if (exclusive && visited === 0 && last === undefined && Buffer.compare(key, start) === 0) {
        last = key;
        continue;
      }
      if (visited === limit) break;
      visit(key, value);
      last = key;
      visited++;
    }
    return { visited, lastKey: last };
  }

  /**
   * Puts an entry known to sort after every key in `db` (LMDB's append mode: ~1.7x faster bulk
   * loads of sorted data). The caller guarantees the order; see loadSnapshots.
   */
  append(db: Database<Buffer, Buffer>, key: Uint8Array, value: Uint8Array): void {
    this.begin();
    try {
      db.putSync(key as Buffer, value as Buffer, APPEND as never);
    } catch (cause) {
      throw this.writeError(cause);
    }
    if (++this.writes >= this.options.commitEvery) this.commit();
  }

  /**
   * Queues a put for lmdb-js's write thread (bulk loads): the long transaction is committed
   * first, and LMDB writes on its own thread while this one goes on. Returns the promise of the
   * batch the put joined (lmdb-js batches the puts of one event-loop turn into one transaction
   * and gives all of them that batch's promise: no promise per put); it rejects when the batch
   * fails. `value` is read when the batch runs, so it must not change until the promise settles
   * (`key` is copied at once).
   */
  putQueued(db: Database<Buffer, Buffer>, key: Uint8Array, value: Uint8Array): Promise<unknown> {
    if (this.finish !== undefined) this.commit();
    try {
      return db.put(key as Buffer, value as Buffer) as Promise<unknown>;
    } catch (cause) {
      throw this.writeError(cause);
    }
  }

  /** The error of a failed queued put's batch, as the synchronous writes report theirs (STATE_DISK_FULL, IO_ERROR). */
  queuedWriteError(cause: unknown): FloeError {
    return this.writeError(cause);
  }

  /** Commits the open write transaction, if any. */
  commit(): void {
    const finish = this.finish;
    if (finish === undefined) return;
    this.finish = undefined;
    this.writes = 0;
    try {
      finish(undefined);
    } catch (cause) {
      throw this.writeError(cause);
    }
  }

  /** A consistent read view of everything committed so far (commits first). Call `done()` on it. */
  snapshot(): Transaction {
    this.commit();
    return this.env.useReadTransaction();
  }

  /** Commits and closes the environment; it closes also when the commit fails (a full disk), and then rejects. */
  async close(): Promise<void> {
    try {
      this.commit();
    } finally {
      await this.env.close();
    }
  }

  private begin(): void {
    if (this.finish !== undefined) return;
    void this.env.transactionSync(() => ({
      then: (onCommit: (value: unknown) => unknown) => {
        this.finish = onCommit;
      },
    }));
  }

  private writeError(cause: unknown): FloeError {
    const full = diskFullError({ place: this.options.place, dir: this.options.path, cause });
    if (full !== undefined) {
      // LMDB's C code has printed "Write error: ... position N, size M" to stderr without a
      // newline: end that line once, so our message starts on a line of its own.
      if (!this.endedNativeLine) process.stderr.write('\n');
      this.endedNativeLine = true;
      return full;
    }
    const message = (cause as Error)?.message ?? String(cause);
    return new FloeError('IO_ERROR', `${this.options.place}: the disk state store at ${this.options.path} cannot write: ${message}`, { cause });
  }
}
