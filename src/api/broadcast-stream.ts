// Broadcast streams (Flink's broadcast state pattern): `stream.broadcast(descriptors)` sends every
// record to every subtask of the operator it is connected to; `connect` joins it with a keyed or
// non-keyed stream, whose records then see the broadcast state read only.
import type { Transformation, TwoInputTransformation } from '../plan/transformation.js';
import type { BroadcastProcessFunction, KeyedBroadcastProcessFunction, NoFields, WithFields } from '../runtime/functions.js';
import { BroadcastProcessOperator } from '../runtime/operators/broadcast-process-operator.js';
import type { MapStateDescriptor } from '../state/descriptors.js';
import { copyFunction } from './copy-function.js';
import { DataStream } from './data-stream.js';
import type { StreamEnvironment } from './stream-environment.js';

/** A stream whose records go to every parallel instance, with the broadcast states it fills. */
export class BroadcastStream<T> {
  /** Carries the record type for connect(); never set at run time. */
  declare readonly recordType?: T;

  /** @internal */
  constructor(
    readonly environment: StreamEnvironment,
    /** @internal */
    readonly transformation: Transformation,
    readonly descriptors: MapStateDescriptor<any, any>[],
  ) {}
}

/** A non-keyed stream connected with a broadcast stream. */
export class BroadcastConnectedStream<IN1, IN2> {
  /** @internal */
  constructor(
    protected readonly environment: StreamEnvironment,
    protected readonly first: Transformation,
    protected readonly keyed: boolean,
    protected readonly broadcast: BroadcastStream<IN2>,
  ) {}

  /**
   * Processes both inputs. The output type comes from a type argument (`process<Alert>(...)`) or
   * from annotating `out: Collector<Alert>`.
   */
  process<OUT, F extends object = NoFields>(fn: WithFields<F, BroadcastProcessFunction<IN1, IN2, OUT>>): DataStream<OUT>;
  process<OUT>(fn: BroadcastProcessFunction<IN1, IN2, OUT>): DataStream<OUT>;
  process<OUT>(fn: BroadcastProcessFunction<IN1, IN2, OUT> | KeyedBroadcastProcessFunction<any, IN1, IN2, OUT>): DataStream<OUT> {
    const descriptors = this.broadcast.descriptors;
    const t: TwoInputTransformation = {
      type: 'two-input',
      id: this.environment.newId(),
      name: this.keyed ? 'KeyedBroadcastProcess' : 'BroadcastProcess',
      uid: undefined,
      parallelism: undefined,
      maxParallelism: undefined,
      input1: this.first,
      input2: this.broadcast.transformation,
      createOperator: () => new BroadcastProcessOperator(copyFunction(fn) as never, descriptors),
      keyed: this.keyed,
      kind: this.keyed ? 'KeyedBroadcastProcess' : 'BroadcastProcess',
      isSink: false,
      declaredState: descriptors.map((d) => `broadcast '${d.name}'`),
    };
    return new DataStream<OUT>(this.environment, t);
  }
}

/** A keyed stream connected with a broadcast stream: the function sees the key K, timers and keyed state. */
export class KeyedBroadcastConnectedStream<IN1, IN2, K> extends BroadcastConnectedStream<IN1, IN2> {
  /** Processes both inputs with a KeyedBroadcastProcessFunction (Flink's keyed broadcast state pattern). */
  override process<OUT, F extends object = NoFields>(fn: WithFields<F, KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>>): DataStream<OUT>;
  override process<OUT>(fn: KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>): DataStream<OUT>;
  override process<OUT>(fn: KeyedBroadcastProcessFunction<K, IN1, IN2, OUT>): DataStream<OUT> {
    return super.process(fn as never);
  }
}

DataStream.makeBroadcastStream = (env, t, descriptors) => new BroadcastStream(env, t, descriptors);
DataStream.makeConnected = (env, first, keyed, broadcast) =>
  keyed ? new KeyedBroadcastConnectedStream(env, first, keyed, broadcast) : new BroadcastConnectedStream(env, first, keyed, broadcast);
