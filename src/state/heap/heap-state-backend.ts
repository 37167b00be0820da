// The heap state backend: keyed state as JavaScript objects in Maps (fastest; bounded by
// memory). One HeapKeyedStateBackend per keyed operator instance: key context, state registry,
// timer queues, inspection, snapshots. No I/O.
import { Packr } from 'msgpackr';
import { FloeError, describeValue } from '../../core/errors.js';
import { keyFromId } from '../../core/key-decoding.js';
import { keyId } from '../../core/key-encoding.js';
import { assignToKeyGroup, type KeyGroupRange } from '../../core/key-groups.js';
import type {
  AggregatingStateDescriptor,
  AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from '../descriptors.js';
import type { KeyedSnapshotRunner, RestoredKeyedState } from '../keyed-snapshot.js';
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
} from '../keyed-state-backend.js';
import { VOID_NAMESPACE, executingKeyedBackend, keyOutsideRangeError, partitionedStateOf } from '../keyed-state-backend.js';
import { MSGPACK_OPTIONS, serializerIdentity } from '../serde/type-serializer.js';
import { payloadDecoder } from '../snapshot-format/payload-codec.js';
import { checkBlockFormat, foreignSnapshotError, holdsBlocks, unreadableBlock } from '../snapshot-format/snapshot-labels.js';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state.js';
import { checkRestoredState, checkSameRegistration, type StatePlace, statePlaceOf } from '../state-compatibility.js';
import { TtlHeapListState } from '../ttl/ttl-list-state.js';
import { TtlHeapMapState } from '../ttl/ttl-map-state.js';
import { TtlHeapAggregatingState, TtlHeapReducingState } from '../ttl/ttl-reducing-state.js';
import { TtlStateHandle } from '../ttl/ttl-state-handle.js';
import { type IncrementalCleanup, TtlPolicy, type TtlValue } from '../ttl/ttl-support.js';
import { TtlHeapValueState } from '../ttl/ttl-value-state.js';
import { HeapListState } from './heap-list-state.js';
import { HeapMapState } from './heap-map-state.js';
import { HeapAggregatingState, HeapReducingState } from './heap-reducing-state.js';
import { HeapSnapshotRunner, type UnclaimedState, decodeBlock } from './heap-snapshot.js';
import type { HeapStateHandle, KeyContext } from './heap-state-handle.js';
import { HeapTimerQueue } from './heap-timer-queue.js';
import { HeapValueState } from './heap-value-state.js';
import { PendingParts } from './pending-parts.js';
import { beforeTimerChange } from './timer-snapshot.js';
import { StateTable } from './state-table.js';

const packr = new Packr(MSGPACK_OPTIONS);

/**
 * Creates heap keyed backends (configuration only; holds no state itself).
 *
 * @example
 * const backend = new HeapStateBackend().createKeyedStateBackend({
 *   operator: 'counter', subtask: 0, parallelism: 1, maxParallelism: 128,
 *   keyGroupRange: KeyGroupRange.of(0, 127), ttlClock: systemClock,
 * });
 * const count = backend.getState(new ValueStateDescriptor<number>('count'));
 * backend.setCurrentKey('user-1');
 * count.update((count.value() ?? 0) + 1);
 */
export class HeapStateBackend implements StateBackend {
  readonly name = 'heap';

  createKeyedStateBackend(options: KeyedStateBackendOptions): KeyedStateBackend {
    return new HeapKeyedStateBackend(options);
  }
}

interface RegisteredState {
  descriptor: StateDescriptor;
  handle: HeapStateHandle<any>;
  ttl: TtlPolicy | undefined;
}

/**
 * The working keyed state of one operator instance, as objects in memory. Every state is a
 * {@link StateTable} (namespace -> key id -> stored value); handles read the current key from one
 * shared key context, so a value read is one `Map.get`. Single-threaded, no I/O. Handles are
 * valid until {@link dispose}; values they return are the stored objects, not copies (as Flink's
 * heap backend): change them only through the state.
 */
