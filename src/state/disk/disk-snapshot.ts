// Snapshots of the disk backend (does I/O). Every write also goes to the current change-log
// segment; a checkpoint seals the segment (synchronous part) and uploads it to the checkpoint's
// shared files (asynchronous part). Now and then a checkpoint instead materializes the whole
// store from an LMDB read transaction taken at the barrier. A snapshot is the chain
// "materialization + segments since"; restore applies the chain in order.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { Transaction } from 'lmdb';
import { FloeError } from '../../core/errors.js';
import { decodeKey } from '../../core/key-decoding.js';
import { encodeKey } from '../../core/key-encoding.js';
import { assignToKeyGroup } from '../../core/key-groups.js';
import type { DiskSnapshotMeta, KeyedSnapshotMeta, KeyedSnapshotResult, KeyedSnapshotRunner, RestoredKeyedState } from '../keyed-snapshot.js';
import type { KeyedSnapshotOptions, Namespace, SharedStateStore } from '../keyed-state-backend.js';
import type { DiskKeyedStateBackend } from './disk-state-backend.js';
import type { ChangeSink } from './disk-state-table.js';
import { type KvRecord, readRecordBytes, readRecordFile, RecordFileWriter, syncFile, type SealedRecordFile } from './record-file.js';

type ChainFile = DiskSnapshotMeta['chain'][number];

const packr = new Packr({ useRecords: false, moreTypes: true });
/** Entries copied per scan of a materialization (one LMDB range call). */
const MATERIALIZE_CHUNK = 4096;
/**
 * Milliseconds a materialization copies per turn of the event loop before letting the task run
 * again. The task yields only every 32 batches, so a fixed number of entries per turn starved
 * large materializations (~20 MB/s while a job ran flat out); a time slice gives them a steady share.
 */
const MATERIALIZE_SLICE_MS = 8;

/** The incremental chain the next checkpoint builds on. */
interface Chain {
  base: ChainFile | undefined;
  deltas: ChainFile[];
  deltaBytes: number;
}

/** Change-log bytes kept before any materialization exists (beyond that the next checkpoint materializes anyway). */
const LOG_LIMIT_WITHOUT_BASE = 256 << 20;

/** Owns the change log, the chain of uploaded files and the snapshot runners of one backend. */
export class DiskSnapshotter implements ChangeSink {
  /** The open change-log segment (incremental mode), written by every state write. */
  private changes: RecordFileWriter | undefined;
  /**
   * Set when the change log since the last materialization grew past what a delta chain may hold
   * (or nothing checkpoints): the log is dropped and the next checkpoint materializes. Keeps the
   * local disk bounded when checkpointing is off.
   */
  private mustMaterialize = false;
  /** Materializations taken (barrier passed) and not yet written. */
  private materializing = 0;
  private pendingBytes = 0;
  private segmentSeq = 0;
  /** Sealed segments not yet in the chain, with the checkpoint that sealed them. */
  private pending: Array<{ sealed: SealedRecordFile; checkpointId: number }> = [];
  private chain: Chain = { base: undefined, deltas: [], deltaBytes: 0 };
  /** Runners write one after another: each builds on the chain the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly token = randomBytes(5).toString('hex');
  private disposed = false;

  constructor(
    private readonly backend: DiskKeyedStateBackend,
    private readonly dir: string,
  ) {
    if (backend.config.incremental) this.changes = this.openSegment();
  }

  put(stateIndex: number, key: Uint8Array, value: Uint8Array): void {
    const log = this.changes;
    if (log === undefined) return;
    log.put(stateIndex, key, value);
    if (log.size > this.logLimit) this.dropLog();
  }

  delete(stateIndex: number, key: Uint8Array): void {
    const log = this.changes;
    if (log === undefined) return;
    log.delete(stateIndex, key);
    if (log.size > this.logLimit) this.dropLog();
  }

  /** Bytes the open segment may reach before replaying the log would cost more than a materialization. */
  private get logLimit(): number {
    // While a materialization is written, the log since its barrier will sit on top of it, not on
    // the old chain: judge it against the new base (whose size is not known yet; at least the old one).
    if (this.materializing > 0) return Math.max(LOG_LIMIT_WITHOUT_BASE, (this.chain.base?.size ?? 0) * this.backend.config.materializeAfterRatio);
    const base = this.chain.base;
    const allowed = base === undefined ? LOG_LIMIT_WITHOUT_BASE : base.size * this.backend.config.materializeAfterRatio;
    return Math.max(1 << 20, allowed - this.chain.deltaBytes - this.pendingBytes);
  }

