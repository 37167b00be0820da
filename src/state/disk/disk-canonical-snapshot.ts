// Canonical snapshots of the disk backend (reads the store): key group by key group, every state's
// entries of that group are read from the LMDB read transaction taken at the barrier and spliced
// into one block (snapshot-format/block-codec.ts), then the group's timers. Memory holds one key's
// entries at a time plus the finished blocks; the event loop gets a turn every few milliseconds.
import type { Transaction } from 'lmdb';
import { FloeError } from '../../core/errors.js';
import { decodeKey } from '../../core/key-decoding.js';
import { type KeyId, keyId, TAG_NUMBER, TAG_STRING } from '../../core/key-encoding.js';
import { assignToKeyGroup, type KeyGroupRange } from '../../core/key-groups.js';
import type { KeyedSnapshotMeta, KeyedSnapshotResult, SnapshotStateMeta } from '../keyed-snapshot.js';
import type { Namespace, TimerEntry } from '../keyed-state-backend.js';
import { BLOCK_FORMAT, BlockWriter } from '../snapshot-format/block-codec.js';
import { MsgpackWriter } from '../snapshot-format/msgpack-bytes.js';
import { CANONICAL_BACKEND } from '../snapshot-format/snapshot-labels.js';
import type { StateTtlConfig } from '../ttl/state-ttl-config.js';
import { type PayloadShape, needsKeySerializer, writeListPayload, writeMapPayload, writeSinglePayload } from './canonical-payloads.js';
import { DEFERRED_PREFIX, keyGroupPrefix, upperBound } from './key-layout.js';
import type { LmdbStore } from './lmdb-store.js';

/** Entries read per LMDB range call. */
const SCAN_CHUNK = 4096;
/** Milliseconds of encoding per turn of the event loop (as materializations). */
const SLICE_MS = 8;

/** What a canonical snapshot captured at its barrier. */
export interface CanonicalSnapshotInput {
  store: LmdbStore;
  /** The store's read view at the barrier; the caller releases it. */
  view: Transaction;
  keyGroupRange: KeyGroupRange;
  maxParallelism: number;
  /** Per state index: its database name, meta and payload shape. */
  names: string[];
  metas: SnapshotStateMeta[];
  shapes: PayloadShape[];
  /** Per state index: its TTL config when it asks for cleanup on full snapshot. */
  dropExpired: Array<StateTtlConfig | undefined>;
  /** TTL time at the barrier. */
  ttlNow: number;
  timerQueues: string[];
  /** Per queue, its timers in firing order at the barrier. */
  timers: TimerEntry[][];
  /** Throws (CHECKPOINT_DECLINED) when the snapshot was released or the backend closed meanwhile. */
  checkRunning(): void;
  /** Told after each key group: how many of the range's key groups are written. */
  onProgress?(keyGroupsDone: number, keyGroups: number): void;
  place(state?: string): string;
}

/** Encodes the snapshot; the result is self-contained (no shared files). */
export async function writeCanonicalSnapshot(input: CanonicalSnapshotInput): Promise<KeyedSnapshotResult> {
  const timersByGroup = bucketTimers(input);
  const meta: KeyedSnapshotMeta = {
    format: BLOCK_FORMAT,
    backend: CANONICAL_BACKEND,
    maxParallelism: input.maxParallelism,
    states: input.metas,
    timerQueues: input.timerQueues,
    keyGroups: [],
    entries: 0,
  };
  const data: Uint8Array[] = [];
  let offset = 0;
  const encoder = new GroupEncoder(input);
  const { startKeyGroup, endKeyGroup } = input.keyGroupRange;
  // Key groups hold about as much as each other: each block starts at the size of the last one.
  let blockBytes = 4096;
  for (let keyGroup = startKeyGroup; keyGroup <= endKeyGroup; keyGroup++) {
    const block = new BlockWriter(blockBytes);
    for (let s = 0; s < input.names.length; s++) {
      input.checkRunning();
      meta.entries += await encoder.writeState(block, s, keyGroup);
    }
    for (const [q, timestamp, namespace, key, order] of timersByGroup.get(keyGroup) ?? []) block.timer(q, timestamp, namespace, keyId(key), order);
    if (block.size > 0) {
      blockBytes = Math.max(4096, Math.ceil(block.size * 1.1));
      // The writer's buffer grows by doubling: a block that wastes more than a fifth of it is copied to its size.
      const bytes = block.capacity > block.size * 1.2 ? Buffer.from(block.finish()) : block.finish();
      meta.keyGroups.push([keyGroup, offset, bytes.length]);
      data.push(bytes);
      offset += bytes.length;
    }
    input.onProgress?.(keyGroup - startKeyGroup + 1, endKeyGroup - startKeyGroup + 1);
    await encoder.yieldIfDue();
  }
  input.checkRunning();
  return { meta, data, bytes: offset };
}

