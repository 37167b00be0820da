// What every heap state handle shares: the current key (read from the backend's key context),
// the cached map of the current namespace, and removal that does not leak namespaces. No I/O.
import type { KeyId } from '../../core/key-encoding.js';
import { VOID_NAMESPACE, checkNamespace, type InternalKvState, type Namespace } from '../keyed-state-backend.js';
import type { StateTable } from './state-table.js';

/** The backend's current key, shared by every handle (single-threaded, so a plain object). */
export interface KeyContext {
  key: unknown;
  id: KeyId;
  /** -1 until computed for the current key. */
  keyGroup: number;
  /**
   * Called when a write adds the current key to a namespace map for the first time; throws when
   * the key is not this backend's to hold. Absent for tables used alone (tests).
   */
  checkNewKey?: () => void;
}

/** How inspection shows one stored value: the user-facing value and, with TTL, the last access time. */
export interface InspectedValue {
  value: unknown;
  lastAccessTime?: number;
}

/**
 * Stands in for the map of a namespace that has no entries: reads find nothing, and the first
 * write swaps in a real map registered with the table. Never written to.
 */
const ABSENT: Map<KeyId, never> = new Map<KeyId, never>();

/**
 * The base of every heap state handle. `map` is the inner map of the current namespace, so an
 * access is one `Map` operation on `ctx.id`. A non-void namespace map is dropped from the table
 * as soon as it becomes empty, so windows do not leave one empty map each behind.
 */
export abstract class HeapStateHandle<S> implements InternalKvState {
  protected namespace: Namespace = VOID_NAMESPACE;
  protected map: Map<KeyId, S>;
  /** `table.epoch` when `map` was fetched. */
  protected epoch: number;
  /** "job 'j', operator 'o', subtask 0/1, state 's'": the prefix of this state's error messages. */
  place = '';

  constructor(
    protected readonly ctx: KeyContext,
    /** The stored entries (read by snapshots and inspection). */
    readonly table: StateTable<S>,
  ) {
    this.map = table.mapOf(VOID_NAMESPACE);
    this.epoch = table.epoch;
  }

  setCurrentNamespace(namespace: Namespace): void {
    if (namespace === this.namespace) return;
    checkNamespace(namespace, this.place);
    this.namespace = namespace;
    this.refetch();
  }

  /** Re-reads the current namespace's map after the table changed behind this handle (restore, cleanup). */
  refetch(): void {
    this.map = this.table.namespaces.get(this.namespace) ?? ABSENT;
    this.epoch = this.table.epoch;
  }

  /** The user-facing form of one stored value, for `entries()`. */
  abstract inspect(stored: S): InspectedValue;

  /** Called first by every read or in-place change: keeps running snapshots consistent (copy on first access). */
  protected access(): void {
    if (this.table.snapshots.length !== 0) this.table.copyOnAccess(this.namespace, this.map, this.ctx.id);
  }

  /** The current namespace's map for a write, registered with the table on first use. */
  protected writable(): Map<KeyId, S> {
    let map = this.map;
    if (map === ABSENT) {
      map = this.map = this.table.mapOf(this.namespace);
      this.epoch = this.table.epoch;
    }
    return map;
  }

  /**
   * Sets the current key's stored value. A write that adds a key (the map grew) checks that the
   * key's key group belongs to this backend and undoes itself when not: a Map size compare per
   * write, one hash per new key.
   */
  protected store(value: S): void {
    const map = this.writable();
    const size = map.size;
    map.set(this.ctx.id, value);
    if (map.size !== size && this.ctx.checkNewKey !== undefined) {
      try {
        this.ctx.checkNewKey();
      } catch (error) {
        this.removeCurrent();
        throw error;
      }
    }
  }

  /**
   * Removes the current key's entry, and the namespace's map when that leaves it empty. Needs no
   * snapshot copy: a running snapshot holds its own list of the entries.
   */
  protected removeCurrent(): void {
    const map = this.map;
    map.delete(this.ctx.id);
    if (map.size === 0 && this.namespace !== VOID_NAMESPACE && map !== ABSENT) {
      this.table.releaseIfEmpty(this.namespace, map);
      this.map = ABSENT;
      this.epoch = this.table.epoch;
    }
  }
}
