import { describe, expect, it } from 'vitest';
import { formatUserMetric } from '../../../src/cli/progress.js';
import { type Counter, type Histogram, StreamEnvironment } from '../../../src/index.js';
import { MetricRegistry } from '../../../src/runtime/metrics/user-metrics.js';

describe('MetricRegistry', () => {
  it('sums a counter over subtasks and keeps each subtask apart', () => {
    const registry = new MetricRegistry();
    registry.group('enrich', 'Enrich', 0).counter('alerts').inc(3);
    const c1 = registry.group('enrich', 'Enrich', 1).counter('alerts');
    c1.inc();
    c1.inc(5);
    c1.dec();
    expect(registry.snapshot()).toEqual([{ operatorUid: 'enrich', operatorName: 'Enrich', name: 'alerts', kind: 'counter', value: 8, subtasks: { 0: 3, 1: 5 } }]);
  });

  it('returns the same counter when asked twice and refuses a name reused for another kind', () => {
    const group = new MetricRegistry().group('op', 'Op', 0);
    expect(group.counter('n')).toBe(group.counter('n'));
    expect(() => group.histogram('n')).toThrow(/metric 'n' is already a counter, not a histogram/);
    expect(() => group.counter('')).toThrow(/non-empty name/);
  });

  it('reads gauges when metrics are read, and a gauge that throws reads NaN', () => {
    const registry = new MetricRegistry();
    let queue = 4;
    registry.group('op', 'Op', 0).gauge('queue', () => queue);
    registry.group('op', 'Op', 0).gauge('broken', () => {
      throw new Error('no');
    });
    queue = 7;
    const [q, broken] = registry.snapshot();
    expect(q).toMatchObject({ kind: 'gauge', value: 7 });
    expect(broken.value).toBeNaN();
  });

  it('gives histogram statistics over the window of both subtasks', () => {
    const registry = new MetricRegistry();
    const h0 = registry.group('op', 'Op', 0).histogram('latency', { windowSize: 100 });
    const h1 = registry.group('op', 'Op', 1).histogram('latency', { windowSize: 100 });
    for (let i = 1; i <= 50; i++) h0.update(i);
    for (let i = 51; i <= 100; i++) h1.update(i);
    const [snap] = registry.snapshot();
    expect(snap.statistics).toEqual({ count: 100, min: 1, max: 100, mean: 50.5, p50: 50, p95: 95, p99: 99 });
    expect(formatUserMetric(snap)).toBe('Op / latency (histogram): 100 values; min 1, p50 50, p95 95, p99 99, max 100, mean 50.5');
  });

  it('keeps only the last windowSize values in a histogram window but counts them all', () => {
    const h = new MetricRegistry().group('op', 'Op', 0).histogram('h', { windowSize: 3 });
    for (const v of [100, 1, 2, 3]) h.update(v);
    expect(h.getStatistics()).toMatchObject({ count: 4, min: 1, max: 3 });
  });
});

describe('user metrics in a job', () => {
  it('counts what rich functions register through ctx.metrics and reports it in JobResult', async () => {
    const env = StreamEnvironment.create({ parallelism: 2, log: () => {} });
    env
      .fromCollection(Array.from({ length: 100 }, (_, i) => i))
      .keyBy((x) => x % 10)
      .map({
        evens: undefined as Counter | undefined,
        sizes: undefined as Histogram | undefined,
        open(ctx) {
          this.evens = ctx.metrics.counter('evens');
          this.sizes = ctx.getMetricGroup().histogram('values');
          ctx.metrics.gauge('subtask', () => ctx.getIndexOfThisSubtask() + 1);
        },
        map(x): number {
          if (x % 2 === 0) this.evens!.inc();
          this.sizes!.update(x);
          return x;
        },
      })
      .name('Count evens')
      .uid('count-evens')
      .addSink(() => {});
    const result = await env.execute('metrics');
    const byName = new Map(result.metrics.userMetrics.map((m) => [m.name, m]));
    expect(byName.get('evens')).toMatchObject({ operatorUid: 'count-evens', operatorName: 'Count evens', kind: 'counter', value: 50 });
    expect(Object.keys(byName.get('evens')!.subtasks)).toEqual(['0', '1']);
    expect(byName.get('values')!.statistics).toMatchObject({ count: 100, min: 0, max: 99 });
    expect(byName.get('subtask')).toMatchObject({ kind: 'gauge', value: 3, subtasks: { 0: 1, 1: 2 } });
  });
});
