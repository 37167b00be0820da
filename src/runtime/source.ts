// The contract of a source: a factory that makes one reader per parallel subtask, and the
// reader that the subtask's loop polls for records in chunks. Connectors implement it.
import type { Clock } from '../core/clock.js';

export { type SplitPosition, isSplitPosition } from '../core/split-position.js';

/** Receives the records a source reader emits. */
export interface SourceOutput<T> {
  /** `timestamp`: the event time of the record, if the source knows it. */
  collect(value: T, timestamp?: number): void;
}

/** What a reader knows about where it runs. */
export interface SourceReaderContext {
  jobName: string;
  uid: string;
  subtaskIndex: number;
  parallelism: number;
  clock: Clock;
  log(message: string): void;
}

/**
 * Reads one share of a source. `pollNext` emits up to `max` records and returns whether more
 * may follow; it may return a promise when it has to wait (I/O, a rate limit). The loop calls it
 * again only after the emitted records were processed, so a reader never outruns backpressure.
 */
export interface SourceReader<T> {
  open?(): void | Promise<void>;
  pollNext(output: SourceOutput<T>, max: number): boolean | Promise<boolean>;
  close?(): void | Promise<void>;
  /**
   * The read position, stored in every checkpoint (plain data). Replayable readers implement it.
   * A position of the form `{ splits: [...] }` (a `SplitPosition`) can be rescaled: restored at
   * another parallelism, the splits of all readers are dealt out evenly, each to exactly one
   * reader (Flink's split assignment); any other position restores only at the same parallelism.
   */
  snapshotPosition?(): unknown;
  /** Resumes from a position of `snapshotPosition` (after a rescale: its share of the splits), before open(). */
  restorePosition?(position: unknown): void;
}

/** A source: makes the reader of each parallel subtask. */
export interface Source<T> {
  /** Human-readable kind, used in operator names ("Collection Source"). */
  readonly name: string;
  /** True when the source ends by itself. */
  readonly bounded: boolean;
  /** Sources that cannot be split (a collection, one file) run with parallelism 1. */
  readonly maxParallelism?: number;
  createReader(ctx: SourceReaderContext): SourceReader<T>;
}
