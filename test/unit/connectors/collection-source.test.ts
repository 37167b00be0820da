// The collection source: one split whose position is the number of items emitted; a restore
// iterates again and skips them, for iterables and async iterables alike.
import { describe, expect, it } from 'vitest';
import { CollectionSource } from '../../../src/connectors/collection/collection-source.js';
import { SourceTestHarness } from '../../../src/testing/source-test-harness.js';

async function* numbers(n: number) {
  for (let i = 0; i < n; i++) {
    await Promise.resolve();
    yield i;
  }
}

describe('collection source', () => {
  it.each([
    ['an iterable', () => Array.from({ length: 10 }, (_, i) => i)],
    ['an async iterable', () => ({ [Symbol.asyncIterator]: () => numbers(10) })],
  ])('resumes %s after the items emitted before the checkpoint', async (_, items) => {
    const first = await SourceTestHarness.create(new CollectionSource<number>(items()), { parallelism: 1 });
    expect(await first.read(0, 4)).toEqual([0, 1, 2, 3]);
    const snapshot = first.snapshot(1);
    expect(snapshot.readers).toEqual([[{ id: 'collection', position: 4 }]]);
    await first.close();
    const resumed = await SourceTestHarness.create(new CollectionSource<number>(items()), { parallelism: 1, restore: snapshot });
    expect(await resumed.readAll()).toEqual([4, 5, 6, 7, 8, 9]);
    expect(resumed.status[0]).toBe('end-of-input');
  });

  it('says nothing-available while an async item is on its way, and has it once that resolves', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slow() {
      await gate;
      yield 'late';
    }
    const h = await SourceTestHarness.create(new CollectionSource<string>(slow()), { parallelism: 1 });
    expect(h.poll(0)).toBe('nothing-available');
    const available = h.isAvailable(0);
    let resolved = false;
    void available.then(() => (resolved = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    release();
    await available;
    expect(h.poll(0)).toBe('end-of-input'); // the item, and the iterator said it was done
    expect(h.output[0]).toEqual(['late']);
  });

  it('restores the item count of a checkpoint of Floe 0.1', () => {
    expect(new CollectionSource([1, 2, 3]).restoreLegacyPositions([2])).toEqual({ readers: [[{ id: 'collection', position: 2 }]], enumerator: { pending: [] } });
  });
});
