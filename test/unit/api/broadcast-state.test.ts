import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BroadcastProcessOperator } from '../../../src/runtime/operators/broadcast-process-operator.js';
import { KeyedOperatorTestHarness } from '../../../src/testing/keyed-operator-test-harness.js';
import {
  type BroadcastProcessFunction,
  type Collector,
  type KeyedBroadcastContext,
  type KeyedBroadcastProcessFunction,
  type KeyedReadOnlyBroadcastContext,
  type ListState,
  ListStateDescriptor,
  MapStateDescriptor,
  type RuntimeContext,
  StreamEnvironment,
  TransactionalJsonLinesSink,
  readCommittedJsonLines,
} from '../../../src/index.js';

type Rule = { type: string; threshold: number };
type Event = { user: string; type: string; value: number };

const rulesDescriptor = () => new MapStateDescriptor<string, number>('rules');
const pendingDescriptor = () => new ListStateDescriptor<Event>('pending');

/** Emits events above their type's threshold; events that arrive before their rule wait in keyed state. */
class ThresholdAlerts implements KeyedBroadcastProcessFunction<string, Event, Rule, string> {
  private pending!: ListState<Event>;
  open(ctx: RuntimeContext) {
    this.pending = ctx.getListState(pendingDescriptor());
  }
  processElement(e: Event, ctx: KeyedReadOnlyBroadcastContext<string>, out: Collector<string>) {
    const threshold = ctx.getBroadcastState(rulesDescriptor()).get(e.type);
    if (threshold === undefined) this.pending.add(e);
    else if (e.value > threshold) out.collect(`${ctx.getCurrentKey()}:${e.type}:${e.value}`);
  }
  processBroadcastElement(rule: Rule, ctx: KeyedBroadcastContext, out: Collector<string>) {
    ctx.getBroadcastState(rulesDescriptor()).put(rule.type, rule.threshold);
    ctx.applyToKeyedState<ListState<Event>>(pendingDescriptor(), (key, state) => {
      const keep: Event[] = [];
      for (const e of state.get()) {
        if (e.type !== rule.type) keep.push(e);
        else if (e.value > rule.threshold) out.collect(`${key}:${e.type}:${e.value}`);
      }
      state.update(keep);
    });
  }
}

const events: Event[] = Array.from({ length: 300 }, (_, i) => ({ user: `u${i % 7}`, type: i % 2 === 0 ? 'a' : 'b', value: i % 23 }));
const rules: Rule[] = [
  { type: 'a', threshold: 5 },
  { type: 'b', threshold: 10 },
];
const expectedAlerts = events.filter((e) => e.value > (e.type === 'a' ? 5 : 10)).map((e) => `${e.user}:${e.type}:${e.value}`).sort();

