// The rolling reduce keeps its state apart from the records it emits: a downstream function that
// changes its input changes neither the state nor later reduce results.
import { describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../../src/index.js';

interface Sum {
  k: string;
  n: number;
}

const input: Sum[] = [
  { k: 'a', n: 1 },
  { k: 'b', n: 10 },
  { k: 'a', n: 2 },
  { k: 'a', n: 3 },
  { k: 'b', n: 20 },
];

async function run(reduce: (a: Sum, b: Sum) => Sum): Promise<number[]> {
  const env = StreamEnvironment.create();
  return env
    .fromElements(...input.map((r) => ({ ...r })))
    .keyBy((r) => r.k)
    .reduce(reduce)
    .map((r: Sum) => {
      r.n *= 100; // a downstream function that changes the record it gets
      return r.n;
    })
    .executeAndCollect();
}

describe('keyed reduce', () => {
  it('emits running sums unchanged by a downstream map that mutates its input', async () => {
    expect(await run((a, b) => ({ k: a.k, n: a.n + b.n }))).toEqual([100, 1000, 300, 600, 3000]);
  });

  it('emits running sums unchanged when the reduce function changes its accumulator in place', async () => {
    expect(
      await run((a, b) => {
        a.n += b.n;
        return a;
      }),
    ).toEqual([100, 1000, 300, 600, 3000]);
  });

  it('emits running sums of a tuple field unchanged by a downstream map that mutates its input', async () => {
    const env = StreamEnvironment.create();
    const out = await env
      .fromElements<[string, number]>(['a', 1], ['a', 2], ['a', 3])
      .keyBy((t) => t[0])
      .sum(1)
      .map((t: [string, number]) => {
        const sum = t[1];
        t[1] = -1;
        return sum;
      })
      .executeAndCollect();
    expect(out).toEqual([1, 3, 6]);
  });
});