/** Per key group: [queue, timestamp, namespace, key, position in its queue's firing order]. */
function bucketTimers(input: CanonicalSnapshotInput): Map<number, Array<[number, number, Namespace, unknown, number]>> {
  const out = new Map<number, Array<[number, number, Namespace, unknown, number]>>();
  input.timers.forEach((entries, q) =>
    entries.forEach((t, order) => {
      const keyGroup = assignToKeyGroup(t.key, input.maxParallelism);
      let list = out.get(keyGroup);
      if (list === undefined) out.set(keyGroup, (list = []));
      list.push([q, t.timestamp, t.namespace, t.key, order]);
    }),
  );
  return out;
}

/**
 * Turns the store entries of one state in one key group into entry records: one per (key,
 * namespace), collecting a list's elements or a map's entries (adjacent in key order) first.
 */
class GroupEncoder {
  private readonly payload = new MsgpackWriter();
  /** The (key, namespace) prefix being collected, its stored values and (maps) user keys. */
  private prefix: Buffer | undefined;
  private values: Buffer[] = [];
  private userKeys: Buffer[] = [];
  private written = 0;
  private sliceStart = performance.now();

  constructor(private readonly input: CanonicalSnapshotInput) {}

  /** Writes state `s`'s entries of `keyGroup` into `block`; returns the number of entry records. */
  async writeState(block: BlockWriter, s: number, keyGroup: number): Promise<number> {
    const shape = this.input.shapes[s];
    const ttl = this.input.dropExpired[s];
    const now = this.input.ttlNow;
    this.written = 0;
    await this.scan(s, keyGroupPrefix(keyGroup), (key, value) => {
      // Cleanup on full snapshot drops what had expired at the barrier, per value, element or map entry.
      if (ttl !== undefined && ttl.isExpired(value.readDoubleLE(0), now)) return;
      this.add(block, s, shape, key, value);
    });
    this.flush(block, s, shape);
    // Map state restored unclaimed whose user keys need its key serializer: its payloads wait as they were read.
    if (needsKeySerializer(shape))
      await this.scan(s, Buffer.concat([DEFERRED_PREFIX, keyGroupPrefix(keyGroup)]), (key, payload) => {
        const entry = key.subarray(DEFERRED_PREFIX.length);
        const keyPartEnd = 4 + ((entry[2] << 8) | entry[3]);
        block.packedEntry(s, namespaceOf(entry, keyPartEnd + 2, prefixEndOf(entry)), keyIdOf(entry, 4, keyPartEnd), payload);
        this.written++;
      });
    return this.written;
  }

  /**
   * Visits every entry of state `s` whose key starts with `prefix` (a key group's), in key order,
   * a chunk per range read, giving the event loop a turn between chunks when the slice is used up.
   */
  private async scan(s: number, prefix: Buffer, visit: (key: Buffer, value: Buffer) => void): Promise<void> {
    const { store } = this.input;
    const db = store.db(this.input.names[s]);
    const end = upperBound(prefix);
    let start = prefix;
    let exclusive = false;
    for (;;) {
      this.input.checkRunning();
      const { visited, lastKey } = store.scanViews(db, start, exclusive, SCAN_CHUNK, this.input.view, visit, end);
      if (visited < SCAN_CHUNK || lastKey === undefined) return;
      start = lastKey;
      exclusive = true;
      await this.yieldIfDue();
    }
  }

