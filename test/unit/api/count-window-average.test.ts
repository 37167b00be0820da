import { describe, expect, it } from 'vitest';
import { countWindowAverage } from '../../../examples/count-window-average.js';
import { StreamEnvironment } from '../../../src/index.js';

describe('the seed CountWindowAverage job', () => {
  it.each([1, 2, 4])('emits exactly (1,4) and (1,5) at parallelism %i', async (parallelism) => {
    const env = StreamEnvironment.create({ parallelism });
    const output = await countWindowAverage(env).executeAndCollect();
    expect(output).toEqual([
      [1, 4],
      [1, 5],
    ]);
  });

  it('keeps a separate running average per key', async () => {
    const env = StreamEnvironment.create({ parallelism: 3 });
    const input: Array<[number, number]> = [
      [1, 3],
      [2, 10],
      [1, 5],
      [2, 20],
      [3, 1],
    ];
    const { CountWindowAverage } = await import('../../../examples/count-window-average.js');
    const output = await env
      .fromCollection(input)
      .keyBy((v) => v[0])
      .flatMap(new CountWindowAverage())
      .executeAndCollect();
    expect(output.sort((a, b) => a[0] - b[0])).toEqual([
      [1, 4],
      [2, 15],
    ]);
  });
});