describe('broadcast state', () => {
  it.each([1, 3])('applies broadcast rules to a keyed stream at parallelism %i, whatever the arrival order', async (parallelism) => {
    const env = StreamEnvironment.create({ parallelism, batchSize: 16 });
    const ruleStream = env.fromCollection(rules).broadcast(rulesDescriptor());
    const out = await env
      .fromCollection(events)
      .keyBy((e) => e.user)
      .connect(ruleStream)
      .process(new ThresholdAlerts())
      .uid('alerts')
      .executeAndCollect();
    expect(out.sort()).toEqual(expectedAlerts);
  });

  it('applies a broadcast rule to the keyed state of bigint keys, visiting each key once', async () => {
    type Big = { user: bigint; type: string; value: number };
    const visited: bigint[] = [];
    class BigintAlerts implements KeyedBroadcastProcessFunction<bigint, Big, Rule, string> {
      private pending!: ListState<Big>;
      open(ctx: RuntimeContext) {
        this.pending = ctx.getListState(new ListStateDescriptor<Big>('pending'));
      }
      processElement(e: Big, ctx: KeyedReadOnlyBroadcastContext<bigint>, out: Collector<string>) {
        if (ctx.getBroadcastState(rulesDescriptor()).get(e.type) === undefined) this.pending.add(e);
        else out.collect(`${e.user}:${e.value}`);
      }
      processBroadcastElement(rule: Rule, ctx: KeyedBroadcastContext, out: Collector<string>) {
        ctx.getBroadcastState(rulesDescriptor()).put(rule.type, rule.threshold);
        ctx.applyToKeyedState<ListState<Big>>(new ListStateDescriptor<Big>('pending'), (key, state) => {
          visited.push(key as bigint);
          for (const e of state.get()) if (e.value > rule.threshold) out.collect(`${e.user}:${e.value}`);
          state.clear();
        });
      }
    }
    const operator = new BroadcastProcessOperator(new BigintAlerts() as never, [rulesDescriptor()]);
    const harness = await KeyedOperatorTestHarness.forOperator<Big, string>(operator, (e) => e.user);
    await operator.initializeState(undefined); // the harness opens; broadcast state is set up here
    const huge = 2n ** 80n;
    for (const [user, value] of [[1n, 3], [huge, 9], [1n, 7], [-5n, 1]] as const) harness.processElement({ user, type: 'a', value });
    operator.processElement2({ type: 'a', threshold: 2 }, Number.NaN);
    expect(visited.sort()).toEqual([-5n, 1n, huge].sort());
    expect(harness.extractOutputValues().sort()).toEqual(['1:3', '1:7', `${huge}:9`].sort());
  });

  it('delivers every broadcast record to every subtask of a non-keyed stream', async () => {
    const seen: string[] = [];
    class Recorder implements BroadcastProcessFunction<number, Rule, never> {
      subtask = -1;
      open(ctx: RuntimeContext) {
        this.subtask = ctx.getIndexOfThisSubtask();
      }
      processElement() {}
      processBroadcastElement(rule: Rule, ctx: KeyedBroadcastContext) {
        ctx.getBroadcastState(rulesDescriptor()).put(rule.type, rule.threshold);
        seen.push(`${this.subtask}:${rule.type}`);
      }
    }
    const env = StreamEnvironment.create({ parallelism: 3 });
    env.fromGenerator((i) => i, { count: 10 }).connect(env.fromCollection(rules).broadcast(rulesDescriptor())).process(new Recorder()).addSink(() => {});
    await env.execute();
    expect(seen.sort()).toEqual(['0:a', '0:b', '1:a', '1:b', '2:a', '2:b']);
  });

  it('rejects access to a broadcast state that was not declared', async () => {
    const env = StreamEnvironment.create();
    const error = await env
      .fromElements(1)
      .connect(env.fromElements(rules[0]).broadcast(rulesDescriptor()))
      .process({
        processElement: () => {},
        processBroadcastElement: (_r: Rule, ctx: KeyedBroadcastContext) => {
          ctx.getBroadcastState(new MapStateDescriptor<string, number>('other'));
        },
      })
      .uid('undeclared')
      .executeAndCollect()
      .catch((e) => e);
    expect(error.message).toMatch(/broadcast state 'other' was not declared/);
    expect(error.message).toMatch(/undeclared/);
  });

  it('restores broadcast state from a checkpoint after a failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-broadcast-'));
    let failed = false;
    const env = StreamEnvironment.create({
      parallelism: 2,
      checkpointing: { directory: join(dir, 'chk'), intervalMs: 20 },
      restartStrategy: { type: 'fixed-delay', attempts: 3, delayMs: 1 },
      log: () => {},
    });
    const many = Array.from({ length: 4000 }, (_, i) => ({ user: `u${i % 7}`, type: i % 2 === 0 ? 'a' : 'b', value: i % 23, i }));
    env
      .fromGenerator((i) => many[i], { count: many.length, eventsPerSecond: 8000 })
      .uid('events')
      .map((e) => {
        if (e.i === 3000 && !failed) {
          failed = true;
          throw new Error('injected');
        }
        return e;
      })
      .uid('flaky')
      .keyBy((e) => e.user)
      .connect(env.fromCollection(rules).uid('rules').broadcast(rulesDescriptor()))
      .process(new ThresholdAlerts())
      .uid('alerts')
      .addSink(new TransactionalJsonLinesSink<string>(join(dir, 'out')))
      .uid('sink');
    const result = await env.execute('broadcast-restore');
    expect(result.restarts).toBe(1);
    const out = (await readCommittedJsonLines<string>(join(dir, 'out'))).sort();
    const expected = many.filter((e) => e.value > (e.type === 'a' ? 5 : 10)).map((e) => `${e.user}:${e.type}:${e.value}`).sort();
    expect(out).toEqual(expected);
  });
});
