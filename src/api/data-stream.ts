// DataStream: the transformations of a (non-keyed) stream, and per-operator settings.
import { FloeError } from '../core/errors.js';
import type { WatermarkStrategy } from '../core/watermark-strategy.js';
import { JsonLinesFileSink } from '../connectors/file/json-lines-file-sink.js';
import type { OneInputTransformation, Transformation } from '../plan/transformation.js';
import type {
  Collector,
  FilterFunction,
  FlatMapFunction,
  MapFunction,
  ProcessFunction,
  RichFilterFunction,
  RichFlatMapFunction,
  RichMapFunction,
  SinkFunction,
  NoFields,
  WithFields,
} from '../runtime/functions.js';
import { FilterOperator, FlatMapOperator, MapOperator, ProcessOperator } from '../runtime/operators/basic-operators.js';
import { PrintSink, SinkOperator, collectSink } from '../runtime/operators/sink-operators.js';
import type { StreamOperator } from '../runtime/operators/stream-operator.js';
import { TimestampsAndWatermarksOperator } from '../runtime/operators/timestamps-and-watermarks-operator.js';
import type { KeySelector } from '../runtime/partitioner.js';
import { copyFunction } from './copy-function.js';
import type { KeyedStream } from './keyed-stream.js';
import type { StreamEnvironment } from './stream-environment.js';

/**
 * A stream of records of type T. Each method adds an operator and returns the new stream;
 * `uid`, `name`, `setParallelism` and `setMaxParallelism` configure the operator that made
 * this stream.
 */
export class DataStream<T> {
  /** @internal Set by keyed-stream.ts (a subclass cannot be imported here without a cycle). */
  static makeKeyedStream: <T, K>(env: StreamEnvironment, t: Transformation, keySelector: KeySelector<T, K>) => KeyedStream<T, K>;
  /** @internal Set by broadcast-stream.ts. */
  static makeBroadcastStream: <T>(env: StreamEnvironment, t: Transformation, descriptors: import('../state/descriptors.js').MapStateDescriptor<any, any>[]) => import('./broadcast-stream.js').BroadcastStream<T>;
  /** @internal Set by broadcast-stream.ts. */
  static makeConnected: <A, B>(env: StreamEnvironment, first: Transformation, keyed: boolean, broadcast: import('./broadcast-stream.js').BroadcastStream<B>) => import('./broadcast-stream.js').BroadcastConnectedStream<A, B>;

  /** @internal */
  constructor(
    readonly environment: StreamEnvironment,
    /** @internal */
    readonly transformation: Transformation,
  ) {}

  /**
   * One output per record: a function, or an object with `map` (and `open`/`close`, and fields
   * of its own, which `this` sees).
   */
  map<R>(fn: (value: T) => R): DataStream<R>;
  map<R, F extends object = NoFields>(fn: WithFields<F, RichMapFunction<T, R>>): DataStream<R>;
  map<R>(fn: MapFunction<T, R>): DataStream<R>;
  map<R>(fn: MapFunction<T, R>): DataStream<R> {
    return this.addOperator('Map', fn, (f) => new MapOperator(f));
  }

  /** Keeps the records for which the function returns true. */
  filter(fn: (value: T) => boolean): DataStream<T>;
  filter<F extends object = NoFields>(fn: WithFields<F, RichFilterFunction<T>>): DataStream<T>;
  filter(fn: FilterFunction<T>): DataStream<T>;
  filter(fn: FilterFunction<T>): DataStream<T> {
    return this.addOperator('Filter', fn, (f) => new FilterOperator(f));
  }

  /**
   * Zero or more outputs per record through `out.collect`. The output type comes from a type
   * argument (`flatMap<string>(...)`) or from annotating `out: Collector<string>`.
   */
  flatMap<R>(fn: (value: T, out: Collector<R>) => void): DataStream<R>;
  flatMap<R, F extends object = NoFields>(fn: WithFields<F, RichFlatMapFunction<T, R>>): DataStream<R>;
  flatMap<R>(fn: FlatMapFunction<T, R>): DataStream<R>;
  flatMap<R>(fn: FlatMapFunction<T, R>): DataStream<R> {
    return this.addOperator('FlatMap', fn, (f) => new FlatMapOperator(f));
  }

  /** Per-record logic with access to timestamps (no keyed state or timers: use keyBy first). */
  process<R, F extends object = NoFields>(fn: WithFields<F, ProcessFunction<T, R>>): DataStream<R>;
  process<R>(fn: ProcessFunction<T, R>): DataStream<R>;
  process<R>(fn: ProcessFunction<T, R>): DataStream<R> {
    return this.addOperator('Process', fn, (f) => new ProcessOperator(f));
  }

  /** Partitions by key: records with equal keys go to the same subtask and share keyed state. */
  keyBy<K>(keySelector: KeySelector<T, K>): KeyedStream<T, K> {
    if (typeof keySelector !== 'function')
      throw new FloeError('INVALID_ARGUMENT', 'keyBy needs a key selector function, for example keyBy((event) => event.userId)');
    return DataStream.makeKeyedStream<T, K>(this.environment, this.partition({ type: 'hash', keySelector }, 'KeyBy'), keySelector);
  }

