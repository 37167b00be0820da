// The heap TTL handles that store one timestamped value per key and namespace (value,
// reducing and aggregating state): { v, t }, one timestamp for the whole value. No I/O.
import type { InspectedValue } from '../heap/heap-state-handle.js';
import { TtlStateHandle } from './ttl-state-handle.js';
import type { TtlValue } from './ttl-support.js';

/** Reads and writes the timestamped single value (a value or an accumulator) of the current key. */
export abstract class TtlSingleValueState<ACC> extends TtlStateHandle<TtlValue<ACC>> {
  /** The value for a read: expired ones are removed, and returned once with ReturnExpiredIfNotCleanedUp. */
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
    const stored = this.map.get(this.ctx.id);
    const now = this.ttl.now();
    if (stored === undefined) this.store({ v: acc, t: now });
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
