// Broadcast streams (Flink's broadcast state pattern): `stream.broadcast(descriptors)` sends every
// record to every subtask of the operator it is connected to; `connect` joins it with a keyed or
// non-keyed stream, whose records then see the broadcast state read only.
import type { Transformation, TwoInputTransformation } from '../plan/transformation.js';
import type { BroadcastProcessFunction, KeyedBroadcastProcessFunction } from '../runtime/functions.js';
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

/** A (keyed or non-keyed) stream connected with a broadcast stream. */
export class BroadcastConnectedStream<IN1, IN2> {
  /** @internal */
  constructor(
    private readonly environment: StreamEnvironment,
    private readonly first: Transformation,
    private readonly keyed: boolean,
    private readonly broadcast: BroadcastStream<IN2>,
  ) {}

  /** Processes both inputs; a keyed first input takes a KeyedBroadcastProcessFunction. */
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
    };
    return new DataStream<OUT>(this.environment, t);
  }
}

DataStream.makeBroadcastStream = (env, t, descriptors) => new BroadcastStream(env, t, descriptors);
DataStream.makeConnected = (env, first, keyed, broadcast) => new BroadcastConnectedStream(env, first, keyed, broadcast);
