// Restoring canonical (and heap) snapshots into the disk backend (does I/O): for each key group
// this backend owns, the blocks of every snapshot are read record by record and their entries
// written into the store in the disk layout (key-layout.ts), keys built by copying bytes out of the
// block and values sliced out of payloads, so no value is decoded. While every database receives
// its keys in store order (a snapshot written by the disk backend) they are appended in LMDB's
// append mode; from the first key out of order on (heap snapshots: map order), puts go to lmdb-js's
// write thread in batches of one event-loop turn, which LMDB writes while the next blocks are read.
// Map state whose user keys only its key serializer can read waits as payloads until claimed.
import { FloeError } from '../../core/errors.js';
import { keyFromId } from '../../core/key-decoding.js';
import { encodeKey, TAG_NUMBER, TAG_STRING } from '../../core/key-encoding.js';
import type { KeyGroupRange } from '../../core/key-groups.js';
import type { RestoredKeyedState, SnapshotStateMeta } from '../keyed-snapshot.js';
import type { KeyGroupedTimerQueue, Namespace, RestoreProgress } from '../keyed-state-backend.js';
import { builtInSerializer, type TypeSerializer } from '../serde/type-serializer.js';
import { BlockCursor, ID_NUMBER, ID_STRING, NS_NUMBER, NS_STRING, NS_VOID, PAYLOAD_NUMBER, REC_ENTRY } from '../snapshot-format/block-codec.js';
import { MsgpackReader } from '../snapshot-format/msgpack-bytes.js';
import { checkBlockFormat, unreadableBlock } from '../snapshot-format/snapshot-labels.js';
import { type DiskEntrySink, type PayloadShape, needsKeySerializer, payloadShape, readPayload } from './canonical-payloads.js';
import type { DiskStateTable } from './disk-state-table.js';
import { DEFERRED_PREFIX, keyPart, MAX_KEY_PART_BYTES, upperBound } from './key-layout.js';
import type { LmdbStore } from './lmdb-store.js';
import { copyBytes, isAfter } from './scratch-bytes.js';

/** Puts per turn of the event loop (one lmdb-js batch each). */
const PUTS_PER_TURN = 32768;
/** Batches queued for the write thread before reading waits for the oldest (bounds memory). */
const MAX_QUEUED_BATCHES = 2;
/** Bytes of the chunks that values built during a restore are carved from. */
const ARENA_BYTES = 256 * 1024;

/** What a block restore does to the disk keyed backend it loads into. */
export interface BlockRestoreTarget {
  readonly store: LmdbStore;
  readonly keyGroupRange: KeyGroupRange;
  /** The next list-element sequence number (restored list elements take new ones). */
  sequence: number;
  /** What the restore loaded so far (progress lines). */
  readonly restored: RestoreProgress;
  /** True once the backend is being disposed: the restore stops at its next turn. */
  readonly closing: boolean;
  setCurrentKey(key: unknown): void;
  getTimerQueue(name: string): KeyGroupedTimerQueue;
  /** A restored state's data is (about to be) in the store; remember its meta until a descriptor claims it. */
  addRestoredState(meta: SnapshotStateMeta): void;
  /** The key serializer of a registered map state (undefined otherwise). */
  keySerializerOf(name: string): TypeSerializer<unknown> | undefined;
  place(state?: string): string;
}

/** The database of one state, and the last key appended to it (while appending). */
interface Target {
  db: ReturnType<LmdbStore['db']>;
  last: Buffer;
  lastLength: number;
}

/** One snapshot being restored: its states' databases and shapes, and its timers once read. */
interface Source {
  snapshot: RestoredKeyedState;
  targets: Target[];
  shapes: PayloadShape[];
  timers: Array<[queue: number, timestamp: number, namespace: Namespace, key: unknown, order: number]>;
}

/**
 * Loads block snapshots of one or more earlier subtasks: only the blocks of this backend's key
 * groups are read (`snapshot.block(keyGroup)`), each group from every snapshot in turn, so a
 * snapshot written by the disk backend arrives in store order. Then the timers, in firing order.
 */
