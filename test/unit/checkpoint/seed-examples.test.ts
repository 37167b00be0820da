// The seed's operator-state examples (shared/seeds, file 004) as tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferingSink } from '../../../examples/buffering-sink.js';
import { CounterSource } from '../../../examples/counter-source.js';
import { readCommittedJsonLines, StreamEnvironment, TransactionalJsonLinesSink } from '../../../src/index.js';
import { OperatorTestHarness } from '../../../src/testing/index.js';

describe('BufferingSink', () => {
  it('restores its buffer after a failure and emits nothing twice', async () => {
    const sent: number[][] = [];
    const first = await OperatorTestHarness.forSink(new BufferingSink<number>(10, (xs) => sent.push([...xs])));
    for (let i = 1; i <= 15; i++) await first.processElement(i);
    const checkpoint = await first.snapshot(1); // 1..10 were sent, 11..15 are buffered
    for (let i = 16; i <= 18; i++) await first.processElement(i); // then the job fails: this instance is gone
    expect(sent).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);

    // Restart from checkpoint 1: the source replays 16.. after the checkpoint.
    const second = await OperatorTestHarness.forSink(new BufferingSink<number>(10, (xs) => sent.push([...xs])), { restore: checkpoint });
    for (let i = 16; i <= 25; i++) await second.processElement(i);
    expect(sent).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
    ]);
    const last = await second.snapshot(2);
    expect(last.state?.states['buffered-elements'].elements).toHaveLength(5); // 21..25 wait in state
    const all = sent.flat();
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('CounterSource', () => {
  it('continues after a restore without gaps or duplicates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-counter-'));
    const failures = new Set([1234, 3456]);
    const env = StreamEnvironment.create({
      checkpointing: { directory: join(dir, 'chk'), intervalMs: 20 },
      restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 1 },
      log: () => {},
    });
    env
      .fromSource(new CounterSource(5000))
      .uid('counter')
      .map((n: number) => {
        if (failures.delete(n)) throw new Error(`fail at ${n}`);
        return n;
      })
      .uid('flaky')
      .setParallelism(1)
      .addSink(new TransactionalJsonLinesSink(join(dir, 'out')))
      .uid('sink');
    const result = await env.execute('counter');
    expect(result.restarts).toBe(2);
    const out = await readCommittedJsonLines<number>(join(dir, 'out'));
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});
