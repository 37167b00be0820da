// ListState on the heap without TTL: an array per key; add appends without copying the list.
// The TTL variant is ttl/ttl-list-state.ts. No I/O.
import { FloeError } from '../../core/errors.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { ListState } from '../state.js';
import { HeapStateHandle, type InspectedValue } from './heap-state-handle.js';

/** Throws INVALID_ARGUMENT for a null or undefined list element (Flink forbids null elements). */
export function checkListElement(value: unknown, place: string): void {
  if (value === undefined || value === null)
    throw new FloeError('INVALID_ARGUMENT', `${place}: list state elements may not be ${value}; leave them out instead`);
}

/** The elements of an iterable, each checked, before anything is changed (so a bad element changes nothing). */
export function checkedListElements<T>(values: Iterable<T>, place: string): T[] {
  if (values === undefined || values === null || typeof (values as Iterable<T>)[Symbol.iterator] !== 'function')
    throw new FloeError('INVALID_ARGUMENT', `${place}: addAll/update need an iterable of elements, got ${values}`);
  const items = Array.from(values);
  for (let i = 0; i < items.length; i++) checkListElement(items[i], place);
  return items;
}

/** A {@link ListState} storing one array per key. `get()` returns a copy of the array. */
export class HeapListState<T> extends HeapStateHandle<T[]> implements ListState<T>, InternalKvState {
  get(): T[] {
    this.access();
    const list = this.map.get(this.ctx.id);
    return list === undefined ? [] : list.slice();
  }

  add(value: T): void {
    checkListElement(value, this.place);
    this.access();
    const list = this.map.get(this.ctx.id);
    if (list === undefined) this.store([value]);
    else list.push(value);
  }

  addAll(values: Iterable<T>): void {
    const items = checkedListElements(values, this.place);
    if (items.length === 0) return;
    this.access();
    const list = this.map.get(this.ctx.id);
    if (list === undefined) this.store(items);
    else for (let i = 0; i < items.length; i++) list.push(items[i]);
  }

  /** Replaces the list; an empty iterable clears it. */
  update(values: Iterable<T>): void {
    const items = checkedListElements(values, this.place);
    if (items.length === 0) this.removeCurrent();
    else this.store(items);
  }

  clear(): void {
    this.removeCurrent();
  }

  inspect(stored: T[]): InspectedValue {
    return { value: stored.slice() };
  }
}
