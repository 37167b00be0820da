import { describe, expect, it } from 'vitest';
import {
  type Collector,
  FloeError,
  type KeyedProcessContext,
  type OnTimerContext,
  type RuntimeContext,
  StreamEnvironment,
  type MapState,
  MapStateDescriptor,
  ValueStateDescriptor,
  WatermarkStrategy,
} from '../../../src/index.js';

const sorted = <T>(xs: T[]): T[] => [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe('stateless transformations', () => {
  it('chains map, filter and flatMap and keeps order at parallelism 1', async () => {
    const env = StreamEnvironment.create();
    const out = await env
      .fromElements(1, 2, 3, 4, 5)
      .map((x) => x * 10)
      .filter((x) => x !== 30)
      .flatMap((x: number, c: Collector<number>) => {
        c.collect(x);
        c.collect(x + 1);
      })
      .executeAndCollect();
    expect(out).toEqual([10, 11, 20, 21, 40, 41, 50, 51]);
  });

  it('accepts function objects with open/close and gives each subtask its own copy', async () => {
    const opened: number[] = [];
    class Tagger {
      seen: number[] = [];
      index = -1;
      open(ctx: RuntimeContext) {
        this.index = ctx.getIndexOfThisSubtask();
        opened.push(this.index);
      }
      map(x: number) {
        this.seen.push(x);
        return { x, subtask: this.index, seenHere: this.seen.length };
      }
    }
    const env = StreamEnvironment.create({ parallelism: 3 });
    const out = await env.fromGenerator((i) => i, { count: 30 }).map(new Tagger()).executeAndCollect();
    expect(sorted(opened)).toEqual([0, 1, 2]);
    expect(out).toHaveLength(30);
    for (const r of out) expect(r.x % 3).toBe(r.subtask); // the generator gives subtask i the indices i, i+3, ...
    expect(Math.max(...out.map((r) => r.seenHere))).toBe(10);
  });

  it('unions streams and rebalances across parallelism changes', async () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    const a = env.fromElements(1, 2, 3);
    const b = env.fromGenerator((i) => 100 + i, { count: 4 });
    const out = await a.union(b).rebalance().map((x) => x * 2).setParallelism(3).executeAndCollect();
    expect(sorted(out)).toEqual(sorted([2, 4, 6, 200, 202, 204, 206]));
  });

  it('rejects a forward edge between different parallelisms', () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    env.fromGenerator((i) => i, { count: 3 }).forward().map((x) => x).setParallelism(3).print();
    expect(() => env.buildGraph()).toThrow(/forward needs equal parallelism/);
  });

  it('chains forward operators of equal parallelism into one vertex', () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    env
      .fromGenerator((i) => i, { count: 3 })
      .map((x) => x)
      .filter(() => true)
      .keyBy((x) => x % 2)
      .reduce((a, b) => a + b)
      .print();
    const graph = env.buildGraph('g');
    expect(graph.vertices.map((v) => v.nodes.length)).toEqual([3, 2]);
    expect(graph.vertices[1].inputs[0].partitioner.type).toBe('hash');
  });

  it('needs a sink to execute', async () => {
    const env = StreamEnvironment.create();
    env.fromElements(1).map((x) => x);
    await expect(env.execute()).rejects.toThrow(/has no sink/);
  });
});