export async function loadBlockSnapshots(target: BlockRestoreTarget, snapshots: RestoredKeyedState[]): Promise<void> {
  const targets = new Map<string, Target>();
  const sources = snapshots.map((snapshot) => prepare(target, snapshot, targets));
  const loader = new BlockLoader(target);
  try {
    const { startKeyGroup, endKeyGroup } = target.keyGroupRange;
    for (let keyGroup = startKeyGroup; keyGroup <= endKeyGroup; keyGroup++) {
      for (const source of sources) {
        const bytes = source.snapshot.block(keyGroup);
        if (bytes === undefined) continue;
        const { meta } = source.snapshot;
        const cursor = new BlockCursor(bytes, meta.format);
        for (;;) {
          let done: boolean;
          try {
            done = loader.load(cursor, keyGroup, source);
          } catch (cause) {
            throw unreadableBlock(target.place(), meta, keyGroup, cause);
          }
          if (done) break;
          await loader.nextTurn();
        }
        target.restored.bytes += bytes.length;
      }
    }
    await loader.finish();
  } finally {
    await loader.settle();
  }
  for (const { snapshot, timers } of sources) {
    // Re-added in each queue's firing order (equal timestamps keep their order).
    timers.sort((a, b) => a[4] - b[4]);
    for (const [q, timestamp, namespace, key] of timers) {
      target.setCurrentKey(key);
      target.getTimerQueue(snapshot.meta.timerQueues[q]).add(timestamp, namespace);
    }
  }
}

/** Checks a snapshot and registers its states; `targets` holds each state's database once (snapshots share them). */
function prepare(target: BlockRestoreTarget, snapshot: RestoredKeyedState, targets: Map<string, Target>): Source {
  const { meta } = snapshot;
  checkBlockFormat(meta, target.place());
  const shapes = meta.states.map((st) => payloadShape(st, builtInSerializer(st.keySerializer) ?? target.keySerializerOf(st.name)));
  for (const st of meta.states) target.addRestoredState(st);
  const targetOf = (name: string): Target => {
    let t = targets.get(name);
    if (t === undefined) {
      const db = target.store.db(name);
      // Appending needs an empty database (a state registered before the restore may hold entries).
      const empty = target.store.range(db, Buffer.alloc(0), undefined, 1).length === 0;
      targets.set(name, (t = { db, last: Buffer.allocUnsafe(256), lastLength: empty ? 0 : -1 }));
    }
    return t;
  };
  return { snapshot, targets: meta.states.map((st) => targetOf(st.name)), shapes, timers: [] };
}

/**
 * Writes the entries of blocks into the store. Keys are built in one scratch buffer (lmdb-js
 * copies a key when it is queued; a view of each length is kept, so building a key allocates
 * nothing); values are views into the block or carved from arena chunks, which stay untouched
 * until their batch is written.
 */
class BlockLoader implements DiskEntrySink {
  private scratch = Buffer.allocUnsafe(4096);
  // DataView writes of numbers are inlined by the JIT; Buffer's write methods are not.
  private view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
  private views: Buffer[] = [];
  /** Values of appends (copied by LMDB at once), and views of each length. */
  private valueScratch = Buffer.allocUnsafe(1024);
  private valueViews: Buffer[] = [];
  private arena = Buffer.allocUnsafe(ARENA_BYTES);
  private arenaUsed = 0;
  private readonly reader = new MsgpackReader(Buffer.alloc(0), 0, 0);
  /** The store key of the current entry ends here (the suffix of a list element or map entry follows). */
  private prefixEnd = 0;
  /** The database of the current record's state. */
  private target: Target | undefined;
  /** True while every database got its keys in store order: puts are appends on this thread. */
  private appending = true;
  private puts = 0;
  private sequence: number;
  /** Batch promises not yet awaited, oldest first; the last is the batch of this turn. */
  private batches: Array<Promise<unknown>> = [];
  private readonly store: LmdbStore;

  constructor(private readonly backend: BlockRestoreTarget) {
    this.store = backend.store;
    this.sequence = backend.sequence;
  }

