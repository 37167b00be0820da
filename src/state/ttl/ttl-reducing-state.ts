// ReducingState and AggregatingState on the heap with TTL: the accumulator is stored as
// { v, t }, one timestamp for the whole accumulator (Flink's TtlReducingState / TtlAggregatingState). No I/O.
import type { KeyContext, InspectedValue } from '../heap/heap-state-handle.js';
import type { StateTable } from '../heap/state-table.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { AggregateFunction, AggregatingState, ReduceFunction, ReducingState } from '../state.js';
import { TtlStateHandle } from './ttl-state-handle.js';
import type { TtlPolicy, TtlValue } from './ttl-support.js';

/** Reads and writes the timestamped accumulator of the current key. */
abstract class TtlAccumulatorState<ACC> extends TtlStateHandle<TtlValue<ACC>> {
  /** The accumulator for a read: expired ones are removed, and returned once with ReturnExpiredIfNotCleanedUp. */
  protected read(): ACC | undefined {
    this.touch();
    const stored = this.map.get(this.ctx.id);
    if (stored === undefined) return undefined;
    const ttl = this.ttl;
    const now = ttl.now();
    if (ttl.isExpired(stored, now)) {
      this.removeCurrent();
      return ttl.returnExpired ? stored.v : undefined;
    }
    if (ttl.refreshOnRead) stored.t = now;
    return stored.v;
  }

  /**
   * The accumulator an add folds into. As Flink's TtlReduceFunction / TtlAggregateFunction, an
   * expired accumulator still stored is used only with ReturnExpiredIfNotCleanedUp; otherwise
   * the add starts afresh.
   */
  protected readForAdd(): ACC | undefined {
    this.touch();
    const stored = this.map.get(this.ctx.id);
    if (stored === undefined) return undefined;
    const ttl = this.ttl;
    return !ttl.returnExpired && ttl.isExpired(stored, ttl.now()) ? undefined : stored.v;
  }

  /** Stores the accumulator stamped now (an add is a write). */
  protected write(acc: ACC): void {
    const map = this.writable();
    const stored = map.get(this.ctx.id);
    const now = this.ttl.now();
    if (stored === undefined) map.set(this.ctx.id, { v: acc, t: now });
    else {
      stored.v = acc;
      stored.t = now;
    }
  }

  clear(): void {
    this.touch();
    this.removeCurrent();
  }

  prune(stored: TtlValue<ACC>, now: number): TtlValue<ACC> | undefined {
    return this.ttl.isExpired(stored, now) ? undefined : stored;
  }

  inspect(stored: TtlValue<ACC>): InspectedValue {
    return { value: stored.v, lastAccessTime: stored.t };
  }
}

/** A {@link ReducingState} with TTL on the reduced value. */
export class TtlHeapReducingState<T> extends TtlAccumulatorState<T> implements ReducingState<T>, InternalKvState {
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
export class TtlHeapAggregatingState<IN, ACC, OUT> extends TtlAccumulatorState<ACC> implements AggregatingState<IN, OUT>, InternalKvState {
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
