// The base of the heap TTL state handles: the TTL policy, incremental cleanup on every access,
// and noticing when cleanup dropped the cached namespace map. No I/O.
import { HeapStateHandle, type KeyContext } from '../heap/heap-state-handle.js';
import type { StateTable } from '../heap/state-table.js';
import { IncrementalCleanup, type TtlPolicy } from './ttl-support.js';

/**
 * A heap state handle whose stored values carry timestamps. Kept apart from the plain handles
 * so that state without TTL runs code with no TTL branches at all.
 */
export abstract class TtlStateHandle<S> extends HeapStateHandle<S> {
  /** Incremental cleanup of this state, undefined when the config turns it off. */
  readonly cleanup: IncrementalCleanup<S> | undefined;

  constructor(
    ctx: KeyContext,
    table: StateTable<S>,
    protected readonly ttl: TtlPolicy,
  ) {
    super(ctx, table);
    const config = ttl.config.incrementalCleanup;
    this.cleanup = config === false ? undefined : new IncrementalCleanup<S>(table, config.cleanupSize, (s, now) => this.prune(s, now), ttl.clock);
  }

  /** Whether cleanup should also run once per processed record (runCleanupForEveryRecord). */
  get cleanupForEveryRecord(): boolean {
    const config = this.ttl.config.incrementalCleanup;
    return config !== false && config.runCleanupForEveryRecord;
  }

  /**
   * What of one stored value is alive at `now`: the value to keep (the same object when nothing
   * expired), or undefined when all of it expired. Used by incremental cleanup.
   */
  abstract prune(stored: S, now: number): S | undefined;

  /** Called first by every access: snapshot copy, a step of incremental cleanup, stale-map check. */
  protected touch(): void {
    this.access();
    if (this.cleanup !== undefined) {
      this.cleanup.run();
      if (this.epoch !== this.table.epoch) this.refetch();
    }
  }
}
