// Reads the items of an in-memory iterable or an async iterable (fromElements, fromCollection).
// One split whose position is the number of items emitted: a restore iterates again and skips
// them (the collection must be the same). Not splittable: runs with parallelism 1. No I/O.
import { FloeError } from '../../core/errors.js';
import type { InputStatus, Source, SourceOutput, SourceReader, SourceSplit, SplitEnumeratorContext } from '../../runtime/source.js';
import { StaticSplitEnumerator, type StaticSplitEnumeratorState } from '../static-splits/static-split-enumerator.js';

/** The one split of a collection: how many items were emitted. */
export interface CollectionSplit extends SourceSplit {
  position: number;
}

export class CollectionSource<T> implements Source<T, CollectionSplit, StaticSplitEnumeratorState<CollectionSplit>> {
  readonly name = 'Collection Source';
  readonly bounded = true;
  readonly maxParallelism = 1;

  constructor(private readonly items: Iterable<T> | AsyncIterable<T>) {}

  createEnumerator(ctx: SplitEnumeratorContext<CollectionSplit>, restored?: StaticSplitEnumeratorState<CollectionSplit>): StaticSplitEnumerator<CollectionSplit> {
    return new StaticSplitEnumerator(ctx, restored ?? { pending: [{ id: 'collection', position: 0 }] });
  }

  createReader(): SourceReader<T, CollectionSplit> {
    return new CollectionReader(this.items);
  }

  /** Floe 0.1 stored the number of items emitted. */
  restoreLegacyPositions(positions: readonly unknown[]): { readers: CollectionSplit[][]; enumerator: StaticSplitEnumeratorState<CollectionSplit> } {
    return { readers: [[{ id: 'collection', position: positions[0] as number }]], enumerator: { pending: [] } };
  }
}

const WAITING_FOR_SPLITS = new Promise<void>(() => {});
const AVAILABLE = Promise.resolve();

/**
 * Iterates the collection from the start of its split, skipping what the position says was
 * emitted. An async iterable is read a batch ahead by one promise chain; pollNext emits the
 * buffered items and says 'nothing-available' while the next batch is on its way.
 */
class CollectionReader<T> implements SourceReader<T, CollectionSplit> {
  private split: CollectionSplit | undefined;
  private noMoreSplits = false;
  private iterator: Iterator<T> | undefined;
  private asyncIterator: AsyncIterator<T> | undefined;
  /** Items fetched from an async iterator and not yet emitted; `done` once it returned. */
  private buffered: T[] = [];
  private done = false;
  private fetching: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;

  constructor(private readonly items: Iterable<T> | AsyncIterable<T>) {}

  addSplits(splits: CollectionSplit[]): void {
    if (splits.length > 1 || (splits.length === 1 && this.split !== undefined))
      throw new FloeError('INVALID_ARGUMENT', 'Collection source: a reader reads at most one collection split');
    this.split = splits[0];
  }

  notifyNoMoreSplits(): void {
    this.noMoreSplits = true;
  }

  snapshotState(): CollectionSplit[] {
    return this.split === undefined ? [] : [this.split];
  }

  isAvailable(): Promise<void> {
    // A fetch that completed before this call left its items buffered: available now.
    return this.fetching ?? (this.split === undefined ? WAITING_FOR_SPLITS : AVAILABLE);
  }

  pollNext(output: SourceOutput<T>, max: number): InputStatus {
    if (this.failure !== undefined) throw this.failure.error;
    const split = this.split;
    if (split === undefined) return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
    if (Symbol.asyncIterator in Object(this.items)) return this.pollAsync(split, output, max);
    if (this.iterator === undefined) {
      this.iterator = (this.items as Iterable<T>)[Symbol.iterator]();
      for (let skipped = 0; skipped < split.position; skipped++) if (this.iterator.next().done === true) return this.finish();
    }
    for (let i = 0; i < max; i++) {
      const next = this.iterator.next();
      if (next.done === true) return this.finish();
      split.position++;
      output.collect(next.value);
    }
    return 'more-available';
  }

  private pollAsync(split: CollectionSplit, output: SourceOutput<T>, max: number): InputStatus {
    const n = Math.min(max, this.buffered.length);
    for (let i = 0; i < n; i++) {
      split.position++;
      output.collect(this.buffered[i]);
    }
    this.buffered = n === this.buffered.length ? [] : this.buffered.slice(n);
    if (this.buffered.length > 0) return 'more-available';
    if (this.done) return this.finish();
    if (this.fetching === undefined) this.fetching = this.fetch(max, this.asyncIterator === undefined ? split.position : 0);
    return 'nothing-available';
  }

  /** Reads up to `max` items ahead (after skipping `skip` on the first call). Never rejects: a failure is thrown by the next poll. */
  private async fetch(max: number, skip: number): Promise<void> {
    try {
      this.asyncIterator ??= (this.items as AsyncIterable<T>)[Symbol.asyncIterator]();
      for (let skipped = 0; skipped < skip; skipped++) {
        if ((await this.asyncIterator.next()).done === true) {
          this.done = true;
          return;
        }
      }
      while (this.buffered.length < max) {
        const next = await this.asyncIterator.next();
        if (next.done === true) {
          this.done = true;
          return;
        }
        this.buffered.push(next.value);
      }
    } catch (error) {
      this.failure = { error };
    } finally {
      this.fetching = undefined;
    }
  }

  private finish(): InputStatus {
    this.split = undefined;
    return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
  }

  async close(): Promise<void> {
    const returning = this.asyncIterator?.return?.();
    // An async generator runs return() only after the pending next(): do not wait for a read that may never end.
    if (this.fetching === undefined) await returning;
    else returning?.catch(() => {});
  }
}