  /** Writes the next records of `cursor` until its end (true) or until this turn's puts are used up (false). */
  load(cursor: BlockCursor, keyGroup: number, source: Source): boolean {
    const bytes = cursor.bytes;
    while (this.puts < PUTS_PER_TURN) {
      if (!cursor.next()) return true;
      if (cursor.record !== REC_ENTRY) {
        source.timers.push([cursor.index, cursor.timestamp, cursor.namespace(), keyFromId(cursor.keyId()), cursor.order]);
        continue;
      }
      this.backend.restored.entries++;
      const s = cursor.index;
      const shape = source.shapes[s];
      if (shape === undefined) throw new RangeError(`an entry of state index ${s}, but the snapshot names ${source.shapes.length} states`);
      this.target = source.targets[s];
      if (needsKeySerializer(shape)) {
        // Only the state's key serializer can turn these user keys into store keys: kept as they are until a descriptor claims the state.
        if (cursor.payloadTag === PAYLOAD_NUMBER) throw new RangeError('a number payload for map state');
        this.scratch[0] = DEFERRED_PREFIX[0];
        this.scratch[1] = DEFERRED_PREFIX[1];
        this.writePrefix(cursor, keyGroup, DEFERRED_PREFIX.length);
        this.putSlice(this.prefixEnd, bytes, cursor.payloadStart, cursor.payloadEnd);
        continue;
      }
      this.writePrefix(cursor, keyGroup, 0);
      if (cursor.payloadTag === PAYLOAD_NUMBER) {
        if (shape.ttl || !shape.inline || shape.kind === 'list' || shape.kind === 'map') throw new RangeError(`a number payload for ${shape.kind} state`);
        this.put(this.prefixEnd, this.packNumber(cursor.payloadNumber));
      } else if (shape.inline && !shape.ttl && shape.kind !== 'list' && shape.kind !== 'map') {
        // The common case: the payload is the msgpack value, which is what the disk stores.
        this.putSlice(this.prefixEnd, bytes, cursor.payloadStart, cursor.payloadEnd);
      } else {
        this.reader.reset(bytes, cursor.payloadStart, cursor.payloadEnd);
        readPayload(shape, this.reader, this, this.allocate);
        if (!this.reader.done) throw new RangeError(`${cursor.payloadEnd - this.reader.pos} bytes after a payload`);
      }
    }
    return false;
  }

  value(stored: Uint8Array): void {
    this.put(this.prefixEnd, stored);
  }

  element(stored: Uint8Array): void {
    const at = this.prefixEnd;
    const seq = this.sequence++;
    this.ensure(at + 8);
    this.view.setUint32(at, Math.floor(seq / 0x1_0000_0000));
    this.view.setUint32(at + 4, seq >>> 0);
    this.put(at + 8, stored);
  }

  mapEntry(userKey: Uint8Array, stored: Uint8Array): void {
    const at = this.prefixEnd;
    this.ensure(at + userKey.length);
    this.scratch.set(userKey, at);
    this.put(at + userKey.length, stored);
  }

  /** Gives the write thread this turn's batch and waits while too many are queued. */
  async nextTurn(): Promise<void> {
    this.puts = 0;
    if (this.backend.closing) throw new FloeError('JOB_CANCELLED', `${this.backend.place()}: the backend was closed while its state was restored`);
    await new Promise((resolve) => setImmediate(resolve));
    while (this.batches.length > MAX_QUEUED_BATCHES) await this.awaitBatch(this.batches.shift()!);
  }

  /** Waits until every put is written. */
  async finish(): Promise<void> {
    while (this.batches.length > 0) await this.awaitBatch(this.batches.shift()!);
    this.store.commit();
    this.backend.sequence = Math.max(this.backend.sequence, this.sequence);
  }

  /** After a failure: waits for the batches already queued, so the store is not closed under them. */
  async settle(): Promise<void> {
    const batches = this.batches;
    this.batches = [];
    await Promise.allSettled(batches);
  }

  private async awaitBatch(batch: Promise<unknown>): Promise<void> {
    try {
      await batch;
    } catch (cause) {
      throw this.store.queuedWriteError(cause);
    }
  }