  private dropLog(): void {
    this.changes?.discard();
    if (this.changes !== undefined) rmSync(this.changes.path, { force: true });
    this.changes = undefined;
    for (const p of this.pending) rmSync(p.sealed.path, { force: true });
    this.pending = [];
    this.pendingBytes = 0;
    this.mustMaterialize = true;
  }

  snapshot(options: KeyedSnapshotOptions): KeyedSnapshotRunner {
    const backend = this.backend;
    const { checkpointId, shared } = options;
    backend.store.commit();
    const chain = this.chain;
    const config = backend.config;
    // Without shared storage (tests, harnesses) the whole state goes inline into the task's file.
    const materialize =
      shared === undefined ||
      this.mustMaterialize ||
      !config.incremental ||
      chain.base === undefined ||
      chain.deltas.length >= config.materializeEvery ||
      chain.deltaBytes > chain.base.size * config.materializeAfterRatio;
    if (this.changes !== undefined) {
      const sealed = this.changes.seal();
      if (sealed.records > 0) {
        this.pending.push({ sealed, checkpointId });
        this.pendingBytes += sealed.bytes;
      } else rmSync(sealed.path, { force: true });
    }
    if (config.incremental) this.changes = this.openSegment();
    this.mustMaterialize = false;
    const view = materialize ? backend.store.snapshot() : undefined;
    if (view !== undefined) this.materializing++;
    const frozen: Frozen = {
      checkpointId,
      names: [...backend.stateNames],
      metas: backend.snapshotStateMetas(),
      sequence: backend.sequence,
      timerQueues: [...backend.timers.keys()],
      timers: [...backend.timers.values()].map((q) => q.entries()),
    };
    let done = false;
    let counted = view !== undefined;
    const uncount = () => {
      if (counted) this.materializing--;
      counted = false;
    };
    let writing = false;
    const release = () => {
      if (!done && view !== undefined) view.done();
      done = true;
      if (!writing) uncount(); // aborted before its write started
    };
    const run = async (): Promise<KeyedSnapshotResult> => {
      writing = true;
      try {
        return view !== undefined ? await this.writeMaterialization(frozen, view, shared, release) : await this.writeDelta(frozen, shared!);
      } finally {
        release();
        uncount();
      }
    };
    return {
      write: () => {
        const result = this.queue.then(run, run);
        this.queue = result.catch(() => {});
        return result;
      },
      release,
    };
  }

  /** Continues the chain of a restored snapshot (same key groups), so the next checkpoint stays incremental. */
  adoptChain(files: ChainFile[]): void {
    const [base, ...deltas] = files;
    this.chain = { base, deltas, deltaBytes: deltas.reduce((n, f) => n + f.size, 0) };
  }

  dispose(): void {
    this.disposed = true;
    this.changes?.discard();
    this.changes = undefined;
  }

  private openSegment(): RecordFileWriter {
    const path = join(this.dir, `changelog-${this.token}-${this.segmentSeq++}.kv`);
    const names = this.backend.stateNames;
    return new RecordFileWriter(path, 'changelog', (i) => names[i]);
  }

  private sharedName(kind: string, checkpointId: number, n = 0): string {
    const o = this.backend.options;
    return `shared/${o.operator.replace(/[^A-Za-z0-9_.-]/g, '_')}-${o.subtask}-${this.token}-${checkpointId}-${n}.${kind}.kv`;
  }