  /** Distributes records round-robin over the next operator's subtasks. */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.environment, this.partition({ type: 'rebalance' }, 'Rebalance'));
  }

  /** Sends subtask i's records to subtask i of the next operator (same parallelism required). */
  forward(): DataStream<T> {
    return new DataStream<T>(this.environment, this.partition({ type: 'forward' }, 'Forward'));
  }

  /** Merges streams of the same type. */
  union(...others: DataStream<T>[]): DataStream<T> {
    for (const other of others)
      if (other.environment !== this.environment) throw new FloeError('INVALID_JOB', 'union() needs streams of the same StreamEnvironment');
    return new DataStream<T>(this.environment, {
      type: 'union',
      id: this.environment.newId(),
      name: 'Union',
      uid: undefined,
      parallelism: undefined,
      maxParallelism: undefined,
      inputs: [this.transformation, ...others.map((o) => o.transformation)],
    });
  }

  /**
   * Makes this a broadcast stream: every record reaches every subtask of the connected operator,
   * which keeps the given broadcast states (maps identical on every subtask).
   */
  broadcast(...descriptors: import('../state/descriptors.js').MapStateDescriptor<any, any>[]): import('./broadcast-stream.js').BroadcastStream<T> {
    return DataStream.makeBroadcastStream<T>(this.environment, this.partition({ type: 'broadcast' }, 'Broadcast'), descriptors);
  }

  /** Connects this stream with a broadcast stream (Flink's broadcast state pattern). */
  connect<B>(broadcast: import('./broadcast-stream.js').BroadcastStream<B>): import('./broadcast-stream.js').BroadcastConnectedStream<T, B> {
    if (broadcast.environment !== this.environment) throw new FloeError('INVALID_JOB', 'connect() needs streams of the same StreamEnvironment');
    return DataStream.makeConnected<T, B>(this.environment, this.transformation, this.isKeyed(), broadcast);
  }

  /** @internal */
  protected isKeyed(): boolean {
    return false;
  }

  /** Assigns event timestamps and emits watermarks (after each batch of records). */
  assignTimestampsAndWatermarks(strategy: WatermarkStrategy<T>): DataStream<T> {
    return this.addOperatorNode<T>('Timestamps/Watermarks', () => new TimestampsAndWatermarksOperator(strategy), false, false);
  }

  /** Prints every record to stdout (`n> record` when parallel), as Flink's print(). */
  print(identifier?: string): DataStream<T> {
    return this.addSink(new PrintSink(identifier), 'Print Sink');
  }

  /**
   * Writes every record as a JSON line to the file `path`. The sink runs at parallelism 1 (one
   * file) unless `.setParallelism(n)` follows: then subtask i writes its part `out-<i>.jsonl`.
   * At-least-once with checkpoints; `TransactionalJsonLinesSink` is the exactly-once variant.
   */
  writeAsJsonLines(path: string): DataStream<T> {
    const sink = this.addSink(new JsonLinesFileSink<T>(path), `JSON Lines Sink (${path})`);
    if (this.transformation.parallelism === undefined) sink.setParallelism(1);
    return sink;
  }

  /** Sends every record to a SinkFunction (or a plain function). */
  addSink(sink: SinkFunction<T> | ((value: T) => void), name = 'Sink'): DataStream<T> {
    const stream = this.addOperatorNode<T>(name, () => new SinkOperator(copyFunction(sink)), false, true);
    this.environment.addSink(stream.transformation);
    return stream;
  }

  /**
   * Runs the job (every sink of the environment) and resolves with this stream's records. For
   * bounded jobs; the order is the order in which the single collecting subtask received them.
   */
  async executeAndCollect(jobName?: string): Promise<T[]> {
    const collected: T[] = [];
    const sink = this.addSink(collectSink(collected) as SinkFunction<T>, 'Collect Sink');
    sink.setParallelism(1);
    await this.environment.execute(jobName);
    return collected;
  }

  // --- settings of the operator that produced this stream ---

  /** Stable identity of this operator's state across runs and job changes. */
  uid(uid: string): this {
    if (typeof uid !== 'string' || uid.length === 0) throw new FloeError('INVALID_ARGUMENT', 'uid must be a non-empty string');
    this.transformation.uid = uid;
    return this;
  }

  /** Display name in logs, errors and metrics. */
  name(name: string): this {
    this.transformation.name = name;
    return this;
  }

  setParallelism(parallelism: number): this {
    if (!Number.isInteger(parallelism) || parallelism < 1)
      throw new FloeError('INVALID_ARGUMENT', `setParallelism needs a positive integer, got ${parallelism}`);
    this.transformation.parallelism = parallelism;
    return this;
  }

  setMaxParallelism(maxParallelism: number): this {
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768)
      throw new FloeError('INVALID_ARGUMENT', `setMaxParallelism needs an integer in [1, 32768], got ${maxParallelism}`);
    this.transformation.maxParallelism = maxParallelism;
    return this;
  }

  /** @internal Adds an operator whose user function is copied for every subtask. */
  protected addOperator<R, F>(kind: string, fn: F, make: (fn: F) => StreamOperator, keyed = false): DataStream<R> {
    if (fn === undefined || fn === null) throw new FloeError('INVALID_ARGUMENT', `${kind} needs a function`);
    return this.addOperatorNode<R>(kind, () => make(copyFunction(fn)), keyed, false);
  }

  /** @internal */
  protected addOperatorNode<R>(kind: string, createOperator: () => StreamOperator, keyed: boolean, isSink: boolean): DataStream<R> {
    const t: OneInputTransformation = {
      type: 'operator',
      id: this.environment.newId(),
      name: kind,
      uid: undefined,
      parallelism: undefined,
      maxParallelism: undefined,
      input: this.transformation,
      createOperator,
      keyed,
      kind: kind.replace(/[^A-Za-z]/g, ''),
      isSink,
    };
    return new DataStream<R>(this.environment, t);
  }

  /** @internal */
  protected partition(partitioner: import('../runtime/partitioner.js').PartitionerSpec, name: string): Transformation {
    return {
      type: 'partition',
      id: this.environment.newId(),
      name,
      uid: undefined,
      parallelism: undefined,
      maxParallelism: undefined,
      input: this.transformation,
      partitioner,
    };
  }
}