  private readonly allocate = (n: number): Buffer => {
    if (n > ARENA_BYTES / 4) return Buffer.allocUnsafe(n);
    if (this.arenaUsed + n > this.arena.length) {
      this.arena = Buffer.allocUnsafe(ARENA_BYTES);
      this.arenaUsed = 0;
    }
    const out = this.arena.subarray(this.arenaUsed, this.arenaUsed + n);
    this.arenaUsed += n;
    return out;
  };

  /** A number value as msgpack (what the msgpack serializer stores for it). */
  private packNumber(n: number): Buffer {
    if (Number.isInteger(n) && n >= 0 && n < 128 && !Object.is(n, -0)) {
      const out = this.allocate(1);
      out[0] = n;
      return out;
    }
    if ((n | 0) === n && !Object.is(n, -0)) {
      const out = this.allocate(5);
      out[0] = 0xd2;
      out.writeInt32BE(n, 1);
      return out;
    }
    const out = this.allocate(9);
    out[0] = 0xcb;
    out.writeDoubleBE(n, 1);
    return out;
  }

  /** Puts `value`, which stays valid until its batch is written (a view into the block, or arena bytes). */
  private put(keyLength: number, value: Uint8Array): void {
    if (this.appending && this.inOrder(keyLength)) this.append(keyLength, value);
    else this.queue(keyLength, value);
  }

  /** Puts `bytes[start, end)` of the block; an append copies it into a scratch buffer instead of making a view (LMDB copies it at once). */
  private putSlice(keyLength: number, bytes: Buffer, start: number, end: number): void {
    if (!this.appending || !this.inOrder(keyLength)) {
      this.queue(keyLength, bytes.subarray(start, end));
      return;
    }
    const n = end - start;
    if (this.valueScratch.length < n) {
      this.valueScratch = Buffer.allocUnsafe(Math.max(n, this.valueScratch.length * 2));
      this.valueViews = [];
    }
    copyBytes(bytes, start, end, this.valueScratch, 0);
    this.append(keyLength, this.valueViews[n] ?? (this.valueViews[n] = this.valueScratch.subarray(0, n)));
  }

  /** True when the current key sorts after the last one appended to its database; false (and no more appending) when not. */
  private inOrder(keyLength: number): boolean {
    const target = this.target!;
    if (target.lastLength >= 0 && isAfter(this.scratch, keyLength, target.last, target.lastLength)) return true;
    // A key out of store order: from now on LMDB sorts, on its own thread.
    this.appending = false;
    return false;
  }

  private append(keyLength: number, value: Uint8Array): void {
    const target = this.target!;
    this.store.append(target.db, this.viewOf(keyLength), value);
    if (target.last.length < keyLength) target.last = Buffer.allocUnsafe(Math.max(keyLength, target.last.length * 2));
    copyBytes(this.scratch, 0, keyLength, target.last, 0);
    target.lastLength = keyLength;
    this.puts++;
  }

  private queue(keyLength: number, value: Uint8Array): void {
    const batch = this.store.putQueued(this.target!.db, this.viewOf(keyLength), value);
    const batches = this.batches;
    if (batches.length === 0 || batches[batches.length - 1] !== batch) batches.push(batch);
    this.puts++;
  }