describe('keyed aggregations', () => {
  const input = [
    { user: 'a', n: 1, tag: 'first-a' },
    { user: 'b', n: 10, tag: 'first-b' },
    { user: 'a', n: 5, tag: 'second-a' },
    { user: 'a', n: 3, tag: 'third-a' },
    { user: 'b', n: 2, tag: 'second-b' },
  ];

  it.each([1, 4])('emits rolling sum, min and max per key at parallelism %i', async (parallelism) => {
    const env = StreamEnvironment.create({ parallelism });
    const byUser = (xs: typeof input) => xs.filter((x) => x.user === 'a');
    const sums = await env.fromCollection(input).keyBy((x) => x.user).sum('n').executeAndCollect();
    expect(byUser(sums).map((x) => x.n)).toEqual([1, 6, 9]);
    expect(byUser(sums).every((x) => x.tag === 'first-a')).toBe(true);
    const env2 = StreamEnvironment.create({ parallelism });
    const mins = await env2.fromCollection(input).keyBy((x) => x.user).min('n').executeAndCollect();
    expect(mins.filter((x) => x.user === 'b').map((x) => x.n)).toEqual([10, 2]);
    const env3 = StreamEnvironment.create({ parallelism });
    const maxs = await env3.fromCollection(input).keyBy((x) => x.user).max('n').executeAndCollect();
    expect(byUser(maxs).map((x) => x.n)).toEqual([1, 5, 5]);
  });

  it('sums tuple fields by index and reduces with a function', async () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    const out = await env
      .fromElements<[string, number]>(['x', 1], ['y', 2], ['x', 3])
      .keyBy((t) => t[0])
      .sum(1)
      .executeAndCollect();
    expect(out.filter((t) => t[0] === 'x')).toEqual([
      ['x', 1],
      ['x', 4],
    ]);
    const env2 = StreamEnvironment.create({ parallelism: 2 });
    const reduced = await env2
      .fromElements('a', 'bb', 'a', 'ccc')
      .keyBy((s) => s.length)
      .reduce((acc, s) => acc + s)
      .executeAndCollect();
    expect(sorted(reduced)).toEqual(sorted(['a', 'bb', 'aa', 'ccc']));
  });
});

describe('event time, watermarks and timers in a running job', () => {
  /** Counts per key and 100 ms window (window end as the map key); emits when the watermark passes the end. */
  class CountPerWindow {
    private counts!: MapState<number, number>;
    open(ctx: RuntimeContext) {
      this.counts = ctx.getMapState(new MapStateDescriptor<number, number>('counts'));
    }
    processElement(e: { k: string; t: number }, ctx: KeyedProcessContext<string>) {
      const end = Math.floor(e.t / 100) * 100 + 99;
      this.counts.put(end, (this.counts.get(end) ?? 0) + 1);
      ctx.timerService().registerEventTimeTimer(end);
    }
    onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>) {
      out.collect(`${ctx.getCurrentKey()}@${ts}:${this.counts.get(ts)}:${ctx.timeDomain()}`);
      this.counts.remove(ts);
    }
  }

  it.each([1, 3])('fires event-time timers per key and window when the watermark passes (parallelism %i)', async (p) => {
    const env = StreamEnvironment.create({ parallelism: p, batchSize: 2 });
    const events = [
      { k: 'a', t: 10 },
      { k: 'b', t: 20 },
      { k: 'a', t: 50 },
      { k: 'a', t: 150 },
      { k: 'b', t: 160 },
      { k: 'a', t: 120 },
      { k: 'c', t: 400 },
    ];
    const out = await env
      .fromCollection(events)
      .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<{ k: string; t: number }>(50).withTimestampAssigner((e) => e.t))
      .keyBy((e) => e.k)
      .process(new CountPerWindow())
      .executeAndCollect();
    expect(sorted(out)).toEqual(sorted(['a@99:2:EVENT_TIME', 'b@99:1:EVENT_TIME', 'a@199:2:EVENT_TIME', 'b@199:1:EVENT_TIME', 'c@499:1:EVENT_TIME']));
  });

  it('processes every key on the subtask that owns its key group', async () => {
    const { assignToKeyGroup, computeOperatorIndexForKeyGroup } = await import('../../../src/index.js');
    const env = StreamEnvironment.create({ parallelism: 4, maxParallelism: 64 });
    const keys = Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? `key-${i}` : i % 3 === 1 ? i : [i, 'x']));
    class WhereAmI {
      subtask = -1;
      open(ctx: RuntimeContext) {
        this.subtask = ctx.getIndexOfThisSubtask();
      }
      map(k: unknown) {
        return { k, subtask: this.subtask };
      }
    }
    const out = await env
      .fromCollection<unknown>(keys)
      .keyBy((k) => k)
      .map(new WhereAmI())
      .executeAndCollect();
    expect(out).toHaveLength(keys.length);
    for (const { k, subtask } of out) expect(subtask).toBe(computeOperatorIndexForKeyGroup(64, 4, assignToKeyGroup(k, 64)));
  });
});

