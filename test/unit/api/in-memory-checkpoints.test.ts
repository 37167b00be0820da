// A job checkpointing into an InMemoryCheckpointStorage: a failure restarts it from its latest
// checkpoint in memory, exactly once, on both backends (the disk backend's shared files too).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InMemoryCheckpointStorage, StreamEnvironment } from '../../../src/index.js';
import { TransactionalJsonLinesSink, readCommittedJsonLines } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { type CountedEvent, RunningCount, countsPerKey } from '../../fixtures/running-count.js';

describe('checkpoints in memory', () => {
  it.each(['heap', 'disk'] as const)('restarts a failed job from its latest in-memory checkpoint, exactly once (%s backend)', async (backend) => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-memory-checkpoints-'));
    const storage = new InMemoryCheckpointStorage();
    let failed = false;
    const env = StreamEnvironment.create({
      parallelism: 2,
      stateBackend: backend === 'disk' ? { kind: 'disk', dir: join(dir, 'state') } : 'heap',
      checkpointing: { storage, intervalMs: 50 },
      restartStrategy: { type: 'fixed-delay', attempts: 1, delayMs: 10 },
      log: () => {},
    });
    env
      .fromGenerator((i) => ({ key: `k${i % 50}`, i }), { count: 6000, eventsPerSecond: 20_000 })
      .uid('events')
      .keyBy((e) => e.key)
      .map(new RunningCount())
      .uid('count')
      .map((e) => {
        if (e.i === 4000 && !failed) {
          failed = true;
          throw new Error('injected failure');
        }
        return e;
      })
      .addSink(new TransactionalJsonLinesSink<CountedEvent>(join(dir, 'out')))
      .uid('sink');
    const result = await env.execute('memory-checkpoints');
    expect(result.restarts).toBe(1);
    expect((await storage.listCompleted()).length).toBeGreaterThan(0);
    const committed = await readCommittedJsonLines<CountedEvent>(join(dir, 'out'));
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    for (const [key, ns] of countsPerKey(committed)) expect(ns, key).toEqual(Array.from({ length: 120 }, (_, j) => j + 1));
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('needs a directory or a storage', () => {
    expect(() => StreamEnvironment.create({ checkpointing: { intervalMs: 100 } })).toThrow(/checkpointing needs a directory/);
  });
});
