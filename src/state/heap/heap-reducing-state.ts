// ReducingState and AggregatingState on the heap: one accumulator per key (with TTL, one
// timestamp for the whole accumulator). No I/O.
import type { InternalKvState } from '../keyed-state-backend.js';
import type { AggregateFunction, AggregatingState, ReduceFunction, ReducingState } from '../state.js';
import type { TtlValue } from '../ttl/ttl-support.js';
import { HeapStateHandle } from './heap-state-handle.js';

/** Reads and writes the accumulator of the current key, honouring TTL. */
class AccumulatorHandle<ACC> extends HeapStateHandle<ACC | TtlValue<ACC>> {
  protected readAccumulator(): ACC | undefined {
    this.touch();
    const stored = this.map.get(this.ctx.id);
    if (stored === undefined) return undefined;
    const ttl = this.ttl;
    if (ttl === undefined) return stored as ACC;
    const e = stored as TtlValue<ACC>;
    const now = ttl.now();
    if (ttl.isExpired(e, now)) {
      this.removeCurrent();
      return ttl.returnExpired ? e.v : undefined;
    }
    if (ttl.refreshOnRead) e.t = now;
    return e.v;
  }

  /** The accumulator for an add: expired values never feed a new aggregate. */
  protected readForAdd(): ACC | undefined {
    this.touch();
    const stored = this.map.get(this.ctx.id);
    if (stored === undefined) return undefined;
    const ttl = this.ttl;
    if (ttl === undefined) return stored as ACC;
    const e = stored as TtlValue<ACC>;
    return ttl.isExpired(e, ttl.now()) ? undefined : e.v;
  }

  protected writeAccumulator(acc: ACC): void {
    this.map.set(this.ctx.id, this.ttl === undefined ? acc : this.ttl.wrap(acc));
  }

  clear(): void {
    this.removeCurrent();
  }
}

export class HeapReducingState<T> extends AccumulatorHandle<T> implements ReducingState<T>, InternalKvState {
  reduce!: ReduceFunction<T>;

  get(): T | undefined {
    return this.readAccumulator();
  }

  add(value: T): void {
    const acc = this.readForAdd();
    this.writeAccumulator(acc === undefined ? value : this.reduce(acc, value));
  }
}

export class HeapAggregatingState<IN, ACC, OUT> extends AccumulatorHandle<ACC> implements AggregatingState<IN, OUT>, InternalKvState {
  aggregate!: AggregateFunction<IN, ACC, OUT>;

  get(): OUT | undefined {
    const acc = this.readAccumulator();
    return acc === undefined ? undefined : this.aggregate.getResult(acc);
  }

  add(value: IN): void {
    const acc = this.readForAdd() ?? this.aggregate.createAccumulator();
    this.writeAccumulator(this.aggregate.add(value, acc));
  }
}