describe('failures', () => {
  it('fails the job with an error naming the job, the operator name and uid, the subtask and the record', async () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    env
      .fromGenerator((i) => ({ id: i, payload: 'x'.repeat(1000) }), { count: 100 })
      .map((r) => {
        if (r.id === 41) throw new Error('boom at 41');
        return r;
      })
      .uid('explode')
      .print();
    const error = await env.execute('failing-job').catch((e) => e);
    expect(error).toBeInstanceOf(FloeError);
    expect(error.code).toBe('USER_FUNCTION_FAILED');
    expect(error.message).toContain("job 'failing-job'");
    expect(error.message).toContain("operator 'Map' (uid explode)");
    expect(error.message).toMatch(/subtask 1\/2/);
    expect(error.message).toContain('"id":41');
    expect(error.message).toContain('boom at 41');
    expect(error.message.length).toBeLessThan(600); // the 1000-char payload is truncated
  });

  it('rejects an unusable key with an error naming the keyed operator', async () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    env
      .fromElements({ k: 'a' }, { k: undefined })
      .keyBy((r) => r.k)
      .reduce((a) => a)
      .uid('reduce-by-k')
      .print();
    const error = await env.execute().catch((e) => e);
    expect(error.code).toBe('INVALID_KEY');
    expect(error.message).toContain('reduce-by-k');
  });

  it('rejects keyed state on a non-keyed stream, naming operator and state', async () => {
    const env = StreamEnvironment.create();
    env
      .fromElements(1)
      .map({
        open(ctx: RuntimeContext) {
          ctx.getState(new ValueStateDescriptor('counter'));
        },
        map: (x: number) => x,
      })
      .uid('not-keyed')
      .print();
    const error = await env.execute().catch((e) => e);
    expect(error.code).toBe('STATE_NOT_AVAILABLE');
    expect(error.message).toMatch(/not-keyed/);
    expect(error.message).toMatch(/counter/);
  });

  it('fails when one operator registers the same state name with another kind', async () => {
    const env = StreamEnvironment.create();
    const { ListStateDescriptor } = await import('../../../src/index.js');
    env
      .fromElements(1)
      .keyBy((x) => x)
      .map({
        open(ctx: RuntimeContext) {
          ctx.getState(new ValueStateDescriptor('s'));
          ctx.getListState(new ListStateDescriptor('s'));
        },
        map: (x: number) => x,
      })
      .uid('two-kinds')
      .print();
    const error = await env.execute().catch((e) => e);
    expect(error.message).toMatch(/two-kinds/);
    expect(error.message).toMatch(/'s'/);
    expect((error.cause as FloeError | undefined)?.code ?? error.code).toBe('STATE_TYPE_MISMATCH');
  });
});

describe('backpressure', () => {
  it('never lets a fast source run further ahead of a slow sink than the channels hold', async () => {
    const batchSize = 16;
    const channelCapacity = 2;
    const env = StreamEnvironment.create({ parallelism: 1, batchSize, channelCapacity });
    let emitted = 0;
    let received = 0;
    let maxAhead = 0;
    env
      .fromGenerator(
        (i) => {
          emitted++;
          return i;
        },
        { count: 20_000 },
      )
      .rebalance()
      .map((x) => x)
      .setParallelism(1)
      .addSink({
        invoke() {
          received++;
          maxAhead = Math.max(maxAhead, emitted - received);
        },
        async flush() {
          await new Promise((r) => setImmediate(r));
        },
      });
    await env.execute();
    expect(received).toBe(20_000);
    // Two hops, each at most (capacity + 1) batches queued, plus per task one batch being
    // processed and one partly filled output batch: bounded, whatever the source's length.
    expect(maxAhead).toBeLessThanOrEqual(batchSize * (2 * (channelCapacity + 1) + 4));
  });
});
