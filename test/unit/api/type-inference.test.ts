// Type inference of the DataStream API for functions written inline, as a new user writes them.
// The assertions are checked by `npm run typecheck` (tsc over test/); the runtime tests below
// run the same shapes so that what type-checks also works.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type Collector,
  type DataStream,
  type KeyedBroadcastContext,
  type ListState,
  ListStateDescriptor,
  MapStateDescriptor,
  type MapState,
  StreamEnvironment,
  type TimerService,
  type ValueState,
  ValueStateDescriptor,
} from '../../../src/index.js';

type Click = { user: string; page: string; ms: number };
type Rule = { page: string; limit: number };

function clicks(env: StreamEnvironment): DataStream<Click> {
  return env.fromElements<Click>(
    { user: 'ann', page: '/a', ms: 5 },
    { user: 'bob', page: '/b', ms: 7 },
    { user: 'ann', page: '/c', ms: 11 },
  );
}

describe('type inference of inline functions', () => {
  it('infers the record, key, context and collector of an inline keyed process function', () => {
    const env = StreamEnvironment.create();
    const out = clicks(env)
      .keyBy((c) => c.user)
      .process({
        processElement(click, ctx, out: Collector<string>) {
          expectTypeOf(click).toEqualTypeOf<Click>();
          expectTypeOf(ctx.getCurrentKey()).toEqualTypeOf<string>();
          expectTypeOf(ctx.timerService()).toEqualTypeOf<TimerService>();
          out.collect(`${ctx.getCurrentKey()}:${click.page}`);
        },
        onTimer(timestamp, ctx) {
          expectTypeOf(timestamp).toEqualTypeOf<number>();
          expectTypeOf(ctx.getCurrentKey()).toEqualTypeOf<string>();
        },
      });
    expectTypeOf(out).toEqualTypeOf<DataStream<string>>();
    expectTypeOf(clicks(env).keyBy((c) => c.ms).process<number>({ processElement: (c, ctx, o) => o.collect(c.ms + ctx.getCurrentKey()) })).toEqualTypeOf<DataStream<number>>();
  });

  it('infers map, filter and flatMap from inline functions and function objects', () => {
    const env = StreamEnvironment.create();
    expectTypeOf(clicks(env).map((c) => c.ms)).toEqualTypeOf<DataStream<number>>();
    expectTypeOf(clicks(env).map({ map: (c) => c.page })).toEqualTypeOf<DataStream<string>>();
    expectTypeOf(clicks(env).filter({ filter: (c) => c.ms > 5 })).toEqualTypeOf<DataStream<Click>>();
    expectTypeOf(clicks(env).flatMap((c, out: Collector<string>) => out.collect(c.page))).toEqualTypeOf<DataStream<string>>();
    expectTypeOf(
      clicks(env).flatMap({
        flatMap(c, out: Collector<number>) {
          out.collect(c.ms);
        },
      }),
    ).toEqualTypeOf<DataStream<number>>();
    expectTypeOf(clicks(env).keyBy((c) => c.user).map((c) => c.ms > 1)).toEqualTypeOf<DataStream<boolean>>();
  });

  it('accepts a rich function literal with fields of its own and types `this` in its methods', () => {
    const env = StreamEnvironment.create();
    const counted = clicks(env)
      .keyBy((c) => c.user)
      .map({
        count: undefined as ValueState<number> | undefined,
        open(ctx) {
          this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
        },
        map(click): string {
          expectTypeOf(this.count).toEqualTypeOf<ValueState<number> | undefined>();
          const next = (this.count!.value() ?? 0) + 1;
          this.count!.update(next);
          return `${click.user}#${next}`;
        },
      });
    expectTypeOf(counted).toEqualTypeOf<DataStream<string>>();
    clicks(env).filter({
      seen: new Set<string>(),
      filter(c): boolean {
        expectTypeOf(this.seen).toEqualTypeOf<Set<string>>();
        return !this.seen.has(c.page);
      },
    });
  });

  it('rejects a field aggregation over a field that is not numeric', () => {
    const env = StreamEnvironment.create();
    const keyed = clicks(env).keyBy((c) => c.user);
    expectTypeOf(keyed.sum('ms')).toEqualTypeOf<DataStream<Click>>();
    // @ts-expect-error 'page' is a string field
    keyed.sum('page');
    // @ts-expect-error 'user' is a string field
    keyed.max('user');
    const tuples = env.fromElements<[string, number]>(['a', 1]).keyBy((t) => t[0]);
    expectTypeOf(tuples.min(1)).toEqualTypeOf<DataStream<[string, number]>>();
    // @ts-expect-error index 0 is a string
    tuples.min(0);
  });

  it('types the key and the visited state of a keyed broadcast function', () => {
    const env = StreamEnvironment.create();
    const rules = new MapStateDescriptor<string, number>('rules');
    const lastPage = new ValueStateDescriptor<string>('last-page');
    const pages = new ListStateDescriptor<string>('pages');
    const out = clicks(env)
      .keyBy((c) => c.user)
      .connect(env.fromElements<Rule>({ page: '/a', limit: 1 }).broadcast(rules))
      .process({
        processElement(click, ctx, out: Collector<string>) {
          expectTypeOf(click).toEqualTypeOf<Click>();
          expectTypeOf(ctx.getCurrentKey()).toEqualTypeOf<string>();
          out.collect(click.page);
        },
        processBroadcastElement(rule, ctx) {
          expectTypeOf(rule).toEqualTypeOf<Rule>();
          expectTypeOf(ctx).toMatchTypeOf<KeyedBroadcastContext<string>>();
          expectTypeOf(ctx.getBroadcastState(rules)).toEqualTypeOf<MapState<string, number>>();
          ctx.applyToKeyedState(lastPage, (user, state) => {
            expectTypeOf(user).toEqualTypeOf<string>();
            expectTypeOf(state).toEqualTypeOf<ValueState<string>>();
          });
          ctx.applyToKeyedState(pages, (_user, state) => expectTypeOf(state).toEqualTypeOf<ListState<string>>());
        },
      });
    expectTypeOf(out).toEqualTypeOf<DataStream<string>>();
  });
});

describe('inline functions at run time', () => {
  it('a rich function literal keeps its field per subtask and counts per key at parallelism 2', async () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    const users = Array.from({ length: 40 }, (_, i) => ({ user: `u${i % 10}`, page: '/p', ms: i }));
    const out = await env
      .fromCollection(users)
      .keyBy((c) => c.user)
      .map({
        count: undefined as ValueState<number> | undefined,
        open(ctx) {
          this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
        },
        map(click): [string, number] {
          const next = (this.count!.value() ?? 0) + 1;
          this.count!.update(next);
          return [click.user, next];
        },
      })
      .executeAndCollect();
    const last = new Map<string, number>();
    for (const [user, n] of out) last.set(user, Math.max(last.get(user) ?? 0, n));
    expect(out).toHaveLength(40);
    expect([...last.values()]).toEqual(Array(10).fill(4));
  });

  it('a filter after keyBy may use keyed state, as a rich filter function in Flink', async () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    const out = await env
      .fromElements('a', 'b', 'a', 'c', 'b', 'a')
      .keyBy((x) => x)
      .filter({
        seen: undefined as ValueState<boolean> | undefined,
        open(ctx) {
          this.seen = ctx.getState(new ValueStateDescriptor<boolean>('seen'));
        },
        filter(): boolean {
          if (this.seen!.value() === true) return false;
          this.seen!.update(true);
          return true;
        },
      })
      .executeAndCollect();
    expect(out.sort()).toEqual(['a', 'b', 'c']);
  });
});
