import { describe, expect, it } from 'vitest';
import {
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  StateTtlConfig,
  type ValueState,
  ValueStateDescriptor,
} from '../../src/index.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';

type Event = { user: string; at?: number };

/** Counts per user; emits the count on an event-time timer 10 ms after the first event and on a processing-time timeout. */
class CountWithTimeout implements KeyedProcessFunction<string, Event, string> {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(_e: Event, ctx: KeyedProcessContext<string>) {
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    if (n === 1) {
      ctx.timerService().registerEventTimeTimer((ctx.timestamp() ?? 0) + 10);
      ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + 1000);
    }
  }
  onTimer(ts: number, ctx: OnTimerContext<string>, out: Collector<string>) {
    out.collect(`${ctx.getCurrentKey()} ${ctx.timeDomain()} ${ts} n=${this.count.value()}`);
  }
}

const byUser = (e: Event) => e.user;

describe('KeyedOperatorTestHarness', () => {
  it('fires event-time timers when a watermark passes them, with the key set, in timestamp order', async () => {
    const h = await KeyedOperatorTestHarness.forProcessFunction(new CountWithTimeout(), byUser);
    h.processElement({ user: 'b' }, 5);
    h.processElement({ user: 'a' }, 1);
    h.processElement({ user: 'a' }, 2);
    expect(h.numEventTimeTimers()).toBe(2);
    h.processWatermark(10);
    expect(h.extractOutputValues()).toEqual([]);
    h.processWatermark(15);
    expect(h.getOutput()).toEqual([
      { kind: 'watermark', timestamp: 10 },
      { kind: 'record', value: 'a EVENT_TIME 11 n=2', timestamp: 11 },
      { kind: 'record', value: 'b EVENT_TIME 15 n=1', timestamp: 15 },
      { kind: 'watermark', timestamp: 15 },
    ]);
    expect(h.numEventTimeTimers()).toBe(0);
    await h.close();
  });

  it('fires processing-time timers only when processing time is advanced', async () => {
    const h = await KeyedOperatorTestHarness.forProcessFunction(new CountWithTimeout(), byUser, { processingTime: 100 });
    h.processElement({ user: 'a' }, 0);
    await h.setProcessingTime(1099);
    expect(h.extractOutputValues()).toEqual([]);
    await h.setProcessingTime(1100);
    expect(h.extractOutputValues()).toEqual(['a PROCESSING_TIME 1100 n=1']);
    expect(h.getOutput()[0]).toMatchObject({ timestamp: undefined });
    await h.close();
  });

  it('deduplicates timers per key and timestamp and deletes them', async () => {
    const fn: KeyedProcessFunction<string, Event, string> = {
      processElement(e, ctx) {
        ctx.timerService().registerEventTimeTimer(100);
        if (e.at === -1) ctx.timerService().deleteEventTimeTimer(100);
      },
      onTimer(ts, ctx, out) {
        out.collect(`${ctx.getCurrentKey()}@${ts}`);
      },
    };
    const h = await KeyedOperatorTestHarness.forProcessFunction(fn, byUser);
    h.processElement({ user: 'a' });
    h.processElement({ user: 'a' });
    h.processElement({ user: 'b' });
    h.processElement({ user: 'c' });
    h.processElement({ user: 'c', at: -1 });
    expect(h.numEventTimeTimers()).toBe(2);
    h.processWatermark(100);
    expect(h.extractOutputValues()).toEqual(['a@100', 'b@100']);
  });

  it('expires state by the TTL clock, which moves separately from processing time', async () => {
    const ttl = StateTtlConfig.newBuilder(100).build();
    const fn = {
      state: undefined as unknown as ValueState<string>,
      open(ctx: RuntimeContext) {
        this.state = ctx.getState(new ValueStateDescriptor<string>('last', { ttl }));
      },
      processElement(e: Event, _ctx: KeyedProcessContext<string>, out: Collector<string>) {
        out.collect(`${e.user} had ${this.state.value() ?? 'nothing'}`);
        this.state.update(`seen-${e.at}`);
      },
    };
    const h = await KeyedOperatorTestHarness.forProcessFunction(fn, byUser);
    h.processElement({ user: 'a', at: 1 });
    h.setStateTtlTime(99);
    h.processElement({ user: 'a', at: 2 });
    h.setStateTtlTime(199);
    h.processElement({ user: 'a', at: 3 });
    await h.setProcessingTime(10_000);
    h.processElement({ user: 'a', at: 4 });
    expect(h.extractOutputValues()).toEqual(['a had nothing', 'a had seen-1', 'a had nothing', 'a had seen-3']);
    expect(h.backend.entries('last')).toEqual([{ key: 'a', namespace: '', value: 'seen-4', lastAccessTime: 199 }]);
  });

  it('lets tests inspect state through the backend interface', async () => {
    const h = await KeyedOperatorTestHarness.forProcessFunction(new CountWithTimeout(), byUser);
    for (const user of ['a', 'b', 'a', 'c', 'a']) h.processElement({ user }, 0);
    const counts = Object.fromEntries(h.backend.entries('count').map((e) => [e.key, e.value]));
    expect(counts).toEqual({ a: 3, b: 1, c: 1 });
    expect(h.backend.numKeys('count')).toBe(3);
    expect(h.backend.stateInfos().map((s) => [s.name, s.kind])).toEqual([['count', 'value']]);
  });

  it('refuses a key that the simulated subtask does not own', async () => {
    const h = await KeyedOperatorTestHarness.forProcessFunction(new CountWithTimeout(), byUser, { parallelism: 2, subtaskIndex: 0, maxParallelism: 8 });
    const { assignToKeyGroup } = await import('../../src/index.js');
    const foreign = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'].find((u) => assignToKeyGroup(u, 8) >= 4)!;
    expect(() => h.processElement({ user: foreign })).toThrow(/does not own/);
  });
});
