// The storage of one heap state: namespace -> (key id -> stored value). Handles keep the inner
// map of their current namespace, so one access is one Map operation. No I/O.
import type { KeyId } from '../../core/key-encoding.js';
import { VOID_NAMESPACE, type Namespace } from '../keyed-state-backend.js';

/**
 * What one running snapshot saved of the entries touched while it is written: before the live
 * table first reads or changes an object-valued entry in place, the snapshot encodes that object
 * (with the state's serializers, exactly as it would at write time) and keeps the bytes. The live
 * objects are never copied or replaced, so their prototypes, methods and identity stay as the user
 * made them whether or not a snapshot is running.
 */
export class SnapshotLog {
  /** Per namespace, per key id: the object the entry held when first touched, and its encoded payload (`null`: left out, e.g. expired). */
  readonly saved = new Map<Namespace, Map<KeyId, [object, Uint8Array | null]>>();
  /** The first error the encoder threw: the snapshot fails with it; processing is not disturbed. */
  error: unknown = undefined;

  constructor(private readonly encode: (stored: unknown) => Uint8Array | null) {}

  /** Saves the encoding of `stored` for (namespace, id), once per snapshot. */
  save(namespace: Namespace, id: KeyId, stored: object): void {
    let ids = this.saved.get(namespace);
    if (ids === undefined) this.saved.set(namespace, (ids = new Map()));
    if (ids.has(id)) return;
    let payload: Uint8Array | null = null;
    try {
      payload = this.encode(stored);
    } catch (cause) {
      this.error ??= cause;
    }
    ids.set(id, [stored, payload]);
  }
}

/**
 * Namespace -> key id -> stored value (the raw value, or a TTL wrapper). A snapshot copies the
 * key and value lists (references) when it is taken; while it is written, every access first
 * calls `copyOnAccess`, which has each running snapshot encode an object-valued entry before it
 * can change, so what a snapshot writes is the entry as it was at its barrier (Flink's
 * copy-on-write state map, per entry, with the copy on the snapshot's side). Primitives need nothing.
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

  /**
   * Before an access to an object-valued entry while snapshots are written: each running snapshot
   * saves the entry's encoding (once), so later in-place changes cannot reach it. Costs one encode
   * per touched entry per snapshot.
   */
  copyOnAccess(namespace: Namespace, map: Map<KeyId, S>, id: KeyId): void {
    const current = map.get(id);
    if (current === undefined || typeof current !== 'object' || current === null) return;
    for (const log of this.snapshots) log.save(namespace, id, current);
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
