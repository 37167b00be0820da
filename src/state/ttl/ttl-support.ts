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

/** Expiry decisions of one state. */
export class TtlPolicy {
  readonly refreshOnRead: boolean;
  readonly returnExpired: boolean;

  constructor(
    readonly config: StateTtlConfig,
    readonly clock: Clock,
  ) {
    this.refreshOnRead = config.updateType === UpdateType.OnReadAndWrite;
    this.returnExpired = config.stateVisibility === StateVisibility.ReturnExpiredIfNotCleanedUp;
  }

  now(): number {
    return this.clock.now();
  }

  isExpired(wrapped: TtlValue<unknown>, now: number): boolean {
    return this.config.isExpired(wrapped.t, now);
  }

  wrap<T>(v: T, now = this.clock.now()): TtlValue<T> {
    return { v, t: now };
  }
}

/**
 * Incremental cleanup (Flink's cleanupIncrementally): each state access checks the next
 * `cleanupSize` entries of the state, resuming where the last check stopped.
 */
export class IncrementalCleanup<S> {
  private cursor: Generator<[Namespace, Map<KeyId, S>, KeyId, S]> | undefined;

  constructor(
    private readonly table: StateTable<S>,
    private readonly cleanupSize: number,
    /** Removes what expired of one stored value; returns the value to keep, or undefined to drop it. */
    private readonly prune: (stored: S, now: number) => S | undefined,
    private readonly clock: Clock,
  ) {}

  run(): void {
    if (this.cleanupSize === 0) return;
    const now = this.clock.now();
    for (let i = 0; i < this.cleanupSize; i++) {
      if (this.cursor === undefined) this.cursor = this.table.entries();
      const next = this.cursor.next();
      if (next.done) {
        this.cursor = undefined;
        if (i === 0 || this.table.size === 0) return;
        continue;
      }
      const [namespace, map, id] = next.value;
      if (this.table.snapshots.length !== 0) this.table.copyOnAccess(namespace, map, id);
      const stored = map.get(id);
      if (stored === undefined) continue;
      const kept = this.prune(stored, now);
      if (kept === undefined) {
        map.delete(id);
        this.table.releaseIfEmpty(namespace, map);
      } else if (kept !== stored) map.set(id, kept);
    }
  }
}
