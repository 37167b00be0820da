// The generator source's splits are strides of the index sequence: whatever was read before a
// checkpoint, restored at any parallelism (the splits go back to its enumerator and are dealt out
// again), every index is read exactly once. Driven by the source harness, no job.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GeneratorSource, type GeneratorSplit, strides } from '../../../src/connectors/generator/generator-source.js';
import { ManualClock } from '../../../src/core/clock.js';
import { type SourceHarnessSnapshot, SourceTestHarness } from '../../../src/testing/source-test-harness.js';
import type { StaticSplitEnumeratorState } from '../../../src/connectors/static-splits/static-split-enumerator.js';

const source = (count: number, options: { splits?: number; eventsPerSecond?: number } = {}) => new GeneratorSource((i) => i, { count, ...options });
const indices = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('generator source', () => {
  it('reads every index exactly once across rescales p1 -> p2 -> p3, whatever was read before each checkpoint', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 3, maxLength: 3 }),
        fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
        fc.array(fc.nat(60), { minLength: 16, maxLength: 16 }),
        async (count, parallelisms, splits, amounts) => {
          const seen: number[] = [];
          let snapshot: SourceHarnessSnapshot<GeneratorSplit, StaticSplitEnumeratorState<GeneratorSplit>> | undefined;
          let step = 0;
          for (const [run, p] of parallelisms.entries()) {
            const h = await SourceTestHarness.create(source(count, { splits }), { parallelism: p, restore: snapshot });
            for (let i = 0; i < p; i++) seen.push(...(await h.read(i, amounts[step++ % amounts.length])));
            snapshot = h.snapshot(run + 1);
            await h.close();
          }
          // The last parallelism reads everything left.
          const last = await SourceTestHarness.create(source(count, { splits }), { parallelism: parallelisms[2], restore: snapshot });
          seen.push(...(await last.readAll()));
          expect(seen.sort((a, b) => a - b)).toEqual(indices(count));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('cuts the sequence into as many strides as the first parallelism, or as asked', async () => {
    expect(strides(3)).toEqual([
      { id: '0/3', next: 0, step: 3 },
      { id: '1/3', next: 1, step: 3 },
      { id: '2/3', next: 2, step: 3 },
    ]);
    const h = await SourceTestHarness.create(source(12, { splits: 4 }), { parallelism: 2 });
    expect(h.snapshot(1).readers.map((splits) => splits.map((s) => s.id))).toEqual([
      ['0/4', '2/4'],
      ['1/4', '3/4'],
    ]);
  });

  it('ends a reader left without splits by a rescale past the number of splits, and the others read the rest', async () => {
    const first = await SourceTestHarness.create(source(10), { parallelism: 2 });
    const up = await SourceTestHarness.create(source(10), { parallelism: 3, restore: first.snapshot(1) });
    expect(up.poll(2)).toBe('end-of-input');
    expect((await up.readAll()).sort((a, b) => a - b)).toEqual(indices(10));
  });

  it.each([2, 3, 5])('keeps the %i strides of one reader in step: what it emits stays within a batch of index order', async (n) => {
    // After a rescale one reader holds several strides; if one ran ahead, event time would run ahead with it.
    const h = await SourceTestHarness.create(source(1_000_000, { splits: n }), { parallelism: 1 });
    for (let poll = 0; poll < 200; poll++) h.poll(0, 512);
    const emitted = h.output[0] as number[];
    expect(emitted).toHaveLength(200 * 512);
    const positions = h.snapshot(1).readers[0].map((s) => s.next);
    expect(Math.max(...positions) - Math.min(...positions)).toBeLessThanOrEqual(512 + n);
    let highest = -1;
    for (const i of emitted) {
      expect(highest - i).toBeLessThanOrEqual(512 + n);
      highest = Math.max(highest, i);
    }
    await h.close();
  });

  it('keeps to its rate without blocking: nothing available until the clock allows more', async () => {
    const clock = new ManualClock(0);
    const h = await SourceTestHarness.create(source(100, { eventsPerSecond: 10 }), { parallelism: 1, clock });
    expect(h.poll(0, 50)).toBe('nothing-available');
    expect(h.output[0]).toEqual([]);
    clock.advance(1000);
    expect(h.poll(0, 50)).toBe('more-available');
    expect(h.output[0]).toEqual(indices(10));
    expect(h.poll(0, 50)).toBe('nothing-available');
    await h.close();
  });

  it('reads on from where it ended when restored with a larger count', async () => {
    const done = await SourceTestHarness.create(source(3, { splits: 4 }), { parallelism: 2 });
    expect((await done.readAll()).sort((a, b) => a - b)).toEqual([0, 1, 2]);
    const more = await SourceTestHarness.create(source(10, { splits: 4 }), { parallelism: 3, restore: done.snapshot(1) });
    expect((await more.readAll()).sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it('restores checkpoints of Floe 0.1 (one stride per reader, or a list of them) at any parallelism', async () => {
    const legacy = source(20).restoreLegacyPositions([{ splits: [{ next: 4, step: 2 }] }, { next: 7, step: 2 }]);
    expect(legacy.readers).toEqual([[{ id: '0/2', next: 4, step: 2 }], [{ id: '1/2', next: 7, step: 2 }]]);
    const h = await SourceTestHarness.create(source(20), { parallelism: 3, restore: { checkpointId: 1, ...legacy } });
    expect((await h.readAll()).sort((a, b) => a - b)).toEqual([4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });
});
