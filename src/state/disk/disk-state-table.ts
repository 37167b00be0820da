// One state of the disk backend as the handles see it (does I/O through the store): its LMDB
// database, the current key, writes that also go to the change log, chunked prefix scans, the
// TTL timestamp format, and incremental TTL cleanup over the store.
import type { Database } from 'lmdb';
import type { Clock } from '../../core/clock.js';
import type { TypeSerializer } from '../serde/type-serializer.js';
import type { TtlPolicy } from '../ttl/ttl-support.js';
import { upperBound } from './key-layout.js';
import type { LmdbStore, StoreEntry } from './lmdb-store.js';

/** The backend's current key, shared by every handle (single-threaded). */
export interface DiskKeyContext {
  key: unknown;
  keyGroup: number;
  /** `[keyGroup][len][key bytes]`, see key-layout.ts. */
  keyPart: Buffer;
  /** Bumped on every key change, so handles can cache the current entry key. */
  version: number;
}

/** Where changes are recorded for the next incremental checkpoint. */
export interface ChangeSink {
  put(stateIndex: number, key: Uint8Array, value: Uint8Array): void;
  delete(stateIndex: number, key: Uint8Array): void;
}

/** Entries read per round trip of a prefix scan (bounded memory, no cursor left open). */
const SCAN_CHUNK = 256;

/** Bytes of the last-access timestamp in front of every value of a TTL state (a float64). */
export const TTL_TIMESTAMP_BYTES = 8;

export class DiskStateTable {
  readonly db: Database<Buffer, Buffer>;

  constructor(
    readonly name: string,
    /** Index of this state in change-log records. */
    readonly index: number,
    readonly store: LmdbStore,
    readonly ctx: DiskKeyContext,
    /** Records every write for the next incremental checkpoint. */
    private readonly changes: ChangeSink,
    readonly serializer: TypeSerializer<unknown>,
    readonly ttl: TtlPolicy | undefined,
  ) {
    this.db = store.db(name);
  }

  get(key: Uint8Array): Buffer | undefined {
    return this.store.getUnsafe(this.db, key);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.store.put(this.db, key, value);
    this.changes.put(this.index, key, value);
  }

  remove(key: Uint8Array): void {
    this.store.remove(this.db, key);
    this.changes.delete(this.index, key);
  }

  /** Every entry whose key starts with `prefix`, in key order. */
  scan(prefix: Uint8Array): StoreEntry[] {
    return [...this.entriesFrom(prefix, upperBound(prefix), SCAN_CHUNK)];
  }

  /** The first entry starting with `prefix`, if any. */
  first(prefix: Uint8Array): StoreEntry | undefined {
    return this.store.range(this.db, prefix, upperBound(prefix), 1)[0];
  }

  /** Removes every entry starting with `prefix`. */
  removePrefix(prefix: Uint8Array): void {
    for (const { key } of this.scan(prefix)) this.remove(key);
  }

  /** Every entry of this state in key order (inspection, TTL adaption). */
  all(): Generator<StoreEntry> {
    return this.entriesFrom(Buffer.alloc(0), undefined, SCAN_CHUNK * 4);
  }

  /** Entries from `start` up to `end`, read `chunk` at a time so no cursor stays open across a commit. */
  private *entriesFrom(start: Uint8Array, end: Uint8Array | undefined, chunk: number): Generator<StoreEntry> {
    let exclusive = false;
    for (;;) {
      const entries = this.store.range(this.db, start, end, chunk, exclusive);
      yield* entries;
      if (entries.length < chunk) return;
      start = entries[entries.length - 1].key;
      exclusive = true;
    }
  }

  // --- values -------------------------------------------------------------------------------

  /** The stored bytes of a value (TTL states: timestamp first). */
  encode(value: unknown, now?: number): Uint8Array {
    const payload = this.serializer.serialize(value);
    if (this.ttl === undefined) return payload;
    const out = Buffer.allocUnsafe(TTL_TIMESTAMP_BYTES + payload.length);
    out.writeDoubleLE(now ?? this.ttl.now(), 0);
    out.set(payload, TTL_TIMESTAMP_BYTES);
    return out;
  }

  decode(stored: Buffer): unknown {
    return this.serializer.deserialize(this.ttl === undefined ? stored : stored.subarray(TTL_TIMESTAMP_BYTES));
  }

  /** Last access time of a stored TTL value. */
  timestampOf(stored: Buffer): number {
    return stored.readDoubleLE(0);
  }

  isExpired(stored: Buffer, now: number): boolean {
    return this.ttl!.config.isExpired(stored.readDoubleLE(0), now);
  }

  /** The same stored bytes with a new timestamp (OnReadAndWrite refresh), as a copy. */
  restamp(stored: Buffer, now: number): Buffer {
    const out = Buffer.from(stored);
    out.writeDoubleLE(now, 0);
    return out;
  }
}

/**
 * Incremental TTL cleanup on the store (the disk side of Flink's cleanupIncrementally): each run
 * checks the next `cleanupSize` entries of one state in key order and deletes the expired ones,
 * resuming after the last key checked; at most one pass over the state per run.
 */
export class DiskIncrementalCleanup {
  private cursor: Buffer | undefined;

  constructor(
    private readonly table: DiskStateTable,
    readonly cleanupSize: number,
    private readonly clock: Clock,
  ) {}

  run(): void {
    if (this.cleanupSize === 0) return;
    const table = this.table;
    const now = this.clock.now();
    let checked = 0;
    let restarted = false;
    while (checked < this.cleanupSize) {
      const want = this.cleanupSize - checked;
      const chunk = table.store.range(table.db, this.cursor ?? Buffer.alloc(0), undefined, want, this.cursor !== undefined);
      for (const { key, value } of chunk) {
        checked++;
        if (table.isExpired(value, now)) table.remove(key);
      }
      if (chunk.length === want) {
        this.cursor = chunk[chunk.length - 1].key;
        return;
      }
      this.cursor = undefined;
      if (restarted) return;
      restarted = true;
    }
  }
}
