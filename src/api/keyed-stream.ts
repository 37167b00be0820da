// KeyedStream: operators that see keyed state and timers, scoped to each record's key.
import type {
  Collector,
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  MapFunction,
  ProcessFunction,
  RichFilterFunction,
  RichFlatMapFunction,
  RichMapFunction,
  NoFields,
  WithFields,
} from '../runtime/functions.js';
import { FilterOperator, FlatMapOperator, MapOperator } from '../runtime/operators/basic-operators.js';
import { KeyedProcessOperator } from '../runtime/operators/keyed-process-operator.js';
import { KeyedReduceOperator, fieldAggregation } from '../runtime/operators/keyed-reduce-operator.js';
import type { KeySelector } from '../runtime/partitioner.js';
import type { ReduceFunction } from '../state/state.js';
import { copyFunction } from './copy-function.js';
import { DataStream } from './data-stream.js';

/** A field of a record: a property name, or an index for arrays used as tuples. */
export type FieldRef<T> = T extends readonly unknown[] ? number : Extract<keyof T, string>;

/** A numeric field of a record (what sum, min and max aggregate): a property name or a tuple index. */
export type NumericFieldRef<T> = T extends readonly unknown[]
  ? { [I in keyof T]: T[I] extends number | bigint ? (I extends `${infer N extends number}` ? N : never) : never }[number]
  : { [P in Extract<keyof T, string>]: T[P] extends number | bigint ? P : never }[Extract<keyof T, string>];

/**
 * A stream partitioned by key. Functions applied here may use keyed state (`ctx.getState(...)`
 * in `open`) and, in `process`, timers.
 *
 * @example
 * env.fromElements([1, 3], [1, 5]).keyBy((t) => t[0]).sum(1).print();
 */
export class KeyedStream<T, K> extends DataStream<T> {
  /** @internal */
  constructor(
    environment: DataStream<T>['environment'],
    transformation: DataStream<T>['transformation'],
    readonly keySelector: KeySelector<T, K>,
  ) {
    super(environment, transformation);
  }

  /**
   * Per-record logic with keyed state and event-/processing-time timers. The output type comes
   * from a type argument (`process<Alert>(...)`) or from annotating `out: Collector<Alert>`.
   */
  override process<R, F extends object = NoFields>(fn: WithFields<F, KeyedProcessFunction<K, T, R>>): DataStream<R>;
  override process<R>(fn: KeyedProcessFunction<K, T, R> | ProcessFunction<T, R>): DataStream<R>;
  override process<R>(fn: KeyedProcessFunction<K, T, R> | ProcessFunction<T, R>): DataStream<R> {
    return this.addOperator('KeyedProcess', fn, (f) => new KeyedProcessOperator(f as KeyedProcessFunction<K, T, R>), true);
  }

  /** A map whose function may use keyed state (a rich function with `open(ctx)`). */
  override map<R>(fn: (value: T) => R): DataStream<R>;
  override map<R, F extends object = NoFields>(fn: WithFields<F, RichMapFunction<T, R>>): DataStream<R>;
  override map<R>(fn: MapFunction<T, R>): DataStream<R>;
  override map<R>(fn: MapFunction<T, R>): DataStream<R> {
    return this.addOperator('KeyedMap', fn, (f) => new MapOperator(f), true);
  }

  /** A filter whose function may use keyed state (Flink's RichFilterFunction on a keyed stream). */
  override filter(fn: (value: T) => boolean): DataStream<T>;
  override filter<F extends object = NoFields>(fn: WithFields<F, RichFilterFunction<T>>): DataStream<T>;
  override filter(fn: FilterFunction<T>): DataStream<T>;
  override filter(fn: FilterFunction<T>): DataStream<T> {
    return this.addOperator('KeyedFilter', fn, (f) => new FilterOperator(f), true);
  }

  /** A flatMap whose function may use keyed state. */
  override flatMap<R>(fn: (value: T, out: Collector<R>) => void): DataStream<R>;
  override flatMap<R, F extends object = NoFields>(fn: WithFields<F, RichFlatMapFunction<T, R>>): DataStream<R>;
  override flatMap<R>(fn: FlatMapFunction<T, R>): DataStream<R>;
  override flatMap<R>(fn: FlatMapFunction<T, R>): DataStream<R> {
    return this.addOperator('KeyedFlatMap', fn, (f) => new FlatMapOperator(f), true);
  }

  /** Connects this keyed stream with a broadcast stream: the function sees the key, timers and keyed state. */
  override connect<B>(broadcast: import('./broadcast-stream.js').BroadcastStream<B>): import('./broadcast-stream.js').KeyedBroadcastConnectedStream<T, B, K> {
    return super.connect(broadcast) as import('./broadcast-stream.js').KeyedBroadcastConnectedStream<T, B, K>;
  }

  protected override isKeyed(): boolean {
    return true;
  }

  /** Rolling reduce: emits the reduced value of the record's key after every record. */
  reduce(fn: ReduceFunction<T>): DataStream<T> {
    return this.addOperatorNode<T>('Reduce', () => new KeyedReduceOperator(copyFunction(fn), 'reduce()'), true, false);
  }

  /** Rolling sum of a numeric field; other fields come from the key's first record. */
  sum(field: NumericFieldRef<T>): DataStream<T> {
    return this.aggregateField('sum', field);
  }

  /** Rolling minimum of a numeric field; other fields come from the key's first record. */
  min(field: NumericFieldRef<T>): DataStream<T> {
    return this.aggregateField('min', field);
  }

  /** Rolling maximum of a numeric field; other fields come from the key's first record. */
  max(field: NumericFieldRef<T>): DataStream<T> {
    return this.aggregateField('max', field);
  }

  private aggregateField(kind: 'sum' | 'min' | 'max', field: string | number): DataStream<T> {
    const reduce = fieldAggregation(kind, field);
    return this.addOperatorNode<T>(kind === 'sum' ? 'Sum' : kind === 'min' ? 'Min' : 'Max', () => new KeyedReduceOperator(reduce, `${kind}(${String(field)})`), true, false);
  }
}

DataStream.makeKeyedStream = (env, t, keySelector) => new KeyedStream(env, t, keySelector);
