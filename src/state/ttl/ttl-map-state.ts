// MapState on the heap with TTL: every entry is stored as { v, t } and expires on its own
// (Flink's TtlMapState). No I/O.
import { keyFromId } from '../../core/key-decoding.js';
import type { KeyId } from '../../core/key-encoding.js';
import { userEntries, userKeyId } from '../heap/heap-map-state.js';
import type { InspectedValue } from '../heap/heap-state-handle.js';
import type { InternalKvState } from '../keyed-state-backend.js';
import type { MapState } from '../state.js';
import { TtlStateHandle } from './ttl-state-handle.js';
import type { TtlValue } from './ttl-support.js';

type Entries<UV> = Map<KeyId, TtlValue<UV>>;

/**
 * A {@link MapState} with TTL per entry. Reads (get, contains, iteration, isEmpty) drop expired
 * entries they meet, return them once with ReturnExpiredIfNotCleanedUp, and with OnReadAndWrite
 * refresh the entries they return.
 */
export class TtlHeapMapState<UK, UV> extends TtlStateHandle<Entries<UV>> implements MapState<UK, UV>, InternalKvState {
  get(key: UK): UV | undefined {
    const uid = userKeyId(key, this.place);
    this.touch();
    const m = this.map.get(this.ctx.id);
    if (m === undefined) return undefined;
    const e = m.get(uid);
    return e === undefined || !this.visible(m, uid, e, this.ttl.now()) ? undefined : e.v;
  }

  put(key: UK, value: UV): void {
    const uid = userKeyId(key, this.place);
    this.touch();
    this.entriesForWrite().set(uid, { v: value, t: this.ttl.now() });
  }

  putAll(entries: Iterable<readonly [UK, UV]> | ReadonlyMap<UK, UV>): void {
    const items = userEntries(entries, this.place);
    if (items.length === 0) return;
    this.touch();
    const m = this.entriesForWrite();
    const now = this.ttl.now();
    for (let i = 0; i < items.length; i++) m.set(items[i][0], { v: items[i][1], t: now });
  }

  remove(key: UK): void {
    const uid = userKeyId(key, this.place);
    this.touch();
    const m = this.map.get(this.ctx.id);
    if (m !== undefined && m.delete(uid) && m.size === 0) this.removeCurrent();
  }

  contains(key: UK): boolean {
    const uid = userKeyId(key, this.place);
    this.touch();
    const m = this.map.get(this.ctx.id);
    const e = m?.get(uid);
    return e !== undefined && this.visible(m!, uid, e, this.ttl.now());
  }

  entries(): IterableIterator<[UK, UV]> {
    const out: Array<[UK, UV]> = [];
    this.forEachVisible((id, v) => out.push([keyFromId(id) as UK, v]));
    return out.values();
  }

  keys(): IterableIterator<UK> {
    const out: UK[] = [];
    this.forEachVisible((id) => out.push(keyFromId(id) as UK));
    return out.values();
  }

  values(): IterableIterator<UV> {
    const out: UV[] = [];
    this.forEachVisible((_id, v) => out.push(v));
    return out.values();
  }

  /** True when no entry is visible; like Flink's `!iterator().hasNext()`, it reads up to the first visible entry. */
  isEmpty(): boolean {
    this.touch();
    const m = this.map.get(this.ctx.id);
    if (m === undefined) return true;
    const now = this.ttl.now();
    for (const [id, e] of m) if (this.visible(m, id, e, now)) return false;
    return true;
  }

  clear(): void {
    this.touch();
    this.removeCurrent();
  }

  prune(stored: Entries<UV>, now: number): Entries<UV> | undefined {
    for (const [id, e] of stored) if (this.ttl.isExpired(e, now)) stored.delete(id);
    return stored.size === 0 ? undefined : stored;
  }

  inspect(stored: Entries<UV>): InspectedValue {
    const value = new Map<unknown, UV>();
    let latest = Number.NEGATIVE_INFINITY;
    for (const [id, e] of stored) {
      value.set(keyFromId(id), e.v);
      if (e.t > latest) latest = e.t;
    }
    return { value, lastAccessTime: latest };
  }

  private entriesForWrite(): Entries<UV> {
    let m = this.map.get(this.ctx.id);
    if (m === undefined) this.store((m = new Map()));
    return m;
  }

  /**
   * Whether a read returns entry `e`: an expired entry is removed (with the key's map when that
   * empties it) and counts only with ReturnExpiredIfNotCleanedUp; a live one is refreshed with
   * OnReadAndWrite.
   */
  private visible(m: Entries<UV>, id: KeyId, e: TtlValue<UV>, now: number): boolean {
    const ttl = this.ttl;
    if (ttl.isExpired(e, now)) {
      m.delete(id);
      if (m.size === 0) this.removeCurrent();
      return ttl.returnExpired;
    }
    if (ttl.refreshOnRead) e.t = now;
    return true;
  }

  private forEachVisible(emit: (id: KeyId, v: UV) => void): void {
    this.touch();
    const m = this.map.get(this.ctx.id);
    if (m === undefined) return;
    const now = this.ttl.now();
    // Deleting the entry being visited is safe in a JS Map iteration.
    for (const [id, e] of m) if (this.visible(m, id, e, now)) emit(id, e.v);
  }
}
