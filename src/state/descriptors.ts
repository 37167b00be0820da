// State descriptors: the name, kind, serializer, default, functions and TTL of one state.
// Pure data; a backend turns a descriptor into a state handle.
import { FloeError } from '../core/errors.js';
import type { AggregateFunction, ReduceFunction, StateKind } from './state.js';
import { defaultSerializer, type TypeSerializer } from './serde/type-serializer.js';
import type { StateTtlConfig } from './ttl/state-ttl-config.js';

/** Options every descriptor takes. */
export interface StateDescriptorOptions<T> {
  /** How values are written in snapshots; default msgpack. */
  serializer?: TypeSerializer<T>;
  /** Time to live of each value (each list element and map entry for collections). */
  ttl?: StateTtlConfig;
}

/** The common part of every descriptor. */
export abstract class StateDescriptor<T = unknown> {
  abstract readonly kind: StateKind;
  readonly name: string;
  readonly serializer: TypeSerializer<T>;
  ttl: StateTtlConfig | undefined;

  protected constructor(name: string, options: StateDescriptorOptions<T> = {}) {
    if (typeof name !== 'string' || name.length === 0)
      throw new FloeError('INVALID_ARGUMENT', 'A state descriptor needs a non-empty name (unique within its operator)');
    this.name = name;
    this.serializer = options.serializer ?? (defaultSerializer as TypeSerializer<T>);
    this.ttl = options.ttl;
  }

  /** Enables TTL (Flink's `enableTimeToLive`). */
  enableTimeToLive(ttl: StateTtlConfig): this {
    this.ttl = ttl;
    return this;
  }
}

/** Describes a {@link ValueState}. */
export class ValueStateDescriptor<T> extends StateDescriptor<T> {
  readonly kind = 'value' as const;
  /**
   * Returned by `value()` when the key has no value. Deprecated in Flink and ignored with TTL;
   * kept because the seed's CountWindowAverage uses it. Objects are copied per read with
   * `structuredClone`, so the default itself is never changed by user code.
   */
  readonly defaultValue: T | undefined;

  constructor(name: string, options: StateDescriptorOptions<T> & { defaultValue?: T } = {}) {
    super(name, options);
    this.defaultValue = options.defaultValue;
  }
}

/** Describes a {@link ListState}; the serializer is the element serializer. */
export class ListStateDescriptor<T> extends StateDescriptor<T> {
  readonly kind = 'list' as const;

  constructor(name: string, options: StateDescriptorOptions<T> = {}) {
    super(name, options);
  }
}

/** Describes a {@link MapState}; the serializer is the value serializer. */
export class MapStateDescriptor<UK, UV> extends StateDescriptor<UV> {
  readonly kind = 'map' as const;
  readonly keySerializer: TypeSerializer<UK>;

  constructor(name: string, options: StateDescriptorOptions<UV> & { keySerializer?: TypeSerializer<UK> } = {}) {
    super(name, options);
    this.keySerializer = options.keySerializer ?? (defaultSerializer as TypeSerializer<UK>);
  }
}

/** Describes a {@link ReducingState}. */
export class ReducingStateDescriptor<T> extends StateDescriptor<T> {
  readonly kind = 'reducing' as const;
  readonly reduce: ReduceFunction<T>;

  constructor(name: string, options: StateDescriptorOptions<T> & { reduce: ReduceFunction<T> }) {
    super(name, options);
    if (typeof options?.reduce !== 'function')
      throw new FloeError('INVALID_ARGUMENT', `ReducingStateDescriptor '${name}' needs a reduce function: { reduce: (a, b) => ... }`);
    this.reduce = options.reduce;
  }
}

/** Describes an {@link AggregatingState}; the serializer is the accumulator serializer. */
export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptor<ACC> {
  readonly kind = 'aggregating' as const;
  readonly aggregate: AggregateFunction<IN, ACC, OUT>;

  constructor(name: string, options: StateDescriptorOptions<ACC> & { aggregate: AggregateFunction<IN, ACC, OUT> }) {
    super(name, options);
    const agg = options?.aggregate;
    if (!agg || typeof agg.createAccumulator !== 'function' || typeof agg.add !== 'function' || typeof agg.getResult !== 'function')
      throw new FloeError(
        'INVALID_ARGUMENT',
        `AggregatingStateDescriptor '${name}' needs an aggregate function: { createAccumulator, add, getResult }`,
      );
    this.aggregate = agg;
  }
}

export type AnyStateDescriptor =
  | ValueStateDescriptor<any>
  | ListStateDescriptor<any>
  | MapStateDescriptor<any, any>
  | ReducingStateDescriptor<any>
  | AggregatingStateDescriptor<any, any, any>;
