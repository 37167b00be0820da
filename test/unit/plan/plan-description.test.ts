import { describe, expect, it } from 'vitest';
import { MapStateDescriptor, StreamEnvironment, type ValueState, ValueStateDescriptor } from '../../../src/index.js';
import { formatPlan } from '../../../src/cli/check.js';
import { describePlan } from '../../../src/plan/plan-description.js';

describe('describePlan', () => {
  it('lists chains, operators, uids, parallelism, partitioning and declared broadcast state', () => {
    const env = StreamEnvironment.create({ parallelism: 2 });
    const rules = env.fromElements('r').uid('rules').broadcast(new MapStateDescriptor<string, string>('rules'));
    env
      .fromElements(1, 2, 3)
      .uid('numbers')
      .keyBy((x) => x % 2)
      .connect(rules)
      .process({ processElement: () => {}, processBroadcastElement: () => {} })
      .uid('apply-rules')
      .name('Apply rules')
      .rebalance()
      .print();
    const plan = describePlan(env.buildGraph('plan'));
    expect(plan.jobName).toBe('plan');
    const names = plan.vertices.map((v) => v.operators.map((o) => o.name));
    expect(names).toContainEqual(['Apply rules']);
    const apply = plan.vertices.find((v) => v.operators[0].name === 'Apply rules')!;
    expect(apply.parallelism).toBe(2);
    expect(apply.inputs.map((e) => e.partitioning).sort()).toEqual(['broadcast', 'hash']);
    expect(apply.operators[0]).toMatchObject({ uid: 'apply-rules', uidExplicit: true, stateful: true, declaredState: ["broadcast 'rules'"] });
    const print = plan.vertices.find((v) => v.operators.some((o) => o.kind === 'PrintSink'))!;
    expect(print.inputs).toEqual([{ from: plan.vertices.indexOf(apply), partitioning: 'rebalance' }]);
    expect(plan.warnings).toEqual([]);
  });

  it('warns about a stateful operator without an explicit uid, naming it and the fix', () => {
    const env = StreamEnvironment.create();
    env
      .fromElements(1, 2)
      .uid('src')
      .keyBy((x) => x)
      .map({
        count: undefined as ValueState<number> | undefined,
        open(ctx) {
          this.count = ctx.getState(new ValueStateDescriptor<number>('n'));
        },
        map: (x) => x,
      })
      .name('Counter')
      .print();
    const plan = describePlan(env.buildGraph());
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toMatch(/'Counter' keeps state but has no uid: its derived uid 'keyedmap-\d+' .*\.uid\('...'\)/);
    expect(formatPlan(plan)).toMatch(/Counter {2}\[KeyedMap, uid 'keyedmap-\d+' \(derived\), stateful\]/);
  });
});
