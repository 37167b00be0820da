import { describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../../src/index.js';
import { buildJobGraph } from '../../../src/plan/job-graph.js';

function sinksOf(options: { parallelism: number; maxParallelism?: number; operatorMaxParallelism?: number }) {
  const env = StreamEnvironment.create({ parallelism: options.parallelism, maxParallelism: options.maxParallelism });
  const counted = env
    .fromElements({ key: 'a' })
    .keyBy((e) => e.key)
    .map((e) => e)
    .uid('count');
  if (options.operatorMaxParallelism !== undefined) counted.setMaxParallelism(options.operatorMaxParallelism);
  counted.print();
  return { env, sinks: env.takeSinks() };
}

const headOf = (graph: ReturnType<typeof buildJobGraph>, uid: string) => graph.vertices.find((v) => v.nodes[0].uid === uid)!;

describe('max parallelism of a restored job', () => {
  it('adopts the checkpoint’s max parallelism for a keyed operator that does not set one', () => {
    const { sinks } = sinksOf({ parallelism: 86 });
    const graph = buildJobGraph(sinks, { jobName: 'j', parallelism: 86, maxParallelism: undefined, restoredMaxParallelism: new Map([['count', 128]]) });
    expect(headOf(graph, 'count').maxParallelism).toBe(128);
    expect(headOf(graph, 'count').nodes[0].maxParallelismExplicit).toBe(false);
    // Without a restore the default for parallelism 86 would be 256: the key groups would change.
    expect(headOf(buildJobGraph(sinks, { jobName: 'j', parallelism: 86, maxParallelism: undefined }), 'count').maxParallelism).toBe(256);
  });

  it.each<[string, { maxParallelism?: number; operatorMaxParallelism?: number }]>([
    ['the job', { maxParallelism: 256 }],
    ['the operator', { operatorMaxParallelism: 256 }],
  ])('refuses a max parallelism set by %s that differs from the checkpoint’s, naming the operator and both values', (_who, settings) => {
    const { sinks } = sinksOf({ parallelism: 2, ...settings });
    expect(() => buildJobGraph(sinks, { jobName: 'j', parallelism: 2, maxParallelism: settings.maxParallelism, restoredMaxParallelism: new Map([['count', 128]]) })).toThrow(
      expect.objectContaining({ code: 'MAX_PARALLELISM_MISMATCH', message: expect.stringMatching(/operator 'count' has max parallelism 256, but the checkpoint .* max parallelism 128/) }),
    );
  });

  it('refuses a parallelism above the restored max parallelism', () => {
    const { sinks } = sinksOf({ parallelism: 200 });
    expect(() => buildJobGraph(sinks, { jobName: 'j', parallelism: 200, maxParallelism: undefined, restoredMaxParallelism: new Map([['count', 128]]) })).toThrow(
      /operator 'count' cannot run at parallelism 200: its restored keyed state has 128 key groups/,
    );
  });

  it('accepts an explicit max parallelism equal to the checkpoint’s', () => {
    const { sinks } = sinksOf({ parallelism: 2, maxParallelism: 128 });
    const graph = buildJobGraph(sinks, { jobName: 'j', parallelism: 2, maxParallelism: 128, restoredMaxParallelism: new Map([['count', 128]]) });
    expect(headOf(graph, 'count').maxParallelism).toBe(128);
    expect(headOf(graph, 'count').nodes[0].maxParallelismExplicit).toBe(true);
  });
});