export class HeapKeyedStateBackend implements KeyedStateBackend {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  /** The current key, shared by every handle: `id` is its Map identity, `keyGroup` computed on demand. */
  private readonly ctx: KeyContext = { key: undefined, id: '', keyGroup: -1, checkNewKey: () => void this.ownedKeyGroup() };
  private readonly states = new Map<string, RegisteredState>();
  private readonly timers = new Map<string, HeapTimerQueue>();
  /** Cleanups that run for every processed record (runCleanupForEveryRecord). */
  private perRecordCleanups: IncrementalCleanup<unknown>[] = [];
  /** The key groups whose timers running snapshots have not read yet; timer changes report here first. */
  private readonly pendingTimers: PendingParts;
  /** Restored entries of states whose descriptor was not registered yet; every snapshot keeps them. */
  private readonly pendingRestore = new Map<string, UnclaimedState>();

  /** Names this operator instance (and a state) in errors. */
  private readonly errorPlace: StatePlace;

  constructor(private readonly options: KeyedStateBackendOptions) {
    this.errorPlace = statePlaceOf(options);
    this.keyGroupRange = options.keyGroupRange;
    this.maxParallelism = options.maxParallelism;
    this.pendingTimers = new PendingParts(this.keyGroupRange.numberOfKeyGroups);
  }

  setCurrentKey(key: unknown): void {
    executingKeyedBackend.current = this;
    const ctx = this.ctx;
    // The runtime often sets the same key again (timers, chained operators): skip re-encoding it.
    // Keys must not be changed after they are set (as in Flink), so identity is enough here.
    if (key === ctx.key && key !== undefined) return;
    try {
      ctx.id = keyId(key);
    } catch (cause) {
      throw new FloeError('INVALID_KEY', `${this.place()}: unusable key ${describeValue(key)}. ${(cause as Error).message}`, {
        context: { job: this.options.job, operator: this.options.operator, subtask: this.options.subtask },
        cause,
      });
    }
    ctx.key = key;
    ctx.keyGroup = -1;
  }

  getCurrentKey(): unknown {
    return this.ctx.key;
  }

  getCurrentKeyGroup(): number {
    const ctx = this.ctx;
    if (ctx.keyGroup < 0) ctx.keyGroup = assignToKeyGroup(ctx.key, this.maxParallelism);
    return ctx.keyGroup;
  }

