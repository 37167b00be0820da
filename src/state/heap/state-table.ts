// The storage of one heap state: namespace -> (key id -> stored value). Handles keep the inner
// map of their current namespace, so one access is one Map operation. No I/O.
import type { KeyId } from '../../core/key-encoding.js';
import { VOID_NAMESPACE, type Namespace } from '../keyed-state-backend.js';

/** Namespace -> key id -> stored value (the raw value, or a TTL wrapper). */
export class StateTable<S> {
  readonly namespaces = new Map<Namespace, Map<KeyId, S>>();

  constructor() {
    this.namespaces.set(VOID_NAMESPACE, new Map());
  }

  /** The map of a namespace, created when missing. */
  mapOf(namespace: Namespace): Map<KeyId, S> {
    let map = this.namespaces.get(namespace);
    if (map === undefined) this.namespaces.set(namespace, (map = new Map()));
    return map;
  }

  /** Drops a namespace's map once it is empty (windows would otherwise leak one map each). */
  releaseIfEmpty(namespace: Namespace, map: Map<KeyId, S>): void {
    if (map.size === 0 && namespace !== VOID_NAMESPACE && this.namespaces.get(namespace) === map) this.namespaces.delete(namespace);
  }

  /** Number of stored (key, namespace) entries. */
  get size(): number {
    let n = 0;
    for (const map of this.namespaces.values()) n += map.size;
    return n;
  }

  /** Number of distinct keys over all namespaces. */
  numKeys(): number {
    if (this.namespaces.size === 1) return this.namespaces.get(VOID_NAMESPACE)?.size ?? 0;
    const keys = new Set<KeyId>();
    for (const map of this.namespaces.values()) for (const k of map.keys()) keys.add(k);
    return keys.size;
  }

  /** Every entry; live iteration tolerates changes while it runs (JS Map semantics). */
  *entries(): Generator<[Namespace, Map<KeyId, S>, KeyId, S]> {
    for (const [namespace, map] of this.namespaces) for (const [id, stored] of map) yield [namespace, map, id, stored];
  }
}
