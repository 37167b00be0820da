import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../../src/index.js';
import { RunningCount } from '../../fixtures/running-count.js';

function job(dir: string, logs: string[]) {
  const env = StreamEnvironment.create({ parallelism: 2, checkpointing: { directory: dir, intervalMs: 50 }, restore: 'latest', log: (m) => logs.push(m) });
  env
    .fromCollection(Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 30}`, i })))
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(() => {});
  return env;
}

describe('restore progress', () => {
  it('says when a restore is done, with its subtasks and keyed state entries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-restore-progress-'));
    await job(dir, []).execute('first');
    const logs: string[] = [];
    await job(dir, logs).execute('second');
    expect(logs.join('\n')).toMatch(/\[restore\] restored checkpoint \d+ in \d+\.\d+ s: \d+ subtasks, 30 keyed state entries from \d+\.\d MiB/);
  });
});