  private async writeMaterialization(frozen: Frozen, view: Transaction, shared: SharedStateStore | undefined, release: () => void): Promise<KeyedSnapshotResult> {
    const backend = this.backend;
    const path = join(this.dir, `materialization-${this.token}-${frozen.checkpointId}.kv`);
    const writer = new RecordFileWriter(path, 'materialization', (i) => frozen.names[i]);
    const now = backend.options.ttlClock.now();
    let sliceStart = performance.now();
    try {
      for (let i = 0; i < frozen.names.length; i++) {
        const name = frozen.names[i];
        const db = backend.store.db(name);
        const ttl = backend.states.get(name)?.table?.ttl;
        let start: Buffer = Buffer.alloc(0);
        let exclusive = false;
        for (;;) {
          if (this.disposed) throw new FloeError('CHECKPOINT_DECLINED', `${backend.place()}: the backend was closed while checkpoint ${frozen.checkpointId} was written`);
          const { visited, lastKey } = backend.store.scanViews(db, start, exclusive, MATERIALIZE_CHUNK, view, (key, value) => {
            // Expired entries are never materialized (cleanup on full snapshot).
            if (ttl !== undefined && ttl.config.isExpired(value.readDoubleLE(0), now)) return;
            writer.put(i, key, value);
          });
          if (visited < MATERIALIZE_CHUNK || lastKey === undefined) break;
          start = lastKey;
          exclusive = true;
          if (performance.now() - sliceStart >= MATERIALIZE_SLICE_MS) {
            await yieldToLoop();
            sliceStart = performance.now();
          }
        }
      }
    } catch (error) {
      writer.discard();
      rmSync(path, { force: true });
      throw error;
    }
    release();
    const sealed = writer.seal();
    const timers = encodeTimers(frozen);
    if (shared === undefined) {
      const bytes = readFileSync(sealed.path);
      rmSync(sealed.path, { force: true });
      this.dropPendingUpTo(frozen.checkpointId);
      const file: ChainFile = { name: '', size: bytes.length, sha256: sealed.sha256, kind: 'materialization' };
      return this.result(frozen, [file], timers, [timers, bytes], bytes.length + timers.length, true, sealed.records);
    }
    syncFile(sealed.path);
    const stored = await shared.put(sealed.path, { name: this.sharedName('materialization', frozen.checkpointId), size: sealed.bytes, sha256: sealed.sha256 });
    rmSync(sealed.path, { force: true });
    const base: ChainFile = { ...stored, kind: 'materialization' };
    this.chain = { base, deltas: [], deltaBytes: 0 };
    this.dropPendingUpTo(frozen.checkpointId);
    return this.result(frozen, [base], timers, [timers], stored.size + timers.length, false, sealed.records);
  }

  /** Everything sealed up to a materialized checkpoint is inside the materialization. */
  private dropPendingUpTo(checkpointId: number): void {
    for (const p of this.pending) if (p.checkpointId <= checkpointId) rmSync(p.sealed.path, { force: true });
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
    this.pendingBytes = this.pending.reduce((n, p) => n + p.sealed.bytes, 0);
  }

  private async writeDelta(frozen: Frozen, shared: SharedStateStore): Promise<KeyedSnapshotResult> {
    let uploaded = 0;
    let n = 0;
    while (this.pending.length > 0 && this.pending[0].checkpointId <= frozen.checkpointId) {
      const item = this.pending[0];
      const { sealed } = item;
      syncFile(sealed.path);
      const stored = await shared.put(sealed.path, { name: this.sharedName('changelog', frozen.checkpointId, n++), size: sealed.bytes, sha256: sealed.sha256 });
      rmSync(sealed.path, { force: true });
      if (!this.pending.includes(item)) throw new FloeError('CHECKPOINT_DECLINED', `${this.backend.place()}: the change log was dropped while checkpoint ${frozen.checkpointId} was written; the next checkpoint materializes`);
      this.pending = this.pending.filter((p) => p !== item);
      this.pendingBytes -= sealed.bytes;
      this.chain.deltas.push({ ...stored, kind: 'changelog' });
      this.chain.deltaBytes += stored.size;
      uploaded += stored.size;
    }
    const timers = encodeTimers(frozen);
    return this.result(frozen, [this.chain.base!, ...this.chain.deltas], timers, [timers], uploaded + timers.length, false, 0);
  }

  private result(frozen: Frozen, chain: ChainFile[], timers: Uint8Array, data: Uint8Array[], incrementalBytes: number, inline: boolean, entries: number): KeyedSnapshotResult {
    const backend = this.backend;
    const meta: KeyedSnapshotMeta = {
      format: 1,
      backend: 'disk',
      maxParallelism: backend.maxParallelism,
      states: frozen.metas,
      timerQueues: frozen.timerQueues,
      keyGroups: [],
      /** Entries in a materialization; 0 for an incremental snapshot. */
      entries,
      disk: {
        chain: chain.map((f) => ({ ...f })),
        keyGroupRange: [backend.keyGroupRange.startKeyGroup, backend.keyGroupRange.endKeyGroup],
        nextSequence: frozen.sequence,
        timerBytes: timers.length,
        ...(inline ? { inline: true } : {}),
      },
    };
    const bytes = data.reduce((n, c) => n + c.length, 0);
    return { meta, data, bytes, incrementalBytes, sharedFiles: inline ? [] : chain.map(({ name, size, sha256 }) => ({ name, size, sha256 })) };
  }
}

/** What the synchronous part of a snapshot captured besides the store's read view. */
interface Frozen {
  checkpointId: number;
  names: string[];
  metas: KeyedSnapshotMeta['states'];
  sequence: number;
  timerQueues: string[];
  timers: Array<Array<{ timestamp: number; key: unknown; namespace: Namespace }>>;
}

