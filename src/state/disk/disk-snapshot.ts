// Snapshots of the disk backend (does I/O). Every write also goes to the current change-log
// segment; a checkpoint seals the segment (synchronous part) and uploads it to the checkpoint's
// shared files (asynchronous part). Now and then a checkpoint instead materializes the whole
// store from an LMDB read transaction taken at the barrier. A snapshot is the chain
// "materialization + segments since"; restore (disk-restore.ts) applies the chain in order.
// Canonical snapshots (savepoints) read such a transaction too but stay outside the chain.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { Transaction } from 'lmdb';
import { FloeError } from '../../core/errors.js';
import { encodeKey } from '../../core/key-encoding.js';
import type { DiskSnapshotMeta, KeyedSnapshotMeta, KeyedSnapshotResult, KeyedSnapshotRunner, MaterializationIndex, SnapshotStateMeta } from '../keyed-snapshot.js';
import type { KeyGroupRange } from '../../core/key-groups.js';
import type { KeyedSnapshotOptions, KeyedStateBackendOptions, Namespace, SharedStateStore } from '../keyed-state-backend.js';
import { builtInSerializer, type TypeSerializer } from '../serde/type-serializer.js';
import type { StateTtlConfig } from '../ttl/state-ttl-config.js';
import type { HeapTimerQueue } from '../heap/heap-timer-queue.js';
import type { PendingParts } from '../heap/pending-parts.js';
import { TimerSnapshot } from '../heap/timer-snapshot.js';
import { type PayloadShape, payloadShape } from './canonical-payloads.js';
import { writeCanonicalSnapshot } from './disk-canonical-snapshot.js';
import type { ChangeSink } from './disk-state-table.js';
import { diskFullError } from './disk-write-failure.js';
import { MaterializationIndexBuilder } from './materialization-index.js';
import type { LmdbStore } from './lmdb-store.js';
import { RecordFileWriter, syncFile, type SealedRecordFile } from './record-file.js';

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

/**
 * The incremental chain the next checkpoint builds on. Change-log segments are numbered in the
 * order they were opened; the chain holds every change of the segments before `nextSegment`.
 */
interface Chain {
  base: ChainFile | undefined;
  deltas: ChainFile[];
  deltaBytes: number;
  /** The first segment whose changes are not in the chain yet. */
  nextSegment: number;
}

/** A sealed change-log segment waiting to be uploaded by a delta. */
interface PendingSegment {
  sealed: SealedRecordFile;
  segment: number;
  checkpointId: number;
}

/** What the snapshotter reads of its backend (the disk keyed backend), at the barrier and while writing. */
export interface DiskSnapshotSource {
  readonly store: LmdbStore;
  readonly config: { incremental: boolean; materializeAfterRatio: number; materializeEvery: number };
  readonly options: Pick<KeyedStateBackendOptions, 'operator' | 'subtask' | 'ttlClock'>;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  /** State names by change-log index. */
  readonly stateNames: string[];
  /** The next list-element sequence number. */
  readonly sequence: number;
  readonly timers: ReadonlyMap<string, HeapTimerQueue>;
  /** The key groups whose timers running snapshots have not read yet (the timer queues report changes here first). */
  readonly pendingTimers: PendingParts;
  snapshotStateMetas(): SnapshotStateMeta[];
  /** The TTL config of a registered state (undefined without TTL or while unclaimed). */
  ttlOf(name: string): StateTtlConfig | undefined;
  /** The key serializer of a registered map state (undefined otherwise). */
  keySerializerOf(name: string): TypeSerializer<unknown> | undefined;
  place(state?: string): string;
}

/** Change-log bytes kept before any materialization exists (beyond that the next checkpoint materializes anyway). */
const LOG_LIMIT_WITHOUT_BASE = 256 << 20;

/**
 * Owns the change log, the chain of uploaded files and the snapshot runners of one backend.
 *
 * Invariant: a delta is acknowledged only with every change between its chain's base and its
 * barrier. A segment whose changes were thrown away (the log outgrew its limit, or its file is
 * gone) is recorded as a gap; a chain across a gap is never extended by a delta, the next
 * checkpoint materializes instead, and a delta already taken across it is declined.
 */
