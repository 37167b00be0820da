// MapState on the heap without TTL: a Map per key whose entries are keyed by the user key's id,
// so {a:1} and {a:1} are one user key. The TTL variant is ttl/ttl-map-state.ts. No I/O.
import { FloeError, describeValue } from '../../core/errors.js';
import { keyFromId } from '../../core/key-decoding.js';
import { type KeyId, keyId } from '../../core/key-encoding.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { MapState } from '../state.js';
import { HeapStateHandle, type InspectedValue } from './heap-state-handle.js';

/** The id of a map state's user key; INVALID_KEY naming the operator and state when it is not a usable key. */
export function userKeyId(key: unknown, place: string): KeyId {
  try {
    return keyId(key);
  } catch (cause) {
    throw new FloeError('INVALID_KEY', `${place}: unusable map key ${describeValue(key)}. ${(cause as Error).message}`, { cause });
  }
}

/** The entries of a putAll argument with their ids, all checked before anything is changed. */
export function userEntries<UK, UV>(entries: Iterable<readonly [UK, UV]> | ReadonlyMap<UK, UV>, place: string): Array<[KeyId, UV]> {
  const out: Array<[KeyId, UV]> = [];
  for (const [k, v] of entries as Iterable<readonly [UK, UV]>) out.push([userKeyId(k, place), v]);
  return out;
}

/**
 * A {@link MapState} storing one `Map<user key id, value>` per key. A key whose map becomes empty
 * has no state (its map is removed). Iteration works on a copy of the entries, so the state may
 * be changed while iterating; user keys come back decoded (`keyFromId`), equal to the originals.
 */
export class HeapMapState<UK, UV> extends HeapStateHandle<Map<KeyId, UV>> implements MapState<UK, UV>, InternalKvState {
  get(key: UK): UV | undefined {
    const uid = userKeyId(key, this.place);
    this.access();
    return this.map.get(this.ctx.id)?.get(uid);
  }

  put(key: UK, value: UV): void {
    const uid = userKeyId(key, this.place);
    this.access();
    let m = this.map.get(this.ctx.id);
    if (m === undefined) this.store((m = new Map()));
    m.set(uid, value);
  }

  putAll(entries: Iterable<readonly [UK, UV]> | ReadonlyMap<UK, UV>): void {
    const items = userEntries(entries, this.place);
    if (items.length === 0) return;
    this.access();
    let m = this.map.get(this.ctx.id);
    if (m === undefined) this.store((m = new Map()));
    for (let i = 0; i < items.length; i++) m.set(items[i][0], items[i][1]);
  }

  remove(key: UK): void {
    const uid = userKeyId(key, this.place);
    this.access();
    const m = this.map.get(this.ctx.id);
    if (m === undefined || !m.delete(uid)) return;
    if (m.size === 0) this.removeCurrent();
  }

  contains(key: UK): boolean {
    const uid = userKeyId(key, this.place);
    return this.map.get(this.ctx.id)?.has(uid) ?? false;
  }

  entries(): IterableIterator<[UK, UV]> {
    const m = this.current();
    const out: Array<[UK, UV]> = [];
    if (m !== undefined) for (const [id, v] of m) out.push([keyFromId(id) as UK, v]);
    return out.values();
  }

  keys(): IterableIterator<UK> {
    const m = this.current();
    const out: UK[] = [];
    if (m !== undefined) for (const id of m.keys()) out.push(keyFromId(id) as UK);
    return out.values();
  }

  values(): IterableIterator<UV> {
    const m = this.current();
    return (m === undefined ? [] : Array.from(m.values())).values();
  }

  isEmpty(): boolean {
    // Empty maps are removed, so a stored map has entries.
    return this.map.get(this.ctx.id) === undefined;
  }

  clear(): void {
    this.removeCurrent();
  }

  inspect(stored: Map<KeyId, UV>): InspectedValue {
    const value = new Map<unknown, UV>();
    for (const [id, v] of stored) value.set(keyFromId(id), v);
    return { value };
  }

  private current(): Map<KeyId, UV> | undefined {
    this.access();
    return this.map.get(this.ctx.id);
  }
}
