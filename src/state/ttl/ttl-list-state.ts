// ListState on the heap with TTL: every element is stored as { v, t } and expires on its own
// (Flink's TtlListState). No I/O.
import { checkListElement, checkedListElements } from '../heap/heap-list-state.js';
import type { InspectedValue } from '../heap/heap-state-handle.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { ListState } from '../state.js';
import { TtlStateHandle } from './ttl-state-handle.js';
import type { TtlValue } from './ttl-support.js';

/**
 * A {@link ListState} with TTL per element. `get()` drops expired elements from the stored list
 * (returning them once with ReturnExpiredIfNotCleanedUp) and, with OnReadAndWrite, refreshes the
 * timestamps of the elements it returns.
 */
export class TtlHeapListState<T> extends TtlStateHandle<TtlValue<T>[]> implements ListState<T>, InternalKvState {
  get(): T[] {
    this.touch();
    const items = this.map.get(this.ctx.id);
    if (items === undefined) return [];
    const ttl = this.ttl;
    const now = ttl.now();
    const live = this.prune(items, now);
    const visible = ttl.returnExpired || live === items ? items.map(valueOf) : live === undefined ? [] : live.map(valueOf);
    if (live === undefined) this.removeCurrent();
    else {
      if (live !== items) this.map.set(this.ctx.id, live);
      if (ttl.refreshOnRead) for (let i = 0; i < live.length; i++) live[i].t = now;
    }
    return visible;
  }

  add(value: T): void {
    checkListElement(value, this.place);
    this.touch();
    const item = { v: value, t: this.ttl.now() };
    const list = this.map.get(this.ctx.id);
    if (list === undefined) this.store([item]);
    else list.push(item);
  }

  addAll(values: Iterable<T>): void {
    const items = checkedListElements(values, this.place);
    if (items.length === 0) return;
    this.touch();
    const now = this.ttl.now();
    const wrapped = items.map((v) => ({ v, t: now }));
    const list = this.map.get(this.ctx.id);
    if (list === undefined) this.store(wrapped);
    else for (let i = 0; i < wrapped.length; i++) list.push(wrapped[i]);
  }

  /** Replaces the list, every element stamped now; an empty iterable clears it. */
  update(values: Iterable<T>): void {
    const items = checkedListElements(values, this.place);
    this.touch();
    if (items.length === 0) this.removeCurrent();
    else {
      const now = this.ttl.now();
      this.store(items.map((v) => ({ v, t: now })));
    }
  }

  clear(): void {
    this.touch();
    this.removeCurrent();
  }

  prune(stored: TtlValue<T>[], now: number): TtlValue<T>[] | undefined {
    const ttl = this.ttl;
    let expired = 0;
    for (let i = 0; i < stored.length; i++) if (ttl.isExpired(stored[i], now)) expired++;
    if (expired === 0) return stored;
    if (expired === stored.length) return undefined;
    return stored.filter((e) => !ttl.isExpired(e, now));
  }

  inspect(stored: TtlValue<T>[]): InspectedValue {
    let latest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < stored.length; i++) if (stored[i].t > latest) latest = stored[i].t;
    return { value: stored.map(valueOf), lastAccessTime: latest };
  }
}

function valueOf<T>(e: TtlValue<T>): T {
  return e.v;
}
