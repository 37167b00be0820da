// MapState on the heap: a Map per key whose entries are keyed by the user key's id (so
// {a:1} and {a:1} are one user key); with TTL each entry expires alone. No I/O.
import { keyFromId } from '../../core/key-decoding.js';
import { type KeyId, keyId } from '../../core/key-encoding.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { MapState } from '../state.js';
import type { TtlValue } from '../ttl/ttl-support.js';
import { HeapStateHandle } from './heap-state-handle.js';

type UserMap = Map<KeyId, unknown>;

export class HeapMapState<UK, UV> extends HeapStateHandle<UserMap> implements MapState<UK, UV>, InternalKvState {
  /** The live user map of the current key, expired entries dropped (undefined when absent). */
  private current(create: boolean): UserMap | undefined {
    this.touch();
    let m = this.map.get(this.ctx.id);
    if (m === undefined) {
      if (!create) return undefined;
      this.map.set(this.ctx.id, (m = new Map()));
    }
    return m;
  }

  /** Reads one entry honouring TTL; `undefined` when absent or expired (and removes expired). */
  private read(m: UserMap, id: KeyId): UV | undefined {
    const stored = m.get(id);
    if (stored === undefined) return undefined;
    const ttl = this.ttl;
    if (ttl === undefined) return stored as UV;
    const e = stored as TtlValue<UV>;
    const now = ttl.now();
    if (ttl.isExpired(e, now)) {
      this.removeEntry(m, id);
      return ttl.returnExpired ? e.v : undefined;
    }
    if (ttl.refreshOnRead) e.t = now;
    return e.v;
  }

  private removeEntry(m: UserMap, id: KeyId): void {
    m.delete(id);
    if (m.size === 0) this.removeCurrent();
  }

  get(key: UK): UV | undefined {
    const m = this.current(false);
    return m === undefined ? undefined : this.read(m, keyId(key));
  }

  put(key: UK, value: UV): void {
    const id = keyId(key);
    const m = this.current(true)!;
    m.set(id, this.ttl === undefined ? value : this.ttl.wrap(value));
  }

  putAll(entries: Iterable<readonly [UK, UV]> | ReadonlyMap<UK, UV>): void {
    for (const [k, v] of entries as Iterable<readonly [UK, UV]>) this.put(k, v);
  }

  remove(key: UK): void {
    const m = this.current(false);
    if (m !== undefined) this.removeEntry(m, keyId(key as UK));
  }

  contains(key: UK): boolean {
    const m = this.current(false);
    if (m === undefined) return false;
    const id = keyId(key);
    if (!m.has(id)) return false;
    if (this.ttl === undefined) return true;
    return this.read(m, id) !== undefined || this.ttl.returnExpired;
  }

  *entries(): IterableIterator<[UK, UV]> {
    for (const [id, value] of this.liveEntries()) yield [keyFromId(id) as UK, value];
  }

  *keys(): IterableIterator<UK> {
    for (const [id] of this.liveEntries()) yield keyFromId(id) as UK;
  }

  *values(): IterableIterator<UV> {
    for (const [, value] of this.liveEntries()) yield value;
  }

  isEmpty(): boolean {
    const m = this.current(false);
    if (m === undefined) return true;
    if (this.ttl === undefined) return m.size === 0;
    return this.liveEntries().length === 0;
  }

  clear(): void {
    this.removeCurrent();
  }

  /** Entries visible now (a snapshot array, so callers may change the map while iterating). */
  private liveEntries(): Array<[KeyId, UV]> {
    const m = this.current(false);
    if (m === undefined) return [];
    const out: Array<[KeyId, UV]> = [];
    const ttl = this.ttl;
    if (ttl === undefined) {
      for (const [id, v] of m) out.push([id, v as UV]);
      return out;
    }
    const now = ttl.now();
    for (const [id, stored] of [...m]) {
      const e = stored as TtlValue<UV>;
      if (ttl.isExpired(e, now)) {
        this.removeEntry(m, id);
        if (ttl.returnExpired) out.push([id, e.v]);
        continue;
      }
      if (ttl.refreshOnRead) e.t = now;
      out.push([id, e.v]);
    }
    return out;
  }
}
