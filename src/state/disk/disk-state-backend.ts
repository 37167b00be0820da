// The disk state backend (does I/O): keyed state serialized in an embedded LMDB store on local
// disk, so state is bounded by the disk rather than the heap; checkpoints are incremental (a
// change log of the state on top of a periodic materialization, Flink's changelog backend idea).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FloeError, describeValue } from '../../core/errors.js';
import { encodeKey, type KeyId, keyId } from '../../core/key-encoding.js';
import { keyGroupForHash, type KeyGroupRange } from '../../core/key-groups.js';
import { murmur3x86_32 } from '../../core/murmur.js';
import type {
  AggregatingStateDescriptor,
  AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from '../descriptors.js';
import type { KeyContext } from '../heap/heap-state-handle.js';
import { HeapTimerQueue } from '../heap/heap-timer-queue.js';
import { PendingParts } from '../heap/pending-parts.js';
import { beforeTimerChange } from '../heap/timer-snapshot.js';
import { stateMeta } from '../snapshot-format/payload-codec.js';
import type { DiskSnapshotMeta, KeyedSnapshotRunner, RestoredKeyedState, SnapshotStateMeta } from '../keyed-snapshot.js';
import type {
  InternalKvState,
  KeyedSnapshotOptions,
  KeyedStateBackend,
  KeyedStateBackendOptions,
  KeyGroupedTimerQueue,
  Namespace,
  StateBackend,
  StateEntry,
  StateInfo,
  RestoreProgress,
} from '../keyed-state-backend.js';
import { VOID_NAMESPACE, executingKeyedBackend, keyOutsideRangeError, partitionedStateOf } from '../keyed-state-backend.js';
import { serializerIdentity, type TypeSerializer } from '../serde/type-serializer.js';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state.js';
import { checkRestoredState, checkSameRegistration, type StatePlace, statePlaceOf } from '../state-compatibility.js';
import type { StateTtlConfig } from '../ttl/state-ttl-config.js';
import { TtlPolicy } from '../ttl/ttl-support.js';
import { convertDeferredEntries } from './disk-canonical-restore.js';
import { loadSnapshots } from './disk-restore.js';
import { DiskSnapshotter } from './disk-snapshot.js';
import { DiskAggregatingState, DiskListState, DiskMapState, DiskReducingState, type DiskStateHandle, DiskValueState } from './disk-state-handles.js';
import { DiskIncrementalCleanup, DiskStateTable, TTL_TIMESTAMP_BYTES, type DiskKeyContext } from './disk-state-table.js';
import { decodeStoredKey, keyPart, namespacePart, parseKey } from './key-layout.js';
import { LmdbStore } from './lmdb-store.js';
import { lockStateDir, type StateDirLock } from './state-dir-lock.js';

/** Configuration of the disk backend. */
export interface DiskStateBackendOptions {
  /**
   * Local working directory of the job's state (default `<tmp>/floe-state/<job>`). One running job
   * per directory: a second one fails with STATE_DIR_IN_USE. Its content is rebuilt from the
   * checkpoint on every start, never trusted across runs.
   */
  dir?: string;
  /** Incremental checkpoints (default true); false writes a full materialization every checkpoint. */
  incremental?: boolean;
  /**
   * Start a new materialization once the change-log segments since the last one hold this many
   * times its bytes (default 1: restore reads at most about twice the state).
   */
  materializeAfterRatio?: number;
  /** ... or after this many incremental checkpoints in a row (default 20). */
  materializeEvery?: number;
  /** Store writes per LMDB transaction (default 32768). */
  commitEvery?: number;
}

/**
 * Creates disk keyed backends: `stateBackend: 'disk'` or `new DiskStateBackend({ dir })`.
 *
 * @example
 * const env = StreamEnvironment.create({ stateBackend: new DiskStateBackend({ dir: '/var/floe/state' }) });
 */
export class DiskStateBackend implements StateBackend {
  readonly name = 'disk';
  readonly incremental: boolean;
  private lock: StateDirLock | undefined;
  private lockedRoot: string | undefined;
  private users = 0;

  constructor(readonly options: DiskStateBackendOptions = {}) {
    this.incremental = options.incremental ?? true;
  }

  /** The working directory of a job. */
  rootFor(job: string): string {
    return resolve(this.options.dir ?? join(tmpdir(), 'floe-state', job.replace(/[^A-Za-z0-9_.-]/g, '_')));
  }

  createKeyedStateBackend(options: KeyedStateBackendOptions): KeyedStateBackend {
    const root = this.rootFor(options.job ?? 'job');
    if (this.lock === undefined) {
      // The lock proves no live job uses the directory, so what is left there is a dead run's.
      this.lock = lockStateDir(root, { job: options.job ?? 'job' });
      this.lockedRoot = root;
      wipeExceptLock(root);
    } else if (this.lockedRoot !== root)
      throw new FloeError('INVALID_ARGUMENT', `One DiskStateBackend serves one job at a time (it holds ${this.lockedRoot}); create another for job '${options.job}'`);
    this.users++;
    const dir = join(root, `${options.operator.replace(/[^A-Za-z0-9_.-]/g, '_')}-${options.subtask}-${randomBytes(4).toString('hex')}`);
    return new DiskKeyedStateBackend(options, {
      dir,
      incremental: this.incremental,
      materializeAfterRatio: this.options.materializeAfterRatio ?? 1,
      materializeEvery: this.options.materializeEvery ?? 20,
      commitEvery: this.options.commitEvery ?? 32768,
      onDisposed: () => this.release(),
    });
  }

  private release(): void {
    this.users--;
    if (this.users === 0) this.releaseLock();
  }

  private releaseLock(): void {
    this.lock?.release();
    this.lock = undefined;
    this.lockedRoot = undefined;
  }
}

/** Removes what a dead run left in `root` (the lock, and lock files being written, stay). */
function wipeExceptLock(root: string): void {
  for (const entry of readdirSync(root)) if (!entry.startsWith('LOCK')) rmSync(join(root, entry), { recursive: true, force: true });
}

/** The heap timer queues' view of the current key; its Map id is computed only when a timer needs it. */
class TimerKeyContext implements Pick<KeyContext, 'key' | 'id'> {
  key: unknown = undefined;
  keyGroup = -1;
  private cachedId: KeyId | undefined;

  set(key: unknown, keyGroup: number): void {
    this.key = key;
    this.keyGroup = keyGroup;
    this.cachedId = undefined;
  }

  get id(): KeyId {
    if (this.cachedId === undefined) this.cachedId = keyId(this.key);
    return this.cachedId;
  }

  set id(value: KeyId) {
    this.cachedId = value;
  }
}

/** Per-instance settings decided by {@link DiskStateBackend}. */
export interface DiskInstanceConfig {
  dir: string;
  incremental: boolean;
  materializeAfterRatio: number;
  materializeEvery: number;
  commitEvery: number;
  onDisposed(): void;
}

/** One registered (or restored) state. */
export interface DiskRegisteredState {
  name: string;
  descriptor: StateDescriptor | undefined;
  handle: DiskStateHandle | undefined;
  table: DiskStateTable | undefined;
  /** Meta of the snapshot it came from, until a descriptor claims it. */
  restoredMeta: SnapshotStateMeta | undefined;
}

/**
 * The working keyed state of one operator instance in an LMDB store. Access is synchronous
 * (LMDB reads are memory-mapped); handles share one key context, and every write also goes to
 * the current change-log segment for the next incremental checkpoint.
 */
export class DiskKeyedStateBackend implements KeyedStateBackend {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  readonly store: LmdbStore;
  readonly ctx: DiskKeyContext = { key: undefined, keyGroup: -1, keyPart: Buffer.alloc(0), version: 0 };
  /** The key context of the timer queues (shared with the heap's timer implementation). */
  private readonly timerCtx = new TimerKeyContext();
  readonly states = new Map<string, DiskRegisteredState>();
  /** State names by change-log index. */
  readonly stateNames: string[] = [];
  readonly timers = new Map<string, HeapTimerQueue>();
  /** The key groups whose timers running snapshots have not read yet. */
  readonly pendingTimers: PendingParts;
  private perRecordCleanups: DiskIncrementalCleanup[] = [];
  /** List elements are keyed by this counter, so appends never read the list; restored with the snapshot. */
  sequence = 0;
  /** What restore() loaded so far. */
  readonly restored: RestoreProgress = { entries: 0, bytes: 0 };
  private readonly snapshotter: DiskSnapshotter;
  private disposing: Promise<void> | undefined;
  /** The restore in progress, if any: the store closes only after it stopped. */
  private restoring: Promise<void> | undefined;
  /** Names this operator instance (and a state) in errors. */
  private readonly errorPlace: StatePlace;

  constructor(
    readonly options: KeyedStateBackendOptions,
    readonly config: DiskInstanceConfig,
  ) {
    this.errorPlace = statePlaceOf(options);
    this.keyGroupRange = options.keyGroupRange;
    this.pendingTimers = new PendingParts(this.keyGroupRange.numberOfKeyGroups);
    this.maxParallelism = options.maxParallelism;
    mkdirSync(config.dir, { recursive: true });
    this.store = new LmdbStore({ path: join(config.dir, 'store'), commitEvery: config.commitEvery, place: this.place() });
    this.snapshotter = new DiskSnapshotter(this, config.dir);
  }

  setCurrentKey(key: unknown): void {
    executingKeyedBackend.current = this;
    const ctx = this.ctx;
    if (key === ctx.key && key !== undefined) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeKey(key);
    } catch (cause) {
      throw new FloeError('INVALID_KEY', `${this.place()}: unusable key ${describeValue(key)}. ${(cause as Error).message}`, {
        context: { job: this.options.job, operator: this.options.operator, subtask: this.options.subtask },
        cause,
      });
    }
    const keyGroup = keyGroupForHash(murmur3x86_32(bytes), this.maxParallelism);
    if (!this.keyGroupRange.contains(keyGroup)) throw keyOutsideRangeError(this.place(), key, keyGroup, this.keyGroupRange);
    ctx.keyPart = keyPart(keyGroup, bytes, () => this.place(), key);
    ctx.key = key;
    ctx.keyGroup = keyGroup;
    ctx.version++;
    this.timerCtx.set(key, keyGroup);
  }

  getCurrentKey(): unknown {
    return this.ctx.key;
  }

  getCurrentKeyGroup(): number {
    return this.ctx.keyGroup;
  }

  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> & InternalKvState {
    return this.register(descriptor, (t) => new DiskValueState<T>(t, descriptor.defaultValue)) as unknown as ValueState<T> & InternalKvState;
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> & InternalKvState {
    return this.register(descriptor, (t) => new DiskListState<T>(t, this)) as unknown as ListState<T> & InternalKvState;
  }

  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV> & InternalKvState {
    return this.register(descriptor, (t) => new DiskMapState<UK, UV>(t)) as unknown as MapState<UK, UV> & InternalKvState;
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> & InternalKvState {
    return this.register(descriptor, (t) => new DiskReducingState<T>(t, descriptor.reduce)) as unknown as ReducingState<T> & InternalKvState;
  }

  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> & InternalKvState {
    return this.register(descriptor, (t) => new DiskAggregatingState<IN, ACC, OUT>(t, descriptor.aggregate)) as unknown as AggregatingState<IN, OUT> &
      InternalKvState;
  }

  getPartitionedState(descriptor: AnyStateDescriptor): InternalKvState {
    return partitionedStateOf(this, descriptor);
  }


  /** The next list-element sequence number (SequenceSource). */
  nextSequence(): number {
    return this.sequence++;
  }

  onRecordProcessed(): void {
    const cleanups = this.perRecordCleanups;
    for (let i = 0; i < cleanups.length; i++) cleanups[i].run();
  }

  getTimerQueue(name: string): KeyGroupedTimerQueue {
    let queue = this.timers.get(name);
    if (queue === undefined) {
      queue = new HeapTimerQueue(this.timerCtx, () => this.ctx.keyGroup, beforeTimerChange(this.pendingTimers, this.keyGroupRange.startKeyGroup));
      this.timers.set(name, queue);
    }
    return queue;
  }

  stateInfos(): StateInfo[] {
    return [...this.states.values()]
      .filter((s) => s.descriptor !== undefined)
      .map(({ descriptor: d }) => ({
        name: d!.name,
        kind: d!.kind,
        serializer: serializerIdentity(d!.serializer),
        ...(d!.ttl === undefined ? {} : { ttlMs: d!.ttl.timeToLiveMs }),
      }));
  }

  entries(stateName: string): StateEntry[] {
    return this.states.get(stateName)?.handle?.inspect() ?? [];
  }

  /** A scan in key order: a key's entries are adjacent, so each key is yielded once without a set of seen keys. */
  *keys(stateName: string, namespace: Namespace = VOID_NAMESPACE): Generator<unknown> {
    const table = this.states.get(stateName)?.table;
    if (table === undefined) return;
    const wanted = namespacePart(namespace);
    let last: Buffer | undefined;
    for (const { key } of table.all()) {
      const parsed = parseKey(key);
      if (!key.subarray(parsed.keyPartEnd, parsed.prefixEnd).equals(wanted)) continue;
      const part = key.subarray(0, parsed.keyPartEnd);
      if (last !== undefined && part.equals(last)) continue;
      last = Buffer.from(part);
      yield decodeStoredKey(key, parsed);
    }
  }

  /** Exact: a scan over the state counting distinct keys. Progress lines use {@link estimatedNumKeys}. */
  numKeys(stateName: string): number {
    const table = this.states.get(stateName)?.table;
    if (table === undefined) return 0;
    let n = 0;
    let last: Buffer | undefined;
    for (const { key } of table.all()) {
      const part = key.subarray(0, parseKey(key).keyPartEnd);
      if (last === undefined || !part.equals(last)) n++;
      last = part;
    }
    return n;
  }

  /** Store entries of the state (LMDB keeps the count): equal to numKeys for value-like state without windows. */
  estimatedNumKeys(stateName: string): number {
    const table = this.states.get(stateName)?.table;
    if (table === undefined) return 0;
    return (table.db.getStats() as { entryCount: number }).entryCount;
  }

  restoreProgress(): RestoreProgress {
    return { ...this.restored };
  }

  totalEntries(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.table !== undefined) n += (s.table.db.getStats() as { entryCount: number }).entryCount;
    return n;
  }

  snapshot(options: KeyedSnapshotOptions): KeyedSnapshotRunner {
    return this.snapshotter.snapshot(options);
  }

  async restore(snapshots: RestoredKeyedState[]): Promise<void> {
    const loading = loadSnapshots(this, snapshots);
    this.restoring = loading.catch(() => {});
    await loading;
  }

  /** Continues the chain of a restored snapshot (same key groups), so the next checkpoint stays incremental. */
  adoptChain(chain: DiskSnapshotMeta['chain']): void {
    this.snapshotter.adoptChain(chain);
  }

  /** True once dispose() started: a restore in progress stops at its next chunk. */
  get closing(): boolean {
    return this.disposing !== undefined;
  }

  /** The index of a state name in change-log records (assigned on first use, also for restored states). */
  indexOf(name: string): number {
    let index = this.stateNames.indexOf(name);
    if (index < 0) index = this.stateNames.push(name) - 1;
    return index;
  }

  /** Metadata of every state that has data: registered ones and restored ones not claimed yet. */
  snapshotStateMetas(): SnapshotStateMeta[] {
    return this.stateNames.map((name) => {
      const s = this.states.get(name)!;
      return s.descriptor !== undefined ? stateMeta(s.descriptor, s.descriptor.ttl !== undefined) : s.restoredMeta!;
    });
  }

  /** The TTL config of a registered state (undefined without TTL or while unclaimed). */
  ttlOf(name: string): StateTtlConfig | undefined {
    return this.states.get(name)?.descriptor?.ttl;
  }

  /** The key serializer of a registered map state (undefined otherwise). */
  keySerializerOf(name: string): TypeSerializer<unknown> | undefined {
    const d = this.states.get(name)?.descriptor;
    return d?.kind === 'map' ? ((d as MapStateDescriptor<unknown, unknown>).keySerializer as TypeSerializer<unknown>) : undefined;
  }

  /** Names of restored states that no registered descriptor claimed (yet). */
  unclaimedRestoredStates(): string[] {
    return [...this.states.values()].filter((s) => s.descriptor === undefined).map((s) => s.name);
  }

  /** A restored state's data is in the store already; remember its meta until a descriptor claims it. */
  addRestoredState(meta: SnapshotStateMeta): void {
    const existing = this.states.get(meta.name);
    if (existing === undefined) {
      this.indexOf(meta.name);
      this.store.db(meta.name);
      this.states.set(meta.name, { name: meta.name, descriptor: undefined, handle: undefined, table: undefined, restoredMeta: meta });
    } else if (existing.descriptor !== undefined) checkRestoredState(existing.descriptor, meta, this.errorPlace);
  }

  /**
   * Stops and awaits every snapshot runner (a pending one declines its checkpoint) and a restore
   * in progress, then closes the store and removes the working directory. Safe while a checkpoint
   * is written or a restore loads: nothing touches the LMDB environment after it closed.
   */
  dispose(): Promise<void> {
    if (this.disposing === undefined) this.disposing = this.close();
    return this.disposing;
  }

  private async close(): Promise<void> {
    if (executingKeyedBackend.current === this) executingKeyedBackend.current = undefined;
    await this.snapshotter.dispose();
    await this.restoring;
    this.states.clear();
    this.timers.clear();
    this.perRecordCleanups = [];
    await this.store.close().catch(() => {});
    rmSync(this.config.dir, { recursive: true, force: true });
    this.config.onDisposed();
  }

  place(state?: string): string {
    return this.errorPlace.describe(state);
  }


  private register(descriptor: StateDescriptor, create: (table: DiskStateTable) => DiskStateHandle): DiskStateHandle {
    const existing = this.states.get(descriptor.name);
    if (existing?.descriptor !== undefined) {
      checkSameRegistration(existing.descriptor, descriptor, this.errorPlace);
      return existing.handle!;
    }
    const restoredMeta = existing?.restoredMeta;
    if (restoredMeta !== undefined) checkRestoredState(descriptor, restoredMeta, this.errorPlace);
    const ttl = descriptor.ttl === undefined ? undefined : new TtlPolicy(descriptor.ttl, this.options.ttlClock);
    const table = new DiskStateTable(
      descriptor.name,
      this.indexOf(descriptor.name),
      this.store,
      this.ctx,
      this.snapshotter,
      descriptor.serializer as TypeSerializer<unknown>,
      ttl,
    );
    if (restoredMeta?.kind === 'map')
      convertDeferredEntries(table, restoredMeta, (descriptor as MapStateDescriptor<unknown, unknown>).keySerializer as TypeSerializer<unknown>, this.place(descriptor.name));
    if (restoredMeta !== undefined && restoredMeta.ttl !== (ttl !== undefined)) adaptTtl(table, restoredMeta.ttl, this.options.ttlClock.now());
    const handle = create(table);
    handle.place = this.place(descriptor.name);
    const cleanupConfig = descriptor.ttl?.incrementalCleanup;
    if (ttl !== undefined && cleanupConfig !== undefined && cleanupConfig !== false) {
      handle.cleanup = new DiskIncrementalCleanup(table, cleanupConfig.cleanupSize, this.options.ttlClock);
      if (cleanupConfig.runCleanupForEveryRecord) this.perRecordCleanups.push(handle.cleanup);
    }
    this.states.set(descriptor.name, { name: descriptor.name, descriptor, handle, table, restoredMeta: undefined });
    return handle;
  }

}

/** TTL switched on or off since the checkpoint: add or strip the timestamp of every entry (as the heap adapts instead of failing). */
function adaptTtl(table: DiskStateTable, from: boolean, now: number): void {
  for (const { key, value } of [...table.all()]) {
    if (from) table.put(key, value.subarray(TTL_TIMESTAMP_BYTES));
    else {
      const out = Buffer.allocUnsafe(TTL_TIMESTAMP_BYTES + value.length);
      out.writeDoubleLE(now, 0);
      out.set(value, TTL_TIMESTAMP_BYTES);
      table.put(key, out);
    }
  }
}
