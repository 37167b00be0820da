// ValueState on the heap with TTL: each key stores { v, t } (value, last access time). No I/O.
import type { InternalKvState } from '../keyed-state-backend.js';
import type { ValueState } from '../state.js';
import { TtlSingleValueState } from './ttl-single-value-state.js';

/**
 * A {@link ValueState} with TTL. The descriptor's default value is ignored (as Flink). An expired
 * value is removed when read; it is returned by that read only with ReturnExpiredIfNotCleanedUp.
 */
export class TtlHeapValueState<T> extends TtlSingleValueState<T> implements ValueState<T>, InternalKvState {
  value(): T | undefined {
    return this.read();
  }

  /** Stores `value` stamped with the current time; `undefined` or `null` clears. */
  update(value: T): void {
    this.touch();
    if (value === undefined || value === null) this.removeCurrent();
    // touch() has given a running snapshot its own copy, so the wrapper can be reused.
    else this.write(value);
  }
}
