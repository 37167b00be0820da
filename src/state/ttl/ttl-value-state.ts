// ValueState on the heap with TTL: each key stores { v, t } (value, last access time). No I/O.
import type { InspectedValue } from '../heap/heap-state-handle.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { ValueState } from '../state.js';
import { TtlStateHandle } from './ttl-state-handle.js';
import type { TtlValue } from './ttl-support.js';

/**
 * A {@link ValueState} with TTL. The descriptor's default value is ignored (as Flink). An expired
 * value is removed when read; it is returned by that read only with ReturnExpiredIfNotCleanedUp.
 */
export class TtlHeapValueState<T> extends TtlStateHandle<TtlValue<T>> implements ValueState<T>, InternalKvState {
  value(): T | undefined {
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

  /** Stores `value` stamped with the current time; `undefined` or `null` clears. */
  update(value: T): void {
    this.touch();
    if (value === undefined || value === null) {
      this.removeCurrent();
      return;
    }
    const map = this.writable();
    const stored = map.get(this.ctx.id);
    const now = this.ttl.now();
    // touch() has given a running snapshot its own copy, so the wrapper can be reused.
    if (stored === undefined) map.set(this.ctx.id, { v: value, t: now });
    else {
      stored.v = value;
      stored.t = now;
    }
  }

  clear(): void {
    this.touch();
    this.removeCurrent();
  }

  prune(stored: TtlValue<T>, now: number): TtlValue<T> | undefined {
    return this.ttl.isExpired(stored, now) ? undefined : stored;
  }

  inspect(stored: TtlValue<T>): InspectedValue {
    return { value: stored.v, lastAccessTime: stored.t };
  }
}