export class DiskSnapshotter implements ChangeSink {
  /** The open change-log segment (incremental mode), written by every state write. */
  private changes: RecordFileWriter | undefined;
  /** Number of the open segment (or of the next one while none is open). */
  private segment = 0;
  /** Segments whose changes were thrown away without a materialization after them (ascending). */
  private gaps: number[] = [];
  /** Materializations taken (barrier passed) and not yet written. */
  private materializing = 0;
  private pendingBytes = 0;
  /** Sealed segments not yet in the chain, with the checkpoint that sealed them (ascending). */
  private pending: PendingSegment[] = [];
  private chain: Chain = { base: undefined, deltas: [], deltaBytes: 0, nextSegment: 0 };
  /** Runners taken and not yet finished or released. */
  private readonly inFlight = new Set<DiskSnapshotRunner>();
  /** Runners write one after another: each builds on the chain the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly token = randomBytes(5).toString('hex');
  private disposed = false;

  constructor(
    private readonly backend: DiskSnapshotSource,
    private readonly dir: string,
  ) {
    if (backend.config.incremental) this.changes = this.openSegment();
  }

  put(stateIndex: number, key: Uint8Array, value: Uint8Array): void {
    const log = this.changes;
    if (log === undefined) return;
    try {
      log.put(stateIndex, key, value);
    } catch (cause) {
      throw this.writeFailure(cause);
    }
    if (log.size > this.logLimit) this.dropLog();
  }

  delete(stateIndex: number, key: Uint8Array): void {
    const log = this.changes;
    if (log === undefined) return;
    try {
      log.delete(stateIndex, key);
    } catch (cause) {
      throw this.writeFailure(cause);
    }
    if (log.size > this.logLimit) this.dropLog();
  }

  /** A full disk becomes STATE_DISK_FULL naming the state directory; anything else stays as it is. */
  private writeFailure(cause: unknown): unknown {
    return diskFullError({ place: this.backend.place(), dir: this.dir, cause }) ?? cause;
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

  /**
   * The log outgrew what a delta chain may hold (or nothing checkpoints): the open segment is
   * thrown away, which leaves a gap, and no segment is written until the next checkpoint, which
   * materializes. Sealed segments stay while a delta taken before the gap may still upload them.
   */
  private dropLog(): void {
    if (this.changes === undefined) return;
    this.changes.discard();
    rmSync(this.changes.path, { force: true });
    this.changes = undefined;
    this.gaps.push(this.segment++);
    this.prunePending();
  }

  /** True when a segment in [from, to) lost its changes. */
  private hasGap(from: number, to = Number.POSITIVE_INFINITY): boolean {
    return this.gaps.some((g) => g >= from && g < to);
  }

  /**
   * Deletes the sealed segments no delta can use any more: those before a gap that no delta in
   * flight needs. A deleted segment the chain had not reached becomes a gap itself.
   */
  private prunePending(): void {
    // Without a chain, and no materialization on its way to become one, no delta can come before a new base.
    const noChain = this.chain.base === undefined && ![...this.inFlight].some((r) => r.kind === 'materialization' && r.shared !== undefined);
    const lastGap = noChain ? Number.POSITIVE_INFINITY : this.gaps.length === 0 ? -1 : this.gaps[this.gaps.length - 1];
    let needed = -1;
    for (const r of this.inFlight) if (r.kind === 'delta') needed = Math.max(needed, r.frozen.nextSegment);
    const kept: PendingSegment[] = [];
    for (const p of this.pending) {
      if (p.segment > lastGap || p.segment < needed) {
        kept.push(p);
        continue;
      }
      rmSync(p.sealed.path, { force: true });
      if (!noChain && p.segment >= this.chain.nextSegment) this.addGap(p.segment);
    }
    this.pending = kept;
    this.pendingBytes = kept.reduce((n, p) => n + p.sealed.bytes, 0);
    if (noChain) this.gaps = []; // the first base covers them
  }

  private addGap(segment: number): void {
    if (!this.gaps.includes(segment)) this.gaps = [...this.gaps, segment].sort((a, b) => a - b);
  }

  snapshot(options: KeyedSnapshotOptions): KeyedSnapshotRunner {
    const backend = this.backend;
    const { checkpointId, shared } = options;
    if (this.disposed) throw new FloeError('CHECKPOINT_DECLINED', `${backend.place()}: the backend was closed before checkpoint ${checkpointId} was taken`);
    if (options.canonical === true) return this.canonicalSnapshot(checkpointId);
    backend.store.commit();
    const chain = this.chain;
    const config = backend.config;
    try {
      if (this.changes !== undefined) {
        const sealed = this.changes.seal();
        if (sealed.records > 0) {
          this.pending.push({ sealed, segment: this.segment, checkpointId });
          this.pendingBytes += sealed.bytes;
        } else rmSync(sealed.path, { force: true });
        this.changes = undefined;
        this.segment++;
      }
    } catch (cause) {
      throw this.writeFailure(cause);
    }
    // Without shared storage (tests, harnesses) the whole state goes inline into the task's file.
    const materialize =
      shared === undefined ||
      !config.incremental ||
      chain.base === undefined ||
      this.hasGap(chain.nextSegment) ||
      chain.deltas.length >= config.materializeEvery ||
      chain.deltaBytes > chain.base.size * config.materializeAfterRatio;
    if (config.incremental) {
      try {
        this.changes = this.openSegment();
      } catch (cause) {
        throw this.writeFailure(cause);
      }
    }
    const view = materialize ? backend.store.snapshot() : undefined;
    if (view !== undefined) this.materializing++;
    const runner = new DiskSnapshotRunner(this, this.freeze(checkpointId), view, shared, view === undefined ? 'delta' : 'materialization');
    this.inFlight.add(runner);
    return runner;
  }

  /**
   * A self-contained snapshot in the canonical block format (savepoints): a read view of the store
   * (O(1)) and the timers now, the blocks when written. The change log and the chain are not
   * touched, so the next checkpoint continues the chain as if this snapshot had not been taken.
   */
  private canonicalSnapshot(checkpointId: number): KeyedSnapshotRunner {
    const view = this.backend.store.snapshot();
    const runner = new DiskSnapshotRunner(this, this.freeze(checkpointId), view, undefined, 'canonical');
    this.inFlight.add(runner);
    return runner;
  }

  /** What a snapshot captures at its barrier besides the store's read view. */
  private freeze(checkpointId: number): Frozen {
    const backend = this.backend;
    const names = [...backend.stateNames];
    const metas = backend.snapshotStateMetas();
    return {
      checkpointId,
      nextSegment: this.segment,
      names,
      metas,
      shapes: metas.map((meta) => payloadShape(meta, builtInSerializer(meta.keySerializer) ?? backend.keySerializerOf(meta.name))),
      sequence: backend.sequence,
      timerQueues: [...backend.timers.keys()],
      timers: new TimerSnapshot([...backend.timers.values()], backend.pendingTimers, backend.keyGroupRange.startKeyGroup),
      ttlNow: backend.options.ttlClock.now(),
      dropExpired: names.map((name) => {
        const ttl = backend.ttlOf(name);
        return ttl !== undefined && ttl.cleanupFullSnapshot ? ttl : undefined;
      }),
    };
  }

  /** Queues a runner's write behind the ones before it. */
  enqueue(runner: DiskSnapshotRunner): Promise<KeyedSnapshotResult> {
    const run = async (): Promise<KeyedSnapshotResult> => {
      try {
        this.checkRunning(runner);
        if (runner.kind === 'canonical') return await this.writeCanonical(runner);
        return runner.kind === 'materialization' ? await this.writeMaterialization(runner) : await this.writeDelta(runner);
      } finally {
        runner.finish();
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** A runner is done (written, failed or released): forget it, and what only it needed. */
  settled(runner: DiskSnapshotRunner): void {
    if (!this.inFlight.delete(runner)) return;
    if (runner.kind === 'materialization') this.materializing--;
    this.prunePending();
  }

  /** Continues the chain of a restored snapshot (same key groups), so the next checkpoint stays incremental. */
  adoptChain(files: ChainFile[]): void {
    const [base, ...deltas] = files;
    // Restoring wrote into the store directly: the open segment holds only later changes.
    this.chain = { base, deltas, deltaBytes: deltas.reduce((n, f) => n + f.size, 0), nextSegment: this.segment };
  }

  /**
   * Stops every runner: one not written yet releases its read view now, the one being written
   * stops at its next step and declines. Resolves once no runner touches the store any more, so
   * the caller may close it.
   */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.changes?.discard();
    this.changes = undefined;
    for (const runner of [...this.inFlight]) runner.release();
    await this.queue;
  }

  /** Throws CHECKPOINT_DECLINED when the runner was released or the backend closed meanwhile. */
  private checkRunning(runner: DiskSnapshotRunner): void {
    const id = runner.frozen.checkpointId;
    if (this.disposed) throw new FloeError('CHECKPOINT_DECLINED', `${this.backend.place()}: the backend was closed while checkpoint ${id} was written`);
    if (runner.released) throw new FloeError('CHECKPOINT_DECLINED', `${this.backend.place()}: checkpoint ${id} was aborted while it was written`);
  }

  private openSegment(): RecordFileWriter {
    const path = join(this.dir, `changelog-${this.token}-${this.segment}.kv`);
    const names = this.backend.stateNames;
    return new RecordFileWriter(path, 'changelog', (i) => names[i]);
  }

  private sharedName(kind: string, checkpointId: number, n = 0): string {
    const o = this.backend.options;
    return `shared/${o.operator.replace(/[^A-Za-z0-9_.-]/g, '_')}-${o.subtask}-${this.token}-${checkpointId}-${n}.${kind}.kv`;
  }

  private writeCanonical(runner: DiskSnapshotRunner): Promise<KeyedSnapshotResult> {
    const { frozen } = runner;
    const backend = this.backend;
    return writeCanonicalSnapshot({
      store: backend.store,
      view: runner.view!,
      keyGroupRange: backend.keyGroupRange,
      maxParallelism: backend.maxParallelism,
      names: frozen.names,
      metas: frozen.metas,
      shapes: frozen.shapes,
      dropExpired: frozen.dropExpired,
      ttlNow: frozen.ttlNow,
      timerQueues: frozen.timerQueues,
      timers: frozen.timers.byQueue(),
      checkRunning: () => this.checkRunning(runner),
      onProgress: (done, total) => (runner.done = done / total),
      place: (state) => backend.place(state),
    });
  }

  private async writeMaterialization(runner: DiskSnapshotRunner): Promise<KeyedSnapshotResult> {
    const { frozen, shared } = runner;
    const view = runner.view!;
    const backend = this.backend;
    const path = join(this.dir, `materialization-${this.token}-${frozen.checkpointId}.kv`);
    let writer: RecordFileWriter;
    try {
      writer = new RecordFileWriter(path, 'materialization', (i) => frozen.names[i]);
    } catch (cause) {
      throw this.writeFailure(cause);
    }
    let sealed: SealedRecordFile;
    let index: MaterializationIndex;
    const indexer = new MaterializationIndexBuilder(frozen.names);
    let sliceStart = performance.now();
    try {
      for (let i = 0; i < frozen.names.length; i++) {
        const db = backend.store.db(frozen.names[i]);
        // Cleanup on full snapshot drops what had expired at the barrier; without it expired entries stay, as on the heap.
        const ttl = frozen.dropExpired[i];
        const now = frozen.ttlNow;
        let start: Buffer = Buffer.alloc(0);
        let exclusive = false;
        for (;;) {
          this.checkRunning(runner);
          const { visited, lastKey } = backend.store.scanViews(db, start, exclusive, MATERIALIZE_CHUNK, view, (key, value) => {
            if (ttl !== undefined && ttl.isExpired(value.readDoubleLE(0), now)) return;
            indexer.add(i, key, writer.size);
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
      runner.releaseView();
      index = indexer.finish(writer.size);
      sealed = writer.seal();
    } catch (error) {
      writer.discard();
      rmSync(path, { force: true });
      throw this.writeFailure(error);
    }
    const timers = encodeTimers(frozen);
    if (shared === undefined) {
      const bytes = readFileSync(sealed.path);
      rmSync(sealed.path, { force: true });
      const file: ChainFile = { name: '', size: bytes.length, sha256: sealed.sha256, kind: 'materialization', records: sealed.records };
      return this.result(frozen, [file], timers, [timers, bytes], bytes.length + timers.length, true, sealed.records);
    }
    syncFile(sealed.path);
    let stored;
    try {
      stored = await shared.put(sealed.path, { name: this.sharedName('materialization', frozen.checkpointId), size: sealed.bytes, sha256: sealed.sha256 });
    } finally {
      rmSync(sealed.path, { force: true });
    }
    this.checkRunning(runner);
    const base: ChainFile = { ...stored, kind: 'materialization', records: sealed.records, index };
    if (frozen.nextSegment >= this.chain.nextSegment) this.adoptBase(base, frozen.nextSegment);
    return this.result(frozen, [base], timers, [timers], stored.size + timers.length, false, sealed.records);
  }

  /** A written materialization holds every segment before its barrier: the chain starts over from it. */
  private adoptBase(base: ChainFile, nextSegment: number): void {
    this.chain = { base, deltas: [], deltaBytes: 0, nextSegment };
    for (const p of this.pending) if (p.segment < nextSegment) rmSync(p.sealed.path, { force: true });
    this.pending = this.pending.filter((p) => p.segment >= nextSegment);
    this.pendingBytes = this.pending.reduce((n, p) => n + p.sealed.bytes, 0);
    this.gaps = this.gaps.filter((g) => g >= nextSegment);
  }

  private async writeDelta(runner: DiskSnapshotRunner): Promise<KeyedSnapshotResult> {
    const { frozen } = runner;
    const shared = runner.shared!;
    const chain = this.chain;
    const id = frozen.checkpointId;
    const declined = (why: string, next = '; the next checkpoint materializes the whole state') =>
      new FloeError('CHECKPOINT_DECLINED', `${this.backend.place()}: checkpoint ${id} is declined: ${why}${next}`);
    if (chain.base === undefined || chain.nextSegment > frozen.nextSegment) throw declined('a later checkpoint was written first and replaced the chain it was to extend', '');
    if (this.hasGap(chain.nextSegment, frozen.nextSegment)) throw declined('changes before its barrier were dropped from the change log');
    let uploaded = 0;
    let n = 0;
    for (const item of this.pending.filter((p) => p.segment >= chain.nextSegment && p.segment < frozen.nextSegment)) {
      const { sealed } = item;
      if (!existsSync(sealed.path)) {
        this.forget(item);
        this.addGap(item.segment);
        throw declined(`its change-log segment ${sealed.path} is gone`);
      }
      syncFile(sealed.path);
      const stored = await shared.put(sealed.path, { name: this.sharedName('changelog', id, n++), size: sealed.bytes, sha256: sealed.sha256 });
      this.checkRunning(runner);
      this.forget(item);
      rmSync(sealed.path, { force: true });
      chain.deltas.push({ ...stored, kind: 'changelog', records: sealed.records });
      chain.deltaBytes += stored.size;
      chain.nextSegment = item.segment + 1;
      uploaded += stored.size;
    }
    chain.nextSegment = frozen.nextSegment;
    const timers = encodeTimers(frozen);
    return this.result(frozen, [chain.base, ...chain.deltas], timers, [timers], uploaded + timers.length, false, 0);
  }

  private forget(item: PendingSegment): void {
    this.pending = this.pending.filter((p) => p !== item);
    this.pendingBytes -= item.sealed.bytes;
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

/**
 * One checkpoint's snapshot: taken at the barrier, written in its turn of the snapshotter's queue.
 * `release()` before the write frees the read view at once; during the write it makes the write
 * stop at its next step and decline; after it, it does nothing.
 */
class DiskSnapshotRunner implements KeyedSnapshotRunner {
  released = false;
  private started = false;
  /** Share of the key groups written (canonical snapshots report it; others jump to 1 when written). */
  done = 0;

  constructor(
    private readonly owner: DiskSnapshotter,
    readonly frozen: Frozen,
    /** The store's read view at the barrier (materializations, canonical snapshots), until copied out. */
    public view: Transaction | undefined,
    readonly shared: SharedStateStore | undefined,
    /** A chain's base, a change-log delta on it, or a canonical snapshot outside the chain. */
    readonly kind: 'materialization' | 'delta' | 'canonical',
  ) {}

  write(): Promise<KeyedSnapshotResult> {
    if (this.started || this.released)
      return Promise.reject(new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${this.frozen.checkpointId} of the disk backend was ${this.started ? 'written' : 'aborted'} already`));
    this.started = true;
    return this.owner.enqueue(this);
  }

  progress(): number {
    return this.done;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    // A write in progress checks `released` before every use of the view, so the view can go now.
    this.releaseView();
    this.releaseTimers();
    if (!this.started) this.owner.settled(this);
  }

  /** Frees the read view (its entries are copied out); the store may be closed only after every view is freed. */
  releaseView(): void {
    this.view?.done();
    this.view = undefined;
  }

  /** The runner will not read timers any more: records stop saving them for it. */
  releaseTimers(): void {
    this.frozen.timers.release();
  }

  /** The runner will not touch the store again. */
  finish(): void {
    this.done = 1;
    this.releaseView();
    this.releaseTimers();
    this.owner.settled(this);
  }
}

/** What the synchronous part of a snapshot captured besides the store's read view. */
interface Frozen {
  checkpointId: number;
  /** The segment opened at the barrier: the snapshot holds every change of the segments before it. */
  nextSegment: number;
  names: string[];
  metas: KeyedSnapshotMeta['states'];
  /** Per state: how its entries become canonical payloads. */
  shapes: PayloadShape[];
  sequence: number;
  timerQueues: string[];
  /** Read key group by key group: at write time, or before a record changes one. */
  timers: TimerSnapshot;
  /** TTL time at the barrier: expiry in the snapshot is judged then, not when it is written. */
  ttlNow: number;
  /** Per state (by index): its TTL config when it asks for cleanup on full snapshot. */
  dropExpired: Array<StateTtlConfig | undefined>;
}

/** Timers as msgpack: [queue index, timestamp, namespace, key bytes] in firing order per queue. */
function encodeTimers(frozen: Frozen): Uint8Array {
  const rows: Array<[number, number, Namespace, Uint8Array]> = [];
  frozen.timers.byQueue().forEach((entries, q) => {
    for (const t of entries) rows.push([q, t.timestamp, t.namespace, encodeKey(t.key)]);
  });
  return packr.pack(rows);
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
