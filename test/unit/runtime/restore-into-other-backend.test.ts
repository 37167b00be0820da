// Whole jobs moving keyed state between backends: a heap checkpoint holds canonical key-group
// blocks, so a job restored from it on the disk backend (at another parallelism) goes on counting
// where it stopped; the disk backend's own checkpoint restored on the heap fails, saying to take a
// savepoint instead.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type RuntimeContext, StreamEnvironment, type ValueState, ValueStateDescriptor } from '../../../src/index.js';

const KEYS = 20;

class Count {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  map(e: { key: string }) {
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    return { key: e.key, n };
  }
}

/** Counts the first `count` generated records per key, resuming from the newest checkpoint in `dir`. */
async function run(dir: string, count: number, backend: 'heap' | 'disk', parallelism: number): Promise<Array<{ key: string; n: number }>> {
  const env = StreamEnvironment.create({
    parallelism,
    stateBackend: backend === 'disk' ? { kind: 'disk', dir: join(dir, 'state') } : 'heap',
    checkpointing: { directory: join(dir, 'chk'), intervalMs: 60_000 },
    restore: 'latest',
    log: () => {},
  });
  return env
    .fromGenerator((i) => ({ key: `k${i % KEYS}` }), { count })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new Count())
    .uid('count')
    .executeAndCollect();
}

describe('restoring a job on another state backend', () => {
  it('goes on from a heap checkpoint on the disk backend at another parallelism', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-backend-switch-'));
    await run(dir, 200, 'heap', 2); // 10 per key, final checkpoint at end of input
    const resumed = await run(dir, 240, 'disk', 3); // two more per key
    const last = new Map<string, number>();
    for (const r of resumed) last.set(r.key, Math.max(last.get(r.key) ?? 0, r.n));
    expect(resumed).toHaveLength(40);
    expect([...last.values()]).toEqual(Array.from({ length: KEYS }, () => 12));
  });

  it('refuses the disk backend\'s own checkpoint on the heap backend, saying to take a savepoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-backend-switch-'));
    await run(dir, 200, 'disk', 2);
    await expect(run(dir, 240, 'heap', 2)).rejects.toThrow(/taken with the disk state backend.*take a savepoint/);
  });
});
