// Flink's testSnapshotNonAccessedState through whole jobs: a function that asks for its state
// lazily (inside processElement) and sees no record between a restore and the next checkpoint
// must not lose that state at the checkpoint after.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type RuntimeContext, StreamEnvironment, type ValueState, ValueStateDescriptor } from '../../../src/index.js';

const KEYS = 20;

/** Counts per key; the state handle is fetched on the first record, not in open(). */
class LazyCount {
  private ctx!: RuntimeContext;
  private count: ValueState<number> | undefined;
  open(ctx: RuntimeContext) {
    this.ctx = ctx;
  }
  map(e: { key: string }) {
    this.count ??= this.ctx.getState(new ValueStateDescriptor<number>('count'));
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    return { key: e.key, n };
  }
}

/** Runs the job over the first `count` generated records, resuming from the newest checkpoint in `dir`. */
async function run(dir: string, count: number, backend: 'heap' | 'disk'): Promise<Array<{ key: string; n: number }>> {
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: backend === 'disk' ? { kind: 'disk', dir: join(dir, 'state') } : 'heap',
    checkpointing: { directory: join(dir, 'chk'), intervalMs: 60_000 },
    restore: 'latest',
    log: () => {},
  });
  return env
    .fromGenerator((i) => ({ key: `k${i % KEYS}` }), { count })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new LazyCount())
    .uid('count')
    .executeAndCollect();
}

describe.each(['heap', 'disk'] as const)('lazily registered state (%s backend)', (backend) => {
  it('survives a restore followed by a checkpoint that saw no record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-lazy-state-'));
    await run(dir, 200, backend); // 10 per key, final checkpoint at end of input
    expect(await run(dir, 200, backend)).toEqual([]); // restored at the end of the input: no record, another final checkpoint
    const resumed = await run(dir, 240, backend); // two more per key
    const last = new Map<string, number>();
    for (const r of resumed) last.set(r.key, Math.max(last.get(r.key) ?? 0, r.n));
    expect(resumed).toHaveLength(40);
    expect([...last.values()]).toEqual(Array.from({ length: KEYS }, () => 12));
  });
});
