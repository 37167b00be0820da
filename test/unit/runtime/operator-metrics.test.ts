import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../../src/cli/progress.js';
import { StreamEnvironment } from '../../../src/index.js';

async function run(parallelism: number) {
  const env = StreamEnvironment.create({ parallelism, log: () => {} });
  env
    .fromCollection(Array.from({ length: 200 }, (_, i) => i))
    .uid('numbers')
    .map((x) => x * 3)
    .name('Triple')
    .filter((x) => x % 2 === 0)
    .name('Evens')
    .keyBy((x) => x % 7)
    .reduce((a, b) => a + b)
    .name('Sum per residue')
    .addSink(() => {}, 'Discard');
  return (await env.execute('counts')).metrics;
}

describe('per-operator record counts', () => {
  it.each([1, 2])('count what each operator received and emitted, chained or not, at parallelism %i', async (p) => {
    const m = await run(p);
    const byName = Object.fromEntries(m.operators.map((o) => [o.name, o]));
    expect(byName['Collection Source']).toMatchObject({ recordsIn: 0, recordsOut: 200, isSource: true, isSink: false });
    expect(byName['Triple']).toMatchObject({ recordsIn: 200, recordsOut: 200 });
    expect(byName['Evens']).toMatchObject({ recordsIn: 200, recordsOut: 100 });
    expect(byName['Sum per residue']).toMatchObject({ recordsIn: 100, recordsOut: 100, parallelism: p });
    expect(byName['Discard']).toMatchObject({ recordsIn: 100, recordsOut: 0, isSink: true });
    expect(m.sinkRecords).toBe(100);
  });

  it('summarises sink writes, not a chain-dependent final stage, and shows no rate for a sub-second run', async () => {
    const m = await run(1);
    const summary = formatSummary('counts', { ...m, elapsedMs: 420 }, 'finished');
    expect(summary).toContain("Job 'counts' finished in 0.42 s: 200 records read, 100 records written by its sink.");
    expect(summary).not.toMatch(/rec\/s|final stage/);
    expect(summary).toMatch(/Discard\s+x1\s+wrote\s+100/);
    expect(summary).toMatch(/Evens\s+x1\s+in\s+200\s+out\s+100/);
    expect(formatSummary('counts', { ...m, elapsedMs: 2000 }, 'finished')).toContain('200 records read (100 rec/s)');
  });
});
