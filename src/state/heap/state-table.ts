// The storage of one heap state: namespace -> (key id -> stored value). Handles keep the inner
// map of their current namespace, so one access is one Map operation. No I/O.
import type { KeyId } from '../../core/key-encoding.js';
import { VOID_NAMESPACE, type Namespace } from '../keyed-state-backend.js';

/**
 * Which object-valued entries have been given a private copy since a snapshot was taken: the
 * snapshot holds the original objects, the live table works on the copies.
 */
export class SnapshotLog {
  readonly cloned = new Map<Namespace, Set<KeyId>>();
}

/**
 * Namespace -> key id -> stored value (the raw value, or a TTL wrapper). A snapshot copies the
 * key and value lists (references) when it is taken; while it is written, every access first
 * calls `copyOnAccess`, which gives an object-valued entry a private deep copy, so the snapshot's
 * objects never change (Flink's copy-on-write state map, per entry). Primitives need nothing.
 */
export class StateTable<S> {
  readonly namespaces = new Map<Namespace, Map<KeyId, S>>();
  /** Logs of the snapshots in progress; empty almost always, so the check is one length test. */
  readonly snapshots: SnapshotLog[] = [];
  /**
   * Bumped whenever a namespace map is dropped or created behind a handle's back (cleanup,
   * restore), so a handle can tell with one number compare that its cached map is stale.
   */
  epoch = 0;

  constructor() {
    this.namespaces.set(VOID_NAMESPACE, new Map());
  }

  /** The map of a namespace, created when missing. */
  mapOf(namespace: Namespace): Map<KeyId, S> {
    let map = this.namespaces.get(namespace);
    if (map === undefined) {
      this.namespaces.set(namespace, (map = new Map()));
      this.epoch++;
    }
    return map;
  }

  /** Before the first access to an object-valued entry during a snapshot: give the live table a deep copy. */
  copyOnAccess(namespace: Namespace, map: Map<KeyId, S>, id: KeyId): void {
    const current = map.get(id);
    if (current === undefined || typeof current !== 'object' || current === null) return;
    let copied = false;
    for (const log of this.snapshots) {
      let ids = log.cloned.get(namespace);
      if (ids === undefined) log.cloned.set(namespace, (ids = new Set()));
      if (ids.has(id)) continue;
      ids.add(id);
      if (!copied) {
        map.set(id, structuredClone(current));
        copied = true;
      }
    }
  }

  /** Drops a namespace's map once it is empty (windows would otherwise leak one map each). */
  releaseIfEmpty(namespace: Namespace, map: Map<KeyId, S>): void {
    if (map.size === 0 && namespace !== VOID_NAMESPACE && this.namespaces.get(namespace) === map) {
      this.namespaces.delete(namespace);
      this.epoch++;
    }
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
