// State time-to-live configuration (Flink's StateTtlConfig): when a value expires, when its
// timestamp is refreshed, whether an expired value may still be read, and how it is cleaned up.
import { FloeError } from '../../core/errors.js';

/** When the last-access timestamp of a value is refreshed. */
export const UpdateType = {
  /** Only on create and write (the default). */
  OnCreateAndWrite: 'OnCreateAndWrite',
  /** Also on every read; a read then costs a write. */
  OnReadAndWrite: 'OnReadAndWrite',
} as const;
export type UpdateType = (typeof UpdateType)[keyof typeof UpdateType];

/** Whether an expired value that is still stored may be returned. */
export const StateVisibility = {
  /** Expired values are never returned (the default). */
  NeverReturnExpired: 'NeverReturnExpired',
  /** An expired value is returned if cleanup has not removed it yet (and removed on that read). */
  ReturnExpiredIfNotCleanedUp: 'ReturnExpiredIfNotCleanedUp',
} as const;
export type StateVisibility = (typeof StateVisibility)[keyof typeof StateVisibility];

/** Options of a TTL configuration; only `timeToLiveMs` is required. */
export interface StateTtlOptions {
  /** Time to live in milliseconds of processing time (> 0). */
  timeToLiveMs: number;
  updateType?: UpdateType;
  stateVisibility?: StateVisibility;
  /**
   * Incremental cleanup while processing (heap): every state access checks `cleanupSize`
   * further entries of that state and drops the expired ones; with `runCleanupForEveryRecord`
   * every processed record does too. Default `{ cleanupSize: 5, runCleanupForEveryRecord: false }`;
   * `false` turns background cleanup off (expired values are then dropped only when read).
   */
  incrementalCleanup?: { cleanupSize: number; runCleanupForEveryRecord: boolean } | false;
  /**
   * Leave out of a full snapshot what had expired at its barrier (Flink's cleanupFullSnapshot).
   * Default false: expired entries stay in snapshots until cleanup or a read removes them. The
   * heap's snapshots are all full; the disk backend's materializations are, its incremental
   * change-log segments carry changes as written (as Flink's incremental RocksDB checkpoints).
   */
  cleanupFullSnapshot?: boolean;
}

/**
 * An immutable TTL configuration. Build it from options or with Flink's builder:
 *
 * @example
 * const ttl = StateTtlConfig.newBuilder(60_000)
 *   .setUpdateType(UpdateType.OnReadAndWrite)
 *   .setStateVisibility(StateVisibility.NeverReturnExpired)
 *   .build();
 * new ValueStateDescriptor<number>('count', { ttl });
 */
export class StateTtlConfig {
  readonly timeToLiveMs: number;
  readonly updateType: UpdateType;
  readonly stateVisibility: StateVisibility;
  readonly incrementalCleanup: { readonly cleanupSize: number; readonly runCleanupForEveryRecord: boolean } | false;
  readonly cleanupFullSnapshot: boolean;

  constructor(options: StateTtlOptions) {
    const { timeToLiveMs } = options;
    if (!Number.isFinite(timeToLiveMs) || timeToLiveMs <= 0)
      throw new FloeError('INVALID_ARGUMENT', `StateTtlConfig: timeToLiveMs must be a positive number of milliseconds, got ${timeToLiveMs}`);
    this.timeToLiveMs = timeToLiveMs;
    this.updateType = options.updateType ?? UpdateType.OnCreateAndWrite;
    this.stateVisibility = options.stateVisibility ?? StateVisibility.NeverReturnExpired;
    const cleanup = options.incrementalCleanup ?? { cleanupSize: 5, runCleanupForEveryRecord: false };
    if (cleanup !== false && (!Number.isInteger(cleanup.cleanupSize) || cleanup.cleanupSize < 0))
      throw new FloeError('INVALID_ARGUMENT', `StateTtlConfig: cleanupSize must be a non-negative integer, got ${cleanup.cleanupSize}`);
    this.incrementalCleanup = cleanup === false ? false : Object.freeze({ ...cleanup });
    this.cleanupFullSnapshot = options.cleanupFullSnapshot ?? false;
    Object.freeze(this);
  }

  /** Flink-style builder. */
  static newBuilder(timeToLiveMs: number): StateTtlConfigBuilder {
    return new StateTtlConfigBuilder(timeToLiveMs);
  }

  /** True when a value last touched at `lastAccess` has expired at `now` (overflow-safe). */
  isExpired(lastAccess: number, now: number): boolean {
    return lastAccess + this.timeToLiveMs <= now;
  }
}

/** Builder mirroring Flink's `StateTtlConfig.newBuilder(...)...build()`. */
export class StateTtlConfigBuilder {
  private readonly options: StateTtlOptions;

  constructor(timeToLiveMs: number) {
    this.options = { timeToLiveMs };
  }

  setUpdateType(updateType: UpdateType): this {
    this.options.updateType = updateType;
    return this;
  }

  updateTtlOnCreateAndWrite(): this {
    return this.setUpdateType(UpdateType.OnCreateAndWrite);
  }

  updateTtlOnReadAndWrite(): this {
    return this.setUpdateType(UpdateType.OnReadAndWrite);
  }

  setStateVisibility(visibility: StateVisibility): this {
    this.options.stateVisibility = visibility;
    return this;
  }

  neverReturnExpired(): this {
    return this.setStateVisibility(StateVisibility.NeverReturnExpired);
  }

  returnExpiredIfNotCleanedUp(): this {
    return this.setStateVisibility(StateVisibility.ReturnExpiredIfNotCleanedUp);
  }

  cleanupIncrementally(cleanupSize: number, runCleanupForEveryRecord: boolean): this {
    this.options.incrementalCleanup = { cleanupSize, runCleanupForEveryRecord };
    return this;
  }

  disableCleanupInBackground(): this {
    this.options.incrementalCleanup = false;
    return this;
  }

  cleanupFullSnapshot(): this {
    this.options.cleanupFullSnapshot = true;
    return this;
  }

  build(): StateTtlConfig {
    return new StateTtlConfig(this.options);
  }
}