  /** Gives the event loop a turn once this turn's slice of encoding is used up. */
  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.sliceStart < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.sliceStart = performance.now();
  }

  private add(block: BlockWriter, s: number, shape: PayloadShape, key: Buffer, value: Buffer): void {
    if (shape.kind !== 'list' && shape.kind !== 'map') {
      this.emit(block, s, shape, key, value);
      return;
    }
    const prefixEnd = prefixEndOf(key);
    if (this.prefix !== undefined && (this.prefix.length !== prefixEnd || this.prefix.compare(key, 0, prefixEnd) !== 0)) this.flush(block, s, shape);
    if (this.prefix === undefined) this.prefix = key.subarray(0, prefixEnd);
    this.values.push(value);
    if (shape.kind === 'map') this.userKeys.push(key.subarray(prefixEnd));
  }

  /** Writes the list or map collected so far. */
  private flush(block: BlockWriter, s: number, shape: PayloadShape): void {
    if (this.prefix === undefined) return;
    this.emit(block, s, shape, this.prefix, undefined);
    this.prefix = undefined;
    this.values = [];
    this.userKeys = [];
  }

  /** One entry record: `key` is the store key (single values, with `value`) or a collected prefix. */
  private emit(block: BlockWriter, s: number, shape: PayloadShape, key: Buffer, value: Buffer | undefined): void {
    const keyPartEnd = 4 + ((key[2] << 8) | key[3]);
    const id = keyIdOf(key, 4, keyPartEnd);
    const namespace = namespaceOf(key, keyPartEnd + 2, prefixEndOf(key));
    this.written++;
    if (value !== undefined && !shape.ttl && shape.inline) {
      block.packedEntry(s, namespace, id, value);
      return;
    }
    const w = this.payload;
    w.reset();
    if (value !== undefined) writeSinglePayload(w, shape, value);
    else if (shape.kind === 'list') writeListPayload(w, shape, this.values);
    else {
      if (needsKeySerializer(shape)) throw this.unknownKeySerializer(s);
      writeMapPayload(w, shape, this.userKeys, this.values);
    }
    block.packedEntry(s, namespace, id, w.bytes());
  }

  private unknownKeySerializer(s: number): FloeError {
    const meta = this.input.metas[s];
    return new FloeError(
      'CHECKPOINT_DECLINED',
      `${this.input.place(meta.name)}: the state was restored but no descriptor has claimed it yet, and a canonical snapshot (savepoint) writes its map keys with their key serializer ${meta.keySerializer}, which only the descriptor has. ` +
        'Let the job register this state (getMapState) before it takes the savepoint, or take it with the job that declares the state.',
    );
  }
}

/** Where the `[keyGroup][len][key][len][namespace]` prefix of a store key ends (key-layout.ts parseKey, without allocating). */
function prefixEndOf(key: Buffer): number {
  const keyPartEnd = 4 + ((key[2] << 8) | key[3]);
  return keyPartEnd + 2 + ((key[keyPartEnd] << 8) | key[keyPartEnd + 1]);
}

/** The KeyId of a key given by its canonical encoding `bytes[start, end)`. */
function keyIdOf(bytes: Buffer, start: number, end: number): KeyId {
  const tag = bytes[start];
  if (tag === TAG_STRING) {
    const s = bytes.toString('utf8', start + 1, end);
    return s.charCodeAt(0) === 1 ? `\u0001${s}` : s;
  }
  if (tag === TAG_NUMBER) return bytes.readDoubleBE(start + 1);
  // Arrays and objects: U+0001 + the latin1 text of the encoding; bigints and booleans are their own id.
  if (tag === 0x5b || tag === 0x7b) return `\u0001${bytes.toString('latin1', start, end)}`;
  return keyId(decodeKey(bytes.subarray(start, end)));
}

/** A namespace given by its canonical encoding `bytes[start, end)`. */
function namespaceOf(bytes: Buffer, start: number, end: number): Namespace {
  if (bytes[start] === TAG_NUMBER) return bytes.readDoubleBE(start + 1);
  return end - start === 1 ? '' : bytes.toString('utf8', start + 1, end);
}
