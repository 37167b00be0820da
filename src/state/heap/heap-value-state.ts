// ValueState on the heap: one Map.get / Map.set per access; a TTL variant stores {v, t}. No I/O.
import type { InternalKvState } from '../keyed-state-backend.js';
import type { ValueState } from '../state.js';
import type { TtlValue } from '../ttl/ttl-support.js';
import { HeapStateHandle } from './heap-state-handle.js';

/** Copies an object default so that user code changing it never changes the descriptor's. */
export function defaultValueFactory<T>(defaultValue: T | undefined): () => T | undefined {
  if (defaultValue === undefined || defaultValue === null || typeof defaultValue !== 'object') return () => defaultValue;
  return () => structuredClone(defaultValue);
}

export class HeapValueState<T> extends HeapStateHandle<T> implements ValueState<T>, InternalKvState {
  defaultValue: () => T | undefined = () => undefined;

  value(): T | undefined {
    this.access();
    const v = this.map.get(this.ctx.id);
    return v === undefined ? this.defaultValue() : v;
  }

  update(value: T): void {
    this.access();
    if (value === undefined || value === null) this.removeCurrent();
    else this.map.set(this.ctx.id, value);
  }

  clear(): void {
    this.removeCurrent();
  }
}

export class TtlHeapValueState<T> extends HeapStateHandle<TtlValue<T>> implements ValueState<T>, InternalKvState {
  value(): T | undefined {
    this.touch();
    const ttl = this.ttl!;
    const stored = this.map.get(this.ctx.id);
    if (stored === undefined) return undefined;
    const now = ttl.now();
    if (ttl.isExpired(stored, now)) {
      this.removeCurrent();
      return ttl.returnExpired ? stored.v : undefined;
    }
    if (ttl.refreshOnRead) stored.t = now;
    return stored.v;
  }

  update(value: T): void {
    this.touch();
    if (value === undefined || value === null) this.removeCurrent();
    else this.map.set(this.ctx.id, this.ttl!.wrap(value));
  }

  clear(): void {
    this.removeCurrent();
  }
}
