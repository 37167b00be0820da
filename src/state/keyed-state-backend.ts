// The per-subtask keyed state backend contract: the working state of one key-group range of one
// operator instance, plus its timers. Implementations: heap/ (objects in memory); disk/ later.
import type { Clock } from '../core/clock.js';
import { FloeError, describeValue } from '../core/errors.js';
import type { KeyGroupRange } from '../core/key-groups.js';
import type { AnyStateDescriptor, AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from './descriptors.js';
import type { AggregatingState, ListState, MapState, ReducingState, StateKind, ValueState } from './state.js';

/** A namespace scopes state below the key (windows use one per window). */
export type Namespace = string | number;

/** The namespace of state that user functions get from the runtime context. */
export const VOID_NAMESPACE: Namespace = '';

/**
 * `getPartitionedState` of every backend: dispatches on the descriptor's kind to the typed
 * getter, so both backends return the same handles for both entry points.
 */
export function partitionedStateOf(backend: KeyedStateBackend, descriptor: AnyStateDescriptor): InternalKvState {
  switch (descriptor.kind) {
    case 'value':
      return backend.getState(descriptor);
    case 'list':
      return backend.getListState(descriptor);
    case 'map':
      return backend.getMapState(descriptor);
    case 'reducing':
      return backend.getReducingState(descriptor);
    case 'aggregating':
      return backend.getAggregatingState(descriptor);
  }
}

/**
 * The keyed backend whose current key was set last: the subtask whose keyed code runs now (one
 * thread runs every subtask, one record or timer at a time, and the runtime sets the key first).
 * Backends set it in `setCurrentKey`; the state handles user functions get follow it, so a handle
 * kept in a closure shared by every subtask's copy of a function reaches the right subtask's state
 * (runtime/subtask-state-handles.ts).
 */
export const executingKeyedBackend: { current: KeyedStateBackend | undefined } = { current: undefined };

/**
 * INVALID_KEY for a key whose key group this backend does not own (Flink throws here too): state
 * written there would belong to no subtask after a restore.
 */
export function keyOutsideRangeError(place: string, key: unknown, keyGroup: number, range: KeyGroupRange): FloeError {
  return new FloeError(
    'INVALID_KEY',
    `${place}: the key ${describeValue(key, 60)} is in key group ${keyGroup}, which this subtask does not own (it owns ${range}); ` +
      'state of a key lives only in the subtask its key group is assigned to. Use keyed state only while that key is processed, through the handle the runtime context gave this function.',
  );
}

/**
 * Throws INVALID_ARGUMENT unless `namespace` is a string or a number (not NaN). Both backends
 * call it, so a null or undefined namespace is refused with the same words everywhere instead of
 * being stored (and restored as another namespace) or failing as an unusable key.
 */
export function checkNamespace(namespace: unknown, place: string): asserts namespace is Namespace {
  if (typeof namespace === 'string' || (typeof namespace === 'number' && namespace === namespace)) return;
  throw new FloeError(
    'INVALID_ARGUMENT',
    `${place}: ${describeValue(namespace)} is not a namespace; a namespace is a string or a number (the default namespace is '', VOID_NAMESPACE)`,
  );
}

/** Every state handle a backend creates can be switched to another namespace (internal use). */
export interface InternalKvState {
  setCurrentNamespace(namespace: Namespace): void;
}

/** What a backend needs to know about the operator instance it serves. */
export interface KeyedStateBackendOptions {
  /** Operator uid, named in every error. */
  operator: string;
  /** Operator name (`.name(...)`), named with the uid in errors. */
  operatorName?: string;
  job?: string;
  subtask: number;
  parallelism: number;
  maxParallelism: number;
  keyGroupRange: KeyGroupRange;
  /** Processing time for TTL. */
  ttlClock: Clock;
}

/** A registered timer: fires at `timestamp` for `key` in `namespace`. */
export interface TimerEntry {
  readonly timestamp: number;
  readonly key: unknown;
  readonly namespace: Namespace;
}

/**
 * A priority queue of timers with set semantics per (key, namespace, timestamp), stored per key
 * group so that timers move with their key group on rescale. Ordered by timestamp, then by
 * registration order.
 */
export interface KeyGroupedTimerQueue {
  /** Adds a timer for the backend's current key; false when that exact timer already exists. */
  add(timestamp: number, namespace: Namespace): boolean;
  /** Removes a timer of the current key; false when there was none. */
  remove(timestamp: number, namespace: Namespace): boolean;
  /** The earliest timer, without removing it. */
  peek(): TimerEntry | undefined;
  /** Removes and returns the earliest timer. */
  poll(): TimerEntry | undefined;
  readonly size: number;
  /** All timers of one key group (snapshots, rescale, inspection). */
  entriesOfKeyGroup(keyGroup: number): TimerEntry[];
  /** All timers in firing order (inspection). */
  entries(): TimerEntry[];
}

/** One stored entry, as inspection shows it. */
export interface StateEntry {
  key: unknown;
  namespace: Namespace;
  /** The user-facing value: the value, an array for list state, a Map for map state, the accumulator for aggregating state. */
  value: unknown;
  /** Last access time when the state has TTL (per element/entry for collections: the latest). */
  lastAccessTime?: number;
}

/** Metadata of one registered state. */
export interface StateInfo {
  name: string;
  kind: StateKind;
  serializer: string;
  ttlMs?: number;
}

/**
 * The working keyed state of one operator instance. Single-threaded: the runtime sets the
 * current key before each record or timer and every handle reads it.
 */
export interface KeyedStateBackend extends SnapshottableKeyedStateBackend {
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;

  /** Sets the key for the following state accesses. Throws INVALID_KEY (naming the operator) for an unusable key. */
  setCurrentKey(key: unknown): void;
  getCurrentKey(): unknown;
  /** Key group of the current key (computed on first use after setCurrentKey). */
  getCurrentKeyGroup(): number;

  /**
   * Returns the handle for a descriptor, creating the state on first use; the same name again
   * returns the same handle. A name already registered with another kind, serializer or TTL
   * throws STATE_TYPE_MISMATCH naming the operator and the state.
   */
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> & InternalKvState;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> & InternalKvState;
  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV> & InternalKvState;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> & InternalKvState;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> & InternalKvState;
  /** Dispatches on `descriptor.kind`. */
  getPartitionedState(descriptor: AnyStateDescriptor): InternalKvState;

  /** Called once per processed record: runs TTL cleanup configured to run for every record. */
  onRecordProcessed(): void;

  /** The timer queue with this name (created on first use; e.g. 'event-timers', 'processing-timers'). */
  getTimerQueue(name: string): KeyGroupedTimerQueue;

  /** Registered states. */
  stateInfos(): StateInfo[];
  /** Stored entries of one state, expired-but-not-cleaned ones included (inspection, tests). */
  entries(stateName: string): StateEntry[];
  /**
   * The keys that have a value in `stateName` under `namespace` (default: the void namespace), each
   * once, decoded from their canonical encoding and streamed (Flink's `getKeys`): memory does not
   * grow with the number of keys. The caller may change or clear the state of the key it was just
   * given while iterating.
   */
  keys(stateName: string, namespace?: Namespace): Iterable<unknown>;
  /** Number of keys that have a value in this state (any namespace). */
  numKeys(stateName: string): number;
  /** A cheap estimate of numKeys for progress lines (the disk backend's exact count is a scan). */
  estimatedNumKeys?(stateName: string): number;
  /** Number of stored (state, key, namespace) entries over all states; cheap, for progress lines. */
  totalEntries(): number;
  /** What a restore in progress loaded so far (backends whose restore takes turns of the event loop). */
  restoreProgress?(): RestoreProgress;
  /** Releases the state (closes files; the disk backend deletes its working directory). */
  dispose(): void | Promise<void>;
}

/** Counted while a restore loads: snapshot entries written into the backend and snapshot bytes read. */
export interface RestoreProgress {
  entries: number;
  bytes: number;
}

/** Creates the keyed backend of one operator instance. */
export interface StateBackend {
  /** `'heap'`, `'disk'`. */
  readonly name: string;
  createKeyedStateBackend(options: KeyedStateBackendOptions): KeyedStateBackend;
}

/** A file in the checkpoint storage, as a snapshot refers to it. */
export interface StoredFileHandle {
  /** Relative to the checkpoint storage's root, e.g. `shared/op-0-....kv`. */
  name: string;
  size: number;
  sha256: string;
}

/** Where incremental snapshots put files that later checkpoints share (the storage's `shared/`). */
export interface SharedStateStore {
  /** Puts a finished, immutable, checksummed local file into shared storage as `file.name` (hard link, else copy). */
  put(localPath: string, file: StoredFileHandle): Promise<StoredFileHandle>;
}

/** Options of one snapshot. */
export interface KeyedSnapshotOptions {
  checkpointId: number;
  /** Needed by incremental backends (disk); the heap backend writes everything into the task's file. */
  shared?: SharedStateStore;
  /**
   * Write the canonical, backend-independent format (savepoints): `meta.backend` is
   * `'canonical'`, the data is self-contained key-group blocks (snapshot-format/block-codec.ts)
   * with no shared files, and every backend restores it at any parallelism. An incremental
   * backend's checkpoint chain is not touched: the next checkpoint continues it as if this
   * snapshot had not been taken.
   */
  canonical?: boolean;
}

/** Snapshot and restore, implemented by every keyed backend (see keyed-snapshot.ts). */
export interface SnapshottableKeyedStateBackend {
  /**
   * Takes a snapshot: the synchronous part is short (no copy of the state); the returned runner
   * encodes it asynchronously while processing goes on.
   */
  snapshot(options: KeyedSnapshotOptions): import('./keyed-snapshot.js').KeyedSnapshotRunner;
  /**
   * Loads snapshots taken by one or more earlier subtasks; only key groups in this backend's
   * range are read. State is materialised when the user registers its descriptor (so the
   * descriptor's serializer can be checked); timers at once.
   */
  restore(snapshots: import('./keyed-snapshot.js').RestoredKeyedState[]): void | Promise<void>;
}
