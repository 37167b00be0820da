// The storage of one heap state: namespace -> (key id -> stored value). Handles keep the inner
// map of their current namespace, so one access is one Map operation. No I/O.
import type { KeyId } from '../../core/key-encoding.js';
import { VOID_NAMESPACE, type Namespace } from '../keyed-state-backend.js';

/** Marks "this key had no value when the snapshot was taken". */
export const ABSENT: unique symbol = Symbol('absent');

/**
 * What a running snapshot saw of the entries touched since it started: the stored value at
 * snapshot time (or ABSENT). The snapshot reads these instead of the live, changed values.
 */
export class SnapshotLog<S> {
  readonly saved = new Map<Namespace, Map<KeyId, S | typeof ABSENT>>();
}

/**
 * Namespace -> key id -> stored value (the raw value, or a TTL wrapper). While snapshots run,
 * every access first calls `copyOnAccess`, so the snapshot keeps the value as it was and the
 * live table works on a copy (Flink's copy-on-write state map, per entry).
 */
export class StateTable<S> {
  readonly namespaces = new Map<Namespace, Map<KeyId, S>>();
  /** Logs of the snapshots in progress; empty almost always, so the check is one length test. */
  readonly snapshots: SnapshotLog<S>[] = [];

  constructor() {
    this.namespaces.set(VOID_NAMESPACE, new Map());
  }

  /** The map of a namespace, created when missing. */
  mapOf(namespace: Namespace): Map<KeyId, S> {
    let map = this.namespaces.get(namespace);
    if (map === undefined) this.namespaces.set(namespace, (map = new Map()));
    return map;
  }

  /** Before the first access to an entry during a snapshot: save it for the snapshot and give the live table a deep copy. */
  copyOnAccess(namespace: Namespace, map: Map<KeyId, S>, id: KeyId): void {
    let copied = false;
    for (const log of this.snapshots) {
      let saved = log.saved.get(namespace);
      if (saved === undefined) log.saved.set(namespace, (saved = new Map()));
      if (saved.has(id)) continue;
      const current = map.get(id);
      saved.set(id, current === undefined ? ABSENT : current);
      if (!copied && current !== undefined && typeof current === 'object' && current !== null) {
        map.set(id, structuredClone(current));
        copied = true;
      }
    }
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