  /** `[keyGroup][key length][key][namespace length][namespace]` of the current record into the scratch buffer from `base`. */
  private writePrefix(c: BlockCursor, keyGroup: number, base: number): void {
    const bytes = c.bytes;
    const keyAt = base + 4;
    let keyLength: number;
    if (c.idTag === ID_NUMBER) {
      this.ensure(keyAt + 9);
      this.scratch[keyAt] = TAG_NUMBER;
      this.view.setFloat64(keyAt + 1, c.idNumber);
      keyLength = 9;
    } else if (c.idTag === ID_STRING && (c.idStart === c.idEnd || bytes[c.idStart] !== 0x01)) {
      // A string id not starting with U+0001 is the key itself: 's' + the same UTF-8.
      keyLength = 1 + c.idEnd - c.idStart;
      this.ensure(keyAt + keyLength);
      this.scratch[keyAt] = TAG_STRING;
      copyBytes(bytes, c.idStart, c.idEnd, this.scratch, keyAt + 1);
    } else {
      const encoded = encodeKey(keyFromId(c.keyId()));
      keyLength = encoded.length;
      this.ensure(keyAt + keyLength);
      this.scratch.set(encoded, keyAt);
    }
    // keyPart throws the INVALID_KEY of a key too long for the disk backend.
    if (keyLength > MAX_KEY_PART_BYTES) keyPart(keyGroup, this.scratch.subarray(keyAt, keyAt + keyLength), () => this.backend.place(), keyFromId(c.keyId()));
    const view = this.view;
    view.setUint16(base, keyGroup);
    view.setUint16(base + 2, keyLength);
    let at = keyAt + keyLength;
    if (c.nsTag === NS_VOID) {
      this.ensure(at + 3);
      this.view.setUint16(at, 1);
      this.scratch[at + 2] = TAG_STRING;
      at += 3;
    } else if (c.nsTag === NS_STRING) {
      const n = c.nsEnd - c.nsStart;
      this.ensure(at + 3 + n);
      this.view.setUint16(at, 1 + n);
      this.scratch[at + 2] = TAG_STRING;
      copyBytes(bytes, c.nsStart, c.nsEnd, this.scratch, at + 3);
      at += 3 + n;
    } else if (c.nsTag === NS_NUMBER) {
      this.ensure(at + 11);
      this.view.setUint16(at, 9);
      this.scratch[at + 2] = TAG_NUMBER;
      this.view.setFloat64(at + 3, c.nsNumber === 0 ? 0 : c.nsNumber);
      at += 11;
    }
    this.prefixEnd = at;
  }

  /** Grows the scratch buffer (keeping its content) to hold `bytes`. */
  private ensure(bytes: number): void {
    if (bytes <= this.scratch.length) return;
    const next = Buffer.allocUnsafe(Math.max(bytes, this.scratch.length * 2));
    this.scratch.copy(next);
    this.scratch = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.views = [];
  }

  /** The first `n` bytes of the scratch buffer, as a cached view. */
  private viewOf(n: number): Buffer {
    return this.views[n] ?? (this.views[n] = this.scratch.subarray(0, n));
  }
}

/**
 * Converts the deferred entries of a restored map state (see DEFERRED_PREFIX) once its descriptor
 * claimed it: the user keys of each payload are read with the descriptor's key serializer and
 * the entries written in the disk layout, in the restored meta's TTL form (the caller adapts TTL
 * after); the deferred entries are removed. Writes go through the table, so the next incremental
 * checkpoint carries them. One range read when there is nothing to convert.
 */
export function convertDeferredEntries(table: DiskStateTable, meta: SnapshotStateMeta, keySerializer: TypeSerializer<unknown>, place: string): void {
  const shape = payloadShape(meta, keySerializer);
  const reader = new MsgpackReader(Buffer.alloc(0), 0, 0);
  let prefix: Buffer = Buffer.alloc(0);
  const notMap = () => {
    throw new RangeError(`a ${meta.kind} payload where map entries were deferred`);
  };
  const sink: DiskEntrySink = { value: notMap, element: notMap, mapEntry: (userKey, stored) => table.put(Buffer.concat([prefix, userKey]), stored) };
  const end = upperBound(DEFERRED_PREFIX);
  for (;;) {
    // Converted entries are removed, so every chunk starts at the front again.
    const chunk = table.store.range(table.db, DEFERRED_PREFIX, end, 256);
    if (chunk.length === 0) return;
    for (const { key, value } of chunk) {
      prefix = key.subarray(DEFERRED_PREFIX.length);
      try {
        reader.reset(value, 0, value.length);
        readPayload(shape, reader, sink, (n) => Buffer.allocUnsafe(n));
      } catch (cause) {
        if (cause instanceof FloeError) throw cause;
        throw new FloeError('CHECKPOINT_INVALID', `${place}: a restored entry of this map state cannot be read (${(cause as Error).message}); restore an older checkpoint or savepoint`, { cause });
      }
      table.remove(key);
    }
  }
}
