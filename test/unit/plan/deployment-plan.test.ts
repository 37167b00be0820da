// Placement of subtasks on workers and the graph fingerprint (groundwork for worker threads):
// subtask i goes to worker i mod W, forward edges between equal parallelisms never cross workers,
// and two builds of the same job agree on the fingerprint while any change of uid, parallelism or
// partitioning changes it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../../src/index.js';
import { crossesWorkers, defaultWorkers, graphFingerprint, placeSubtasks, workerOf } from '../../../src/plan/deployment-plan.js';

function graph(options: { parallelism?: number; sinkParallelism?: number; uid?: string; rebalance?: boolean } = {}) {
  const env = StreamEnvironment.create({ parallelism: options.parallelism ?? 2 });
  let stream = env
    .fromElements(1, 2, 3)
    .uid('numbers')
    .keyBy((x) => x % 2)
    .map((x) => x + 1)
    .uid(options.uid ?? 'plus-one');
  if (options.rebalance === true) stream = stream.rebalance();
  const sink = stream.map((x) => x * 2).uid('double');
  sink.print().setParallelism(options.sinkParallelism ?? options.parallelism ?? 2);
  return env.buildGraph('deploy');
}

describe('deployment plan', () => {
  it('places subtask i of every vertex on worker i mod W, each subtask once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }), (parallelism, workers) => {
        const g = graph({ parallelism });
        const placed = placeSubtasks(g, workers);
        expect(placed).toHaveLength(g.vertices.reduce((n, v) => n + v.parallelism, 0));
        for (const p of placed) expect(p.worker).toBe(p.subtask % workers);
        expect(new Set(placed.map((p) => `${p.vertex}/${p.subtask}`)).size).toBe(placed.length);
      }),
    );
    expect(workerOf(5, 2)).toBe(1);
    expect(() => placeSubtasks(graph(), 0)).toThrow(RangeError);
  });

  it('keeps forward edges between equal parallelisms inside a worker; keyBy and rebalance cross', () => {
    const g = graph({ parallelism: 2, rebalance: true, sinkParallelism: 1 });
    const edges = g.vertices.flatMap((v) => v.inputs);
    for (const e of edges) {
      const local = e.partitioner.type === 'forward' && e.source.parallelism === e.target.parallelism;
      expect(crossesWorkers(e, 2)).toBe(!local);
      expect(crossesWorkers(e, 1)).toBe(false);
    }
    expect(edges.some((e) => e.partitioner.type === 'hash' && crossesWorkers(e, 2))).toBe(true);
  });

  it('uses one worker per core by default, never more than the largest parallelism', () => {
    expect(defaultWorkers(graph({ parallelism: 4 }), 2)).toBe(2);
    expect(defaultWorkers(graph({ parallelism: 1, sinkParallelism: 1 }), 8)).toBe(1);
    expect(defaultWorkers(graph({ parallelism: 3 }), 8)).toBe(3);
  });

  it('gives two builds of the same job the same fingerprint, and another one to a changed job', () => {
    const same = graphFingerprint(graph());
    expect(graphFingerprint(graph())).toBe(same);
    expect(graphFingerprint(graph({ uid: 'plus-two' }))).not.toBe(same);
    expect(graphFingerprint(graph({ parallelism: 3 }))).not.toBe(same);
    expect(graphFingerprint(graph({ rebalance: true }))).not.toBe(same);
    expect(graphFingerprint(graph({ sinkParallelism: 1 }))).not.toBe(same);
  });
});
