// ReducingState and AggregatingState on the heap with TTL: the accumulator is stored as
// { v, t }, one timestamp for the whole accumulator (Flink's TtlReducingState / TtlAggregatingState). No I/O.
import type { KeyContext } from '../heap/heap-state-handle.js';
import type { StateTable } from '../heap/state-table.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { AggregateFunction, AggregatingState, ReduceFunction, ReducingState } from '../state.js';
import { TtlSingleValueState } from './ttl-single-value-state.js';
import type { TtlPolicy, TtlValue } from './ttl-support.js';

/** A {@link ReducingState} with TTL on the reduced value. */
export class TtlHeapReducingState<T> extends TtlSingleValueState<T> implements ReducingState<T>, InternalKvState {
  constructor(
    ctx: KeyContext,
    table: StateTable<TtlValue<T>>,
    ttl: TtlPolicy,
    private readonly reduce: ReduceFunction<T>,
  ) {
    super(ctx, table, ttl);
  }

  get(): T | undefined {
    return this.read();
  }

  add(value: T): void {
    const acc = this.readForAdd();
    this.write(acc === undefined ? value : this.reduce(acc, value));
  }
}

/** An {@link AggregatingState} with TTL on the accumulator. */
export class TtlHeapAggregatingState<IN, ACC, OUT> extends TtlSingleValueState<ACC> implements AggregatingState<IN, OUT>, InternalKvState {
  constructor(
    ctx: KeyContext,
    table: StateTable<TtlValue<ACC>>,
    ttl: TtlPolicy,
    private readonly aggregate: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(ctx, table, ttl);
  }

  get(): OUT | undefined {
    const acc = this.read();
    return acc === undefined ? undefined : this.aggregate.getResult(acc);
  }

  add(value: IN): void {
    const acc = this.readForAdd();
    this.write(this.aggregate.add(value, acc === undefined ? this.aggregate.createAccumulator() : acc));
  }
}