  /** The current key's key group; throws INVALID_KEY when this backend does not own it (a new key stored, a timer set). */
  private ownedKeyGroup(): number {
    const keyGroup = this.getCurrentKeyGroup();
    if (!this.keyGroupRange.contains(keyGroup)) throw keyOutsideRangeError(this.place(), this.ctx.key, keyGroup, this.keyGroupRange);
    return keyGroup;
  }

  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> & InternalKvState {
    return this.register(descriptor, (ttl) =>
      ttl === undefined
        ? new HeapValueState<T>(this.ctx, new StateTable(), descriptor.defaultValue)
        : new TtlHeapValueState<T>(this.ctx, new StateTable(), ttl),
    ) as unknown as ValueState<T> & InternalKvState;
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> & InternalKvState {
    return this.register(descriptor, (ttl) =>
      ttl === undefined ? new HeapListState<T>(this.ctx, new StateTable()) : new TtlHeapListState<T>(this.ctx, new StateTable(), ttl),
    ) as unknown as ListState<T> & InternalKvState;
  }

  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV> & InternalKvState {
    return this.register(descriptor, (ttl) =>
      ttl === undefined ? new HeapMapState<UK, UV>(this.ctx, new StateTable()) : new TtlHeapMapState<UK, UV>(this.ctx, new StateTable(), ttl),
    ) as unknown as MapState<UK, UV> & InternalKvState;
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> & InternalKvState {
    return this.register(descriptor, (ttl) =>
      ttl === undefined
        ? new HeapReducingState<T>(this.ctx, new StateTable(), descriptor.reduce)
        : new TtlHeapReducingState<T>(this.ctx, new StateTable(), ttl, descriptor.reduce),
    ) as unknown as ReducingState<T> & InternalKvState;
  }

  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> & InternalKvState {
    return this.register(descriptor, (ttl) =>
      ttl === undefined
        ? new HeapAggregatingState<IN, ACC, OUT>(this.ctx, new StateTable(), descriptor.aggregate)
        : new TtlHeapAggregatingState<IN, ACC, OUT>(this.ctx, new StateTable(), ttl, descriptor.aggregate),
    ) as unknown as AggregatingState<IN, OUT> & InternalKvState;
  }

  getPartitionedState(descriptor: AnyStateDescriptor): InternalKvState {
    return partitionedStateOf(this, descriptor);
  }


  onRecordProcessed(): void {
    const cleanups = this.perRecordCleanups;
    for (let i = 0; i < cleanups.length; i++) cleanups[i].run();
  }

  getTimerQueue(name: string): KeyGroupedTimerQueue {
    let queue = this.timers.get(name);
    if (queue === undefined) {
      queue = new HeapTimerQueue(this.ctx, () => this.ownedKeyGroup(), beforeTimerChange(this.pendingTimers, this.keyGroupRange.startKeyGroup));
      this.timers.set(name, queue);
    }
    return queue;
  }

  stateInfos(): StateInfo[] {
    return [...this.states.values()].map(({ descriptor: d }) => ({
      name: d.name,
      kind: d.kind,
      serializer: serializerIdentity(d.serializer),
      ...(d.ttl === undefined ? {} : { ttlMs: d.ttl.timeToLiveMs }),
    }));
  }

  entries(stateName: string): StateEntry[] {
    const state = this.states.get(stateName);
    if (state === undefined) return [];
    const out: StateEntry[] = [];
    for (const [namespace, , id, stored] of state.handle.table.entries()) {
      const { value, lastAccessTime } = state.handle.inspect(stored);
      const entry: StateEntry = { key: keyFromId(id), namespace, value };
      if (lastAccessTime !== undefined) entry.lastAccessTime = lastAccessTime;
      out.push(entry);
    }
    return out;
  }

  *keys(stateName: string, namespace: Namespace = VOID_NAMESPACE): Generator<unknown> {
    const map = this.states.get(stateName)?.handle.table.namespaces.get(namespace);
    if (map === undefined) return;
    // Live Map iteration: deleting the visited key is safe, and keys are unique within a namespace.
    for (const id of map.keys()) yield keyFromId(id);
  }

  numKeys(stateName: string): number {
    return this.states.get(stateName)?.handle.table.numKeys() ?? 0;
  }

  /** Sums the sizes of the namespace maps: O(states + namespaces), no walk over entries. */
  totalEntries(): number {
    let n = 0;
    for (const s of this.states.values()) n += s.handle.table.size;
    return n;
  }

  /** Checkpoints and canonical snapshots (`options.canonical`) are the same blocks; only the label differs. */
  snapshot(options: KeyedSnapshotOptions): KeyedSnapshotRunner {
    const sources = [...this.states.values()].map((s) => ({ descriptor: s.descriptor, table: s.handle.table, ttl: s.ttl }));
    return new HeapSnapshotRunner(
      sources,
      [...this.pendingRestore.values()],
      [...this.timers],
      this.pendingTimers,
      this.keyGroupRange.startKeyGroup,
      this.maxParallelism,
      () => this.options.ttlClock.now(),
      options.canonical === true,
    );
  }

  /** Reads heap checkpoints and canonical snapshots (savepoints of any backend); a disk checkpoint is refused with what to do. */
  restore(snapshots: RestoredKeyedState[]): void {
    const previousKey = this.ctx.key;
    for (const snapshot of snapshots) {
      const { meta } = snapshot;
      if (!holdsBlocks(meta)) throw foreignSnapshotError(this.place(), meta, 'heap');
      checkBlockFormat(meta, this.place());
      const restoredTimers: Array<[number, number, Namespace, unknown, number]> = [];
      for (const keyGroup of this.keyGroupRange) {
        const bytes = snapshot.block(keyGroup);
        if (bytes === undefined) continue;
        let block: ReturnType<typeof decodeBlock>;
        try {
          block = decodeBlock(bytes, meta.format);
        } catch (cause) {
          throw unreadableBlock(this.place(), meta, keyGroup, cause);
        }
        const { entries, timers } = block;
        restoredTimers.push(...timers);
        for (const [s, namespace, id, payload] of entries) {
          const stateMeta = meta.states[s];
          let pending = this.pendingRestore.get(stateMeta.name);
          if (pending === undefined) this.pendingRestore.set(stateMeta.name, (pending = { meta: stateMeta, entries: [], heldBy: 0 }));
          pending.entries.push([namespace, id, payload]);
        }
      }
      // Re-register in the original firing order (equal timestamps keep their order).
      restoredTimers.sort((a, b) => a[4] - b[4]);
      for (const [q, timestamp, namespace, key] of restoredTimers) {
        this.setCurrentKey(key);
        this.getTimerQueue(meta.timerQueues[q]).add(timestamp, namespace);
      }
    }
    // States registered before the restore (rare) are filled at once.
    for (const [name, state] of this.states) this.materialize(name, state);
    if (previousKey !== undefined) this.setCurrentKey(previousKey);
  }

  /** Names of restored states that no registered descriptor claimed (yet). */
  unclaimedRestoredStates(): string[] {
    return [...this.pendingRestore.keys()];
  }

  private materialize(name: string, state: RegisteredState): void {
    const pending = this.pendingRestore.get(name);
    if (pending === undefined) return;
    const { meta } = pending;
    const d = state.descriptor;
    checkRestoredState(d, meta, this.errorPlace);
    this.pendingRestore.delete(name);
    const decode = payloadDecoder(d, meta.ttl, keyId);
    const table = state.handle.table;
    const now = this.options.ttlClock.now();
    // TTL switched on or off since the checkpoint: wrap or unwrap timestamps instead of failing as Flink does.
    const adapt = adaptTtl(d.kind, meta.ttl, state.ttl !== undefined, now);
    // A running snapshot still writes these payload objects: the live table gets its own copies.
    const own = pending.heldBy > 0 ? (payload: unknown) => packr.unpack(packr.pack(payload)) : (payload: unknown) => payload;
    for (const [namespace, id, payload] of pending.entries) table.mapOf(namespace).set(id, adapt(decode(own(payload))));
    state.handle.refetch();
  }

  dispose(): void {
    if (executingKeyedBackend.current === this) executingKeyedBackend.current = undefined;
    this.states.clear();
    this.timers.clear();
    this.pendingRestore.clear();
    this.perRecordCleanups = [];
  }

  private register(descriptor: StateDescriptor, create: (ttl: TtlPolicy | undefined) => HeapStateHandle<any>): HeapStateHandle<any> {
    const existing = this.states.get(descriptor.name);
    if (existing !== undefined) {
      checkSameRegistration(existing.descriptor, descriptor, this.errorPlace);
      return existing.handle;
    }
    const ttl = descriptor.ttl === undefined ? undefined : new TtlPolicy(descriptor.ttl, this.options.ttlClock);
    const handle = create(ttl);
    handle.place = this.place(descriptor.name);
    const registered = { descriptor, handle, ttl };
    // Restored entries first: a state the checkpoint holds in another shape is refused before it is registered.
    this.materialize(descriptor.name, registered);
    this.states.set(descriptor.name, registered);
    if (handle instanceof TtlStateHandle && handle.cleanup !== undefined && handle.cleanupForEveryRecord)
      this.perRecordCleanups.push(handle.cleanup);
    return handle;
  }

  private place(state?: string): string {
    return this.errorPlace.describe(state);
  }

}

/** Converts stored values between the TTL-wrapped and the plain form. */
function adaptTtl(kind: StateDescriptor['kind'], from: boolean, to: boolean, now: number): (stored: any) => any {
  if (from === to) return (stored) => stored;
  const wrap = to ? (v: unknown) => ({ v, t: now }) : (e: TtlValue<unknown>) => e.v;
  if (kind === 'list') return (stored: any[]) => stored.map(wrap as (x: any) => unknown);
  if (kind === 'map') return (stored: Map<unknown, any>) => new Map([...stored].map(([k, v]) => [k, (wrap as (x: any) => unknown)(v)]));
  return wrap as (x: any) => unknown;
}
