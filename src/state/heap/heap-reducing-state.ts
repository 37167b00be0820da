// ReducingState and AggregatingState on the heap without TTL: one accumulator per key. The TTL
// variants are ttl/ttl-reducing-state.ts. No I/O.
import type { InternalKvState } from '../keyed-state-backend.js';
import type { AggregateFunction, AggregatingState, ReduceFunction, ReducingState } from '../state.js';
import { HeapStateHandle, type InspectedValue, type KeyContext } from './heap-state-handle.js';
import type { StateTable } from './state-table.js';

/** A {@link ReducingState}: the first added value is stored as is, later ones are folded with `reduce(acc, v)`. */
export class HeapReducingState<T> extends HeapStateHandle<T> implements ReducingState<T>, InternalKvState {
  constructor(
    ctx: KeyContext,
    table: StateTable<T>,
    private readonly reduce: ReduceFunction<T>,
  ) {
    super(ctx, table);
  }

  get(): T | undefined {
    this.access();
    return this.map.get(this.ctx.id);
  }

  add(value: T): void {
    this.access();
    const acc = this.map.get(this.ctx.id);
    this.store(acc === undefined ? value : this.reduce(acc, value));
  }

  clear(): void {
    this.removeCurrent();
  }

  inspect(stored: T): InspectedValue {
    return { value: stored };
  }
}

/** An {@link AggregatingState}: stores the accumulator; `get()` is `getResult(acc)`, undefined when nothing was added. */
export class HeapAggregatingState<IN, ACC, OUT> extends HeapStateHandle<ACC> implements AggregatingState<IN, OUT>, InternalKvState {
  constructor(
    ctx: KeyContext,
    table: StateTable<ACC>,
    private readonly aggregate: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(ctx, table);
  }

  get(): OUT | undefined {
    this.access();
    const acc = this.map.get(this.ctx.id);
    return acc === undefined ? undefined : this.aggregate.getResult(acc);
  }

  add(value: IN): void {
    this.access();
    const acc = this.map.get(this.ctx.id);
    this.store(this.aggregate.add(value, acc === undefined ? this.aggregate.createAccumulator() : acc));
  }

  clear(): void {
    this.removeCurrent();
  }

  inspect(stored: ACC): InspectedValue {
    return { value: stored };
  }
}
