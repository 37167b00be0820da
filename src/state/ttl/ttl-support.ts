// TTL bookkeeping shared by the heap state handles: the stored wrapper, expiry checks against
// the injected clock, and incremental cleanup over a lazy, resumable iterator. No I/O.
import type { Clock } from '../../core/clock.js';
import type { KeyId } from '../../core/key-encoding.js';
import type { Namespace } from '../keyed-state-backend.js';
import type { StateTable } from '../heap/state-table.js';
import { StateVisibility, type StateTtlConfig, UpdateType } from './state-ttl-config.js';

/** A value with the time it was last written (or read, with OnReadAndWrite). */
export interface TtlValue<T> {
  v: T;
  t: number;
}

/** Expiry decisions of one state, with the config's enums turned into booleans for the hot path. */
export class TtlPolicy {
  /** UpdateType.OnReadAndWrite: successful reads refresh the timestamp too. */
  readonly refreshOnRead: boolean;
  /** StateVisibility.ReturnExpiredIfNotCleanedUp: an expired value still stored is returned once. */
  readonly returnExpired: boolean;

  constructor(
    readonly config: StateTtlConfig,
    readonly clock: Clock,
  ) {
    this.refreshOnRead = config.updateType === UpdateType.OnReadAndWrite;
    this.returnExpired = config.stateVisibility === StateVisibility.ReturnExpiredIfNotCleanedUp;
  }

  /** Current processing time of the TTL clock. */
  now(): number {
    return this.clock.now();
  }

  /** Expired iff last access + time to live <= now. */
  isExpired(wrapped: TtlValue<unknown>, now: number): boolean {
    return this.config.isExpired(wrapped.t, now);
  }

  /** A new wrapper stamped with `now`. */
  wrap<T>(v: T, now = this.clock.now()): TtlValue<T> {
    return { v, t: now };
  }
}

/**
 * Incremental cleanup (Flink's cleanupIncrementally): each run checks the next `cleanupSize`
 * entries of one state and drops what expired, resuming where the last run stopped. The cursor
 * is a pair of live `Map` iterators (namespaces, then entries), so entries added or removed
 * meanwhile are handled as JS iteration handles them; it restarts from the beginning when done.
 */
export class IncrementalCleanup<S> {
  private namespaces: Iterator<[Namespace, Map<KeyId, S>]> | undefined;
  private namespace: Namespace = '';
  private map: Map<KeyId, S> | undefined;
  /** Entries rather than keys: reading the value from the iterator saves a hash lookup per check. */
  private cursor: Iterator<[KeyId, S]> | undefined;
  private currentId: KeyId | undefined;
  private currentValue: S | undefined;

  constructor(
    private readonly table: StateTable<S>,
    readonly cleanupSize: number,
    /** What of one stored value is still alive: the value to keep (maybe the same object), or undefined to drop it. */
    private readonly prune: (stored: S, now: number) => S | undefined,
    private readonly clock: Clock,
  ) {}

  /** Checks the next `cleanupSize` entries (fewer when the state has fewer). */
  run(): void {
    if (this.cleanupSize === 0) return;
    const now = this.clock.now();
    const table = this.table;
    let restarted = false;
    for (let checked = 0; checked < this.cleanupSize; ) {
      if (!this.advance()) {
        // One pass per run at most: a state smaller than cleanupSize is not checked twice.
        if (restarted) return;
        restarted = true;
        continue;
      }
      checked++;
      const map = this.map!;
      const id = this.currentId!;
      let stored = this.currentValue!;
      if (table.snapshots.length !== 0) {
        table.copyOnAccess(this.namespace, map, id);
        stored = map.get(id)!;
      }
      const kept = this.prune(stored, now);
      if (kept === undefined) {
        map.delete(id);
        table.releaseIfEmpty(this.namespace, map);
      } else if (kept !== stored) map.set(id, kept);
    }
  }

  /** Moves the cursor to the next stored entry; false (and a reset cursor) at the end of the state. */
  private advance(): boolean {
    for (;;) {
      if (this.cursor !== undefined) {
        const next = this.cursor.next();
        if (!next.done) {
          this.currentId = next.value[0];
          this.currentValue = next.value[1];
          return true;
        }
        this.cursor = undefined;
      }
      if (this.namespaces === undefined) this.namespaces = this.table.namespaces.entries();
      const next = this.namespaces.next();
      if (next.done) {
        this.namespaces = undefined;
        this.map = undefined;
        this.currentValue = undefined;
        return false;
      }
      [this.namespace, this.map] = next.value;
      this.cursor = this.map.entries();
    }
  }
}
