// The shapes of user functions and the contexts the runtime hands them. Types only; the api/
// layer re-exports them. A user function is a plain function or an object (often a class
// instance) with the method, plus optional `open(ctx)` / `close()`.
import type { AggregatingStateDescriptor, AnyStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from '../state/descriptors.js';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/state.js';
import type { MetricGroup } from './metrics/user-metrics.js';

/** Receives the records a function emits. */
export interface Collector<T> {
  collect(value: T): void;
}

/**
 * What `open(ctx)` receives: where this instance runs and its state handles. Keyed state is
 * available only on a KeyedStream; every access is scoped to the record's key.
 */
export interface RuntimeContext {
  getJobName(): string;
  /** The operator's uid. */
  getOperatorUid(): string;
  getTaskName(): string;
  getIndexOfThisSubtask(): number;
  getNumberOfParallelSubtasks(): number;
  getMaxNumberOfParallelSubtasks(): number;
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
  /**
   * User metrics of this instance (Flink's metric group): `counter(name)`, `gauge(name, fn)`,
   * `histogram(name)`; shown in the job's summary and in JobResult.metrics.userMetrics.
   *
   * @example
   * open(ctx) { this.alerts = ctx.metrics.counter('alerts'); }
   */
  readonly metrics: MetricGroup;
  /** The same as `metrics` (Flink's name). */
  getMetricGroup(): MetricGroup;
}

/** Lifecycle hooks every function object may have (Flink's RichFunction). */
export interface RichFunction {
  open?(ctx: RuntimeContext): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** A map function object (Flink's RichMapFunction). */
export interface RichMapFunction<I, O> extends RichFunction {
  map(value: I): O;
}
/** A filter function object (Flink's RichFilterFunction). */
export interface RichFilterFunction<T> extends RichFunction {
  filter(value: T): boolean;
}
/** A flatMap function object (Flink's RichFlatMapFunction). */
export interface RichFlatMapFunction<I, O> extends RichFunction {
  flatMap(value: I, out: Collector<O>): void;
}

export type MapFunction<I, O> = ((value: I) => O) | RichMapFunction<I, O>;
export type FilterFunction<T> = ((value: T) => boolean) | RichFilterFunction<T>;
export type FlatMapFunction<I, O> = ((value: I, out: Collector<O>) => void) | RichFlatMapFunction<I, O>;

/**
 * A function object `Fn` written as an object literal with fields of its own (`F`: state handles
 * set in `open`, buffers): the fields are allowed and `this` in its methods is the whole object,
 * so `this.count` has the field's type. F is inferred from the literal; a class instance is its
 * own F. (A method whose return expression reads `this` needs a return type annotation: the
 * compiler cannot infer both at once.)
 */
export type WithFields<F, Fn> = F & Fn & ThisType<F & Fn>;

/** A function object without fields of its own (the default of `WithFields`' F). */
export type NoFields = Record<never, never>;

/** Timers of a keyed function; timers are per key and deduplicated per timestamp. */
export interface TimerService {
  currentProcessingTime(): number;
  /** The operator's current event-time watermark (-Infinity before the first). */
  currentWatermark(): number;
  registerEventTimeTimer(timestamp: number): void;
  registerProcessingTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
}

/** Context of `ProcessFunction.processElement`. */
export interface ProcessContext {
  /** The record's event timestamp, or undefined when it has none. */
  timestamp(): number | undefined;
  /** Current processing time and watermark (no timers on non-keyed streams, as in Flink). */
  currentProcessingTime(): number;
  currentWatermark(): number;
}

/** Flink's ProcessFunction on a non-keyed stream. */
export interface ProcessFunction<I, O> extends RichFunction {
  processElement(value: I, ctx: ProcessContext, out: Collector<O>): void;
}

/** Context of `KeyedProcessFunction.processElement`. */
export interface KeyedProcessContext<K> {
  timestamp(): number | undefined;
  getCurrentKey(): K;
  timerService(): TimerService;
}

export type TimeDomain = 'EVENT_TIME' | 'PROCESSING_TIME';

/** Context of `KeyedProcessFunction.onTimer`: the timer's key is the current key. */
export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  timeDomain(): TimeDomain;
}

/** Flink's KeyedProcessFunction: per-record logic with keyed state and timers. */
export interface KeyedProcessFunction<K, I, O> extends RichFunction {
  processElement(value: I, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/** Writes records somewhere; asynchronous work (I/O) happens in `flush` and `close`. */
export interface SinkFunction<T> extends RichFunction {
  invoke(value: T, timestamp: number | undefined): void;
  /** Called between input batches and at end of input; may await I/O. */
  flush?(endOfInput: boolean): void | Promise<void>;
}

/** Operator (non-keyed) state of one parallel instance: redistributed by mode on rescale. */
export interface OperatorStateStore {
  /** Even-split list state: on rescale all elements are gathered and split evenly. */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  /** Union list state: on restore every instance receives every element. */
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  /** Broadcast state: a map that is identical on every instance. */
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  /** Raw operator state: bytes the operator writes into each snapshot and gets back unchanged. */
  setRawState(bytes: Uint8Array | undefined): void;
  getRawState(): Uint8Array | undefined;
}

/** What `initializeState` receives (first start and every restore). */
export interface FunctionInitializationContext {
  /** True when the instance is restored from a checkpoint or savepoint. */
  isRestored(): boolean;
  /** The checkpoint restored from, when restored. */
  getRestoredCheckpointId(): number | undefined;
  getOperatorStateStore(): OperatorStateStore;
  /** Keyed state, on keyed streams only (same handles as the RuntimeContext's). */
  getKeyedStateStore(): RuntimeContext | undefined;
  /**
   * False when the job takes no checkpoints: no snapshot or completion notification will come,
   * so a transactional sink commits at end of input instead.
   */
  isCheckpointingEnabled(): boolean;
}

/** What `snapshotState` receives. */
export interface FunctionSnapshotContext {
  getCheckpointId(): number;
  getCheckpointTimestamp(): number;
}

/**
 * Flink's CheckpointedFunction: `initializeState` registers operator state (and reads it back
 * after a restore); `snapshotState` runs in the synchronous part of every checkpoint, before the
 * barrier moves on. It may return a promise (a sink flushing its transaction); the subtask
 * waits for it before forwarding the barrier.
 */
export interface CheckpointedFunction {
  initializeState(ctx: FunctionInitializationContext): void | Promise<void>;
  snapshotState(ctx: FunctionSnapshotContext): void | Promise<void>;
}

/**
 * Flink's CheckpointListener. Notifications are best effort: one may be skipped, and a later
 * completion subsumes earlier ones, so act on everything up to the given id.
 */
export interface CheckpointListener {
  notifyCheckpointComplete(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
}

/** True when a function object implements CheckpointedFunction. */
export function isCheckpointedFunction(fn: unknown): fn is CheckpointedFunction {
  return typeof fn === 'object' && fn !== null && typeof (fn as CheckpointedFunction).initializeState === 'function' && typeof (fn as CheckpointedFunction).snapshotState === 'function';
}

/** True when a function object implements CheckpointListener. */
export function isCheckpointListener(fn: unknown): fn is CheckpointListener {
  return typeof fn === 'object' && fn !== null && typeof (fn as CheckpointListener).notifyCheckpointComplete === 'function';
}

/** Broadcast state as the non-broadcast side sees it: read only. */
export interface ReadOnlyBroadcastState<K, V> {
  get(key: K): V | undefined;
  contains(key: K): boolean;
  entries(): IterableIterator<[K, V]>;
  keys(): IterableIterator<K>;
  values(): IterableIterator<V>;
  isEmpty(): boolean;
}

/** Context of `processElement` in broadcast process functions (read-only broadcast state). */
export interface ReadOnlyBroadcastContext {
  timestamp(): number | undefined;
  currentProcessingTime(): number;
  currentWatermark(): number;
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): ReadOnlyBroadcastState<K, V>;
}

/** Context of `processBroadcastElement`: broadcast state may be written. */
export interface BroadcastContext {
  timestamp(): number | undefined;
  currentProcessingTime(): number;
  currentWatermark(): number;
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
}

/** Flink's BroadcastProcessFunction: a non-keyed stream connected with a broadcast stream. */
export interface BroadcastProcessFunction<IN1, IN2, OUT> extends RichFunction {
  processElement(value: IN1, ctx: ReadOnlyBroadcastContext, out: Collector<OUT>): void;
  processBroadcastElement(value: IN2, ctx: BroadcastContext, out: Collector<OUT>): void;
}

/** Keyed side's context: the key and timers, and read-only broadcast state. */
export interface KeyedReadOnlyBroadcastContext<K> extends ReadOnlyBroadcastContext {
  getCurrentKey(): K;
  timerService(): TimerService;
}

/** The state handle a descriptor gives: `ValueStateDescriptor<T>` -> `ValueState<T>`, and so on. */
export type StateOf<D> =
  D extends ValueStateDescriptor<infer T>
    ? ValueState<T>
    : D extends ListStateDescriptor<infer T>
      ? ListState<T>
      : D extends MapStateDescriptor<infer UK, infer UV>
        ? MapState<UK, UV>
        : D extends ReducingStateDescriptor<infer T>
          ? ReducingState<T>
          : D extends AggregatingStateDescriptor<infer IN, any, infer OUT>
            ? AggregatingState<IN, OUT>
            : never;

/** Broadcast side's context on a keyed connection: can visit the keyed state of every key. */
export interface KeyedBroadcastContext<K = unknown> extends BroadcastContext {
  /**
   * Runs `fn` for every key that has this state, with that key set (Flink's applyToKeyedState);
   * `state` is the handle the descriptor describes, scoped to `key`.
   */
  applyToKeyedState<D extends AnyStateDescriptor>(descriptor: D, fn: (key: K, state: StateOf<D>) => void): void;
  /** As above, with the state's type given explicitly: `applyToKeyedState<ListState<Event>>(...)`. */
  applyToKeyedState<S>(descriptor: AnyStateDescriptor, fn: (key: K, state: S) => void): void;
}

/** Flink's KeyedBroadcastProcessFunction: a keyed stream connected with a broadcast stream. */
export interface KeyedBroadcastProcessFunction<K, IN1, IN2, OUT> extends RichFunction {
  processElement(value: IN1, ctx: KeyedReadOnlyBroadcastContext<K>, out: Collector<OUT>): void;
  processBroadcastElement(value: IN2, ctx: KeyedBroadcastContext<K>, out: Collector<OUT>): void;
  onTimer?(timestamp: number, ctx: KeyedReadOnlyBroadcastContext<K> & { timeDomain(): TimeDomain }, out: Collector<OUT>): void;
}