/** Timers as msgpack: [queue index, timestamp, namespace, key bytes] in firing order per queue. */
function encodeTimers(frozen: Frozen): Uint8Array {
  const rows: Array<[number, number, Namespace, Uint8Array]> = [];
  frozen.timers.forEach((entries, q) => {
    for (const t of entries) rows.push([q, t.timestamp, t.namespace, encodeKey(t.key)]);
  });
  return packr.pack(rows);
}

/**
 * Loads snapshots of one or more earlier subtasks into the store: every chain is applied in order,
 * keeping only entries of this backend's key groups; then the timers. A snapshot of another
 * backend is refused with an error that says what to do.
 */
export async function loadSnapshots(backend: DiskKeyedStateBackend, snapshots: RestoredKeyedState[]): Promise<void> {
  const { startKeyGroup: lo, endKeyGroup: hi } = backend.keyGroupRange;
  const previousKey = backend.getCurrentKey();
  const appendAfter = new Map<string, Buffer | null | undefined>();
  for (const snapshot of snapshots) {
    const { meta } = snapshot;
    const disk = meta.disk;
    if (meta.backend !== 'disk' || disk === undefined)
      throw new FloeError(
        'CHECKPOINT_INVALID',
        `${backend.place()}: the checkpoint was taken with the ${meta.backend} state backend and this job runs the disk backend; restore it with the ${meta.backend} backend (moving state between backends comes with savepoints)`,
      );
    for (const stateMeta of meta.states) backend.addRestoredState(stateMeta);
    // A materialization is sorted by key per state: into a database nothing else wrote yet it
    // loads in LMDB's append mode. `appendAfter` holds the last appended key; null once any
    // other write touched the database (then appending could misplace keys).
    const first = snapshot === snapshots[0];
    const data = snapshot.data ?? new Uint8Array(0);
    let inlineAt = disk.timerBytes;
    for (const file of disk.chain) {
      let source: AsyncIterable<KvRecord[]> | Iterable<KvRecord[]>;
      if (disk.inline === true) {
        source = [readRecordBytes(Buffer.from(data.buffer, data.byteOffset + inlineAt, file.size), 'inline snapshot')];
        inlineAt += file.size;
      } else {
        if (snapshot.resolveFile === undefined) throw new FloeError('CHECKPOINT_INVALID', `${backend.place()}: the snapshot refers to ${file.name}, but no checkpoint directory was given to find it`);
        source = readRecordFile(snapshot.resolveFile(file.name), file.kind);
      }
      const sorted = first && file.kind === 'materialization';
      const store = backend.store;
      for await (const records of source) {
        // Records come in runs of one state: look its database up once per run.
        let state = '';
        let db = undefined as ReturnType<typeof store.db> | undefined;
        let after: Buffer | null | undefined;
        for (const r of records) {
          const keyGroup = (r.key[0] << 8) | r.key[1];
          if (keyGroup < lo || keyGroup > hi) continue;
          if (r.state !== state) {
            if (state !== '') appendAfter.set(state, after);
            state = r.state;
            db = store.db(state);
            after = appendAfter.get(state);
          }
          if (sorted && r.value !== undefined && after !== null && (after === undefined || Buffer.compare(r.key, after) > 0)) {
            store.append(db!, r.key, r.value);
            after = r.key as Buffer; // a view into a chunk that is never reused
            continue;
          }
          after = null;
          if (r.value === undefined) store.remove(db!, r.key);
          else store.put(db!, r.key, r.value);
        }
        if (state !== '') appendAfter.set(state, after);
        await yieldToLoop();
      }
    }
    const rows = disk.timerBytes === 0 ? [] : (packr.unpack(data.subarray(0, disk.timerBytes)) as Array<[number, number, Namespace, Uint8Array]>);
    for (const [q, timestamp, namespace, keyBytes] of rows) {
      const key = decodeKey(keyBytes);
      const keyGroup = assignToKeyGroup(key, backend.maxParallelism);
      if (keyGroup < lo || keyGroup > hi) continue; // another subtask's timer (rescale): its key may not be set here
      backend.setCurrentKey(key);
      backend.getTimerQueue(meta.timerQueues[q]).add(timestamp, namespace);
    }
    backend.sequence = Math.max(backend.sequence, disk.nextSequence);
  }
  backend.store.commit();
  const only = snapshots.length === 1 ? snapshots[0].meta.disk : undefined;
  if (only !== undefined && only.inline !== true && only.keyGroupRange[0] === lo && only.keyGroupRange[1] === hi)
    backend.snapshotter.adoptChain(only.chain);
  if (previousKey !== undefined) backend.setCurrentKey(previousKey);
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
