// Reads the items of an in-memory iterable or an async iterable (fromElements, fromCollection).
// Not splittable: runs with parallelism 1.
import type { Source, SourceOutput, SourceReader } from '../../runtime/source.js';

export class CollectionSource<T> implements Source<T> {
  readonly name = 'Collection Source';
  readonly bounded = true;
  readonly maxParallelism = 1;

  constructor(private readonly items: Iterable<T> | AsyncIterable<T>) {}

  createReader(): SourceReader<T> {
    const items = this.items;
    if (Symbol.asyncIterator in Object(items)) return new AsyncIterableReader((items as AsyncIterable<T>)[Symbol.asyncIterator]());
    return new IterableReader((items as Iterable<T>)[Symbol.iterator]());
  }
}

/** Position = number of items emitted; a restore skips that many (the collection must be the same). */
class IterableReader<T> implements SourceReader<T> {
  private consumed = 0;
  private skip = 0;

  constructor(private readonly iterator: Iterator<T>) {}

  pollNext(output: SourceOutput<T>, max: number): boolean {
    for (; this.skip > 0; this.skip--, this.consumed++) if (this.iterator.next().done) return false;
    for (let i = 0; i < max; i++) {
      const next = this.iterator.next();
      if (next.done) return false;
      this.consumed++;
      output.collect(next.value);
    }
    return true;
  }

  snapshotPosition(): unknown {
    return this.consumed;
  }

  restorePosition(position: unknown): void {
    this.skip = position as number;
  }
}

class AsyncIterableReader<T> implements SourceReader<T> {
  constructor(private readonly iterator: AsyncIterator<T>) {}

  async pollNext(output: SourceOutput<T>, max: number): Promise<boolean> {
    for (let i = 0; i < max; i++) {
      const next = await this.iterator.next();
      if (next.done) return false;
      output.collect(next.value);
    }
    return true;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}
