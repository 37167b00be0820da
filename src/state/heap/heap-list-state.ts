// ListState on the heap: the list is an array per key; add appends without copying. With TTL
// each element carries its own timestamp and expires alone. No I/O.
import { FloeError } from '../../core/errors.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { ListState } from '../state.js';
import type { TtlValue } from '../ttl/ttl-support.js';
import { HeapStateHandle } from './heap-state-handle.js';

type Stored<T> = T[] | TtlValue<T>[];

export class HeapListState<T> extends HeapStateHandle<Stored<T>> implements ListState<T>, InternalKvState {
  /** Names the operator and state in errors. */
  describe = '';

  get(): T[] {
    this.touch();
    const list = this.map.get(this.ctx.id);
    if (list === undefined) return [];
    const ttl = this.ttl;
    if (ttl === undefined) return (list as T[]).slice();
    const now = ttl.now();
    const items = list as TtlValue<T>[];
    const live = items.filter((e) => !ttl.isExpired(e, now));
    const visible = ttl.returnExpired ? items.map((e) => e.v) : live.map((e) => e.v);
    if (live.length !== items.length) {
      if (live.length === 0) this.removeCurrent();
      else this.map.set(this.ctx.id, live);
    }
    if (ttl.refreshOnRead) for (const e of live) e.t = now;
    return visible;
  }

  add(value: T): void {
    this.touch();
    this.check(value);
    const list = this.map.get(this.ctx.id);
    const item = this.ttl === undefined ? value : this.ttl.wrap(value);
    if (list === undefined) this.map.set(this.ctx.id, [item] as Stored<T>);
    else (list as unknown[]).push(item);
  }

  addAll(values: Iterable<T>): void {
    for (const v of values) this.add(v);
  }

  update(values: Iterable<T>): void {
    this.touch();
    const items = [...values];
    for (const v of items) this.check(v);
    if (items.length === 0) {
      this.removeCurrent();
      return;
    }
    const ttl = this.ttl;
    if (ttl === undefined) this.map.set(this.ctx.id, items);
    else {
      const now = ttl.now();
      this.map.set(
        this.ctx.id,
        items.map((v) => ttl.wrap(v, now)),
      );
    }
  }

  clear(): void {
    this.removeCurrent();
  }

  private check(value: T): void {
    if (value === undefined || value === null)
      throw new FloeError('INVALID_ARGUMENT', `${this.describe}: list state elements may not be ${value}; leave them out instead`);
  }
}
