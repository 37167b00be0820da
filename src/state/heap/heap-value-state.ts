// ValueState on the heap without TTL: the raw value per key, one Map.get / Map.set per access,
// no allocation. The TTL variant is ttl/ttl-value-state.ts. No I/O.
import type { InternalKvState } from '../keyed-state-backend.js';
import type { ValueState } from '../state.js';
import { HeapStateHandle, type InspectedValue, type KeyContext } from './heap-state-handle.js';
import type { StateTable } from './state-table.js';

/**
 * A {@link ValueState} storing the raw value. `value()` returns the stored object itself (not a
 * copy, as Flink's heap backend); the descriptor's default is returned when absent, as a
 * `structuredClone` for objects so user code cannot change the default.
 */
export class HeapValueState<T> extends HeapStateHandle<T> implements ValueState<T>, InternalKvState {
  private readonly defaultValue: T | undefined;
  private readonly copyDefault: boolean;

  constructor(ctx: KeyContext, table: StateTable<T>, defaultValue: T | undefined) {
    super(ctx, table);
    this.defaultValue = defaultValue;
    this.copyDefault = typeof defaultValue === 'object' && defaultValue !== null;
  }

  value(): T | undefined {
    this.access();
    const v = this.map.get(this.ctx.id);
    if (v !== undefined) return v;
    return this.copyDefault ? structuredClone(this.defaultValue) : this.defaultValue;
  }

  /** Stores `value`; `undefined` or `null` clears, as Flink's `update(null)`. */
  update(value: T): void {
    if (value === undefined || value === null) this.removeCurrent();
    // No snapshot copy needed: replacing the reference leaves a running snapshot's object alone.
    else this.store(value);
  }

  clear(): void {
    this.removeCurrent();
  }

  inspect(stored: T): InspectedValue {
    return { value: stored };
  }
}
