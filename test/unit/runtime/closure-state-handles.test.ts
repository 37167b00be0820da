// A state handle kept in a closure variable (the natural Node style) is shared by every subtask's
// copy of the function; it must still read and write the state of the subtask that runs (the
// backends' refusal of keys outside their key groups is in the contract suite).
import { describe, expect, it } from 'vitest';
import { type KeyedProcessContext, type RuntimeContext, StreamEnvironment, type ValueState, ValueStateDescriptor } from '../../../src/index.js';

const users = Array.from({ length: 10 }, (_, i) => `user-${i}`);
const clicks = Array.from({ length: 2000 }, (_, i) => ({ user: users[(i * 7) % users.length], i }));
const expected = Object.fromEntries(users.map((u) => [u, clicks.filter((c) => c.user === u).length]));

/** The job a new user writes: `let count` in the job function, assigned in open(), used in map(). */
async function countWithClosureHandle(parallelism: number, stateBackend: 'heap' | 'disk'): Promise<Record<string, number>> {
  const env = StreamEnvironment.create({ parallelism, stateBackend, batchSize: 16 });
  let count: ValueState<number>;
  const out = await env
    .fromCollection(clicks)
    .keyBy((c) => c.user)
    .map({
      open(ctx: RuntimeContext) {
        count = ctx.getState(new ValueStateDescriptor<number>('count'));
      },
      map(c: { user: string }) {
        const n = (count.value() ?? 0) + 1;
        count.update(n);
        return [c.user, n] as [string, number];
      },
    })
    .executeAndCollect();
  const last: Record<string, number> = {};
  for (const [user, n] of out) last[user] = Math.max(last[user] ?? 0, n);
  return last;
}

describe('state handles kept in a closure', () => {
  it.each([
    [2, 'heap'],
    [4, 'heap'],
    [2, 'disk'],
    [4, 'disk'],
  ] as const)('count every user right at parallelism %i on the %s backend', async (parallelism, backend) => {
    expect(await countWithClosureHandle(parallelism, backend)).toEqual(expected);
  });

  it('fire timers against the state of the subtask that owns the timer', async () => {
    const env = StreamEnvironment.create({ parallelism: 3, batchSize: 8 });
    let seen: ValueState<number>;
    const out = await env
      .fromCollection(clicks.slice(0, 300))
      .keyBy((c) => c.user)
      .process({
        open(ctx: RuntimeContext) {
          seen = ctx.getState(new ValueStateDescriptor<number>('seen'));
        },
        processElement(_c: { user: string }, ctx: KeyedProcessContext<string>) {
          seen.update((seen.value() ?? 0) + 1);
          ctx.timerService().registerEventTimeTimer(1);
        },
        onTimer(_t: number, ctx: KeyedProcessContext<string>, collect: { collect(v: [string, number]): void }) {
          collect.collect([ctx.getCurrentKey(), seen.value() ?? -1]);
        },
      } as never)
      .executeAndCollect();
    const perUser = Object.fromEntries(users.map((u) => [u, clicks.slice(0, 300).filter((c) => c.user === u).length]));
    expect(Object.fromEntries(out as Array<[string, number]>)).toEqual(perUser);
  });
});
