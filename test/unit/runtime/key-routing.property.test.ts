// Law: every record reaches the subtask whose key-group range holds its key's key group, at any
// parallelism and max parallelism, through the real runtime (partitioner, channels, tasks).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RuntimeContext, StreamEnvironment, assignToKeyGroup, computeKeyGroupRangeForOperatorIndex } from '../../../src/index.js';

const keyArb = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.boolean(),
  fc.tuple(fc.string({ maxLength: 4 }), fc.integer()),
  fc.record({ user: fc.string({ maxLength: 4 }), n: fc.integer() }),
);

class RecordSubtask {
  subtask = -1;
  open(ctx: RuntimeContext) {
    this.subtask = ctx.getIndexOfThisSubtask();
  }
  map(key: unknown) {
    return { key, subtask: this.subtask };
  }
}

describe('key routing', () => {
  it('processes every key on the subtask whose key-group range holds its key group', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(keyArb, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 200 }),
        async (keys, parallelism, extra) => {
          const maxParallelism = parallelism + extra;
          const env = StreamEnvironment.create({ parallelism, maxParallelism });
          const out = await env
            .fromCollection<unknown>(keys)
            .keyBy((k) => k)
            .map(new RecordSubtask())
            .executeAndCollect();
          expect(out).toHaveLength(keys.length);
          for (const { key, subtask } of out) {
            const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, parallelism, subtask);
            expect(range.contains(assignToKeyGroup(key, maxParallelism))).toBe(true);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
