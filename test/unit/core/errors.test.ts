import { describe, expect, it } from 'vitest';
import { describeValue } from '../../../src/core/errors.js';
import { ListStateDescriptor, StreamEnvironment, ValueStateDescriptor } from '../../../src/index.js';

describe('describeValue', () => {
  it('shows NaN, Infinity and bigints as themselves, also inside records', () => {
    expect(describeValue(NaN)).toBe('NaN');
    expect(describeValue(-Infinity)).toBe('-Infinity');
    expect(describeValue({ id: NaN, n: 5n, xs: [Infinity, 'a'] })).toBe('{"id":NaN,"n":5n,"xs":[Infinity,"a"]}');
  });

  it('cuts long values and says how long they were', () => {
    expect(describeValue('x'.repeat(300), 10)).toBe(`"xxxxxxxxx… (302 chars)`);
  });
});

describe('INVALID_KEY messages', () => {
  it.each([1, 2])('say NaN and name the record whose key selector returned it at parallelism %i', async (parallelism) => {
    const env = StreamEnvironment.create({ parallelism, log: () => {} });
    const run = env
      .fromElements({ user: { id: 1 } }, { user: { id: NaN } })
      .keyBy((e) => e.user.id)
      .map((e) => e)
      .executeAndCollect();
    await expect(run).rejects.toMatchObject({ code: 'INVALID_KEY' });
    await expect(run).rejects.toThrow(/Invalid key: NaN\./);
    await expect(run).rejects.toThrow(/record \{"user":\{"id":NaN\}\}/);
    await expect(run).rejects.not.toThrow(/unusable key null/);
  });
});

describe('errors name the operator as the user named it', () => {
  it('a failing user function is reported with its name and uid', async () => {
    const env = StreamEnvironment.create({ log: () => {} });
    const run = env
      .fromElements(1, 2)
      .map((x) => {
        if (x === 2) throw new Error('bad input');
        return x;
      })
      .name('Enrich')
      .executeAndCollect();
    await expect(run).rejects.toThrow(/map\(\) failed in job '.*', operator 'Enrich' \(uid map-\d+\), subtask 0\/1 on record 2: bad input/);
  });

  it('a keyed state error names the operator and its uid', async () => {
    const env = StreamEnvironment.create({ log: () => {} });
    const run = env
      .fromElements(1)
      .keyBy((x) => x)
      .map({
        open(ctx) {
          ctx.getState(new ValueStateDescriptor<number>('s'));
          ctx.getListState(new ListStateDescriptor<number>('s'));
        },
        map: (x: number) => x,
      })
      .name('Counter')
      .uid('counter')
      .executeAndCollect();
    await expect(run).rejects.toThrow(/operator 'Counter' \(uid counter\)/);
  });
});
