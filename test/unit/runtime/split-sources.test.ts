// Split sources through whole jobs: every record read exactly once across kills and restores at
// changing parallelism (splits back to the enumerator, enumerator state in the checkpoint), a
// reader that waits does not hold up checkpoints, and completed checkpoints reach the readers.
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type JobClient, StreamEnvironment } from '../../../src/index.js';
import { Gate, GatedSource, ReaderEvents, type RecordSplit } from '../../fixtures/gated-source.js';
import { CommitLog, MemoryCommitSink } from '../../fixtures/memory-commit-sink.js';

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'floe-split-sources-'));
  scratch.push(dir);
  return dir;
};

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

const splitsOf = (counts: number[]): RecordSplit[] => counts.map((count, i) => ({ id: `s${i}`, count, next: 0 }));
const allRecords = (splits: RecordSplit[]) => splits.flatMap((s) => Array.from({ length: s.count }, (_, i) => `${s.id}:${i}`));

function startJob(options: { checkpoints: string; parallelism: number; source: GatedSource; log: CommitLog }): JobClient {
  const env = StreamEnvironment.create({
    parallelism: options.parallelism,
    checkpointing: { directory: options.checkpoints },
    restore: 'latest',
    restartStrategy: { type: 'none' },
    log: () => {},
  });
  env.fromSource(options.source).uid('records').rebalance().addSink(new MemoryCommitSink(options.log)).setParallelism(2).uid('sink');
  return env.executeAsync('split-sources');
}

describe('split sources in a job', () => {
  it('source splits: every record read exactly once across kills and restores p1 -> p2 -> p3', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom('round-robin' as const, 'on-request' as const),
        fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 3, maxLength: 3 }),
        // Per early run, its steps: let records through, or trigger a checkpoint without waiting for it.
        fc.array(fc.array(fc.oneof(fc.record({ emit: fc.integer({ min: 1, max: 25 }) }), fc.constant({ checkpoint: true as const })), { maxLength: 6 }), {
          minLength: 2,
          maxLength: 2,
        }),
        fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
        async (counts, assignment, parallelisms, plans, graceful) => {
          const splits = splitsOf(counts);
          const checkpoints = join(tempDir(), 'chk');
          const log = new CommitLog();
          // Two runs that end early (stopped, or killed after the steps), then one to the end.
          for (const [run, p] of parallelisms.entries()) {
            const gate = new Gate();
            const client = startJob({ checkpoints, parallelism: p, source: new GatedSource(splits, gate, { assignment }), log });
            let finished = false;
            const result = client.result.then(
              () => (finished = true),
              () => (finished = true),
            );
            if (run === 2) {
              gate.open(Number.POSITIVE_INFINITY);
              await client.result;
              break;
            }
            const pending: Array<Promise<unknown>> = [];
            for (const step of plans[run]) {
              if ('checkpoint' in step) pending.push(client.triggerCheckpoint().catch(() => undefined));
              else {
                gate.open(step.emit);
                const received = log.received;
                await until(() => finished || gate.closed || log.received > received + step.emit);
              }
            }
            await Promise.all(pending);
            if (graceful[run]) await client.stop().catch(() => undefined);
            else client.cancel();
            await result;
          }
          expect(log.records().sort()).toEqual(allRecords(splits).sort());
        },
      ),
      { numRuns: 25 },
    );
  }, 240_000);

  it('takes checkpoints while its readers wait for data, and tells readers and enumerator when they complete', async () => {
    const gate = new Gate();
    const events = new ReaderEvents();
    const log = new CommitLog();
    const splits = splitsOf([5, 5, 5]);
    const client = startJob({ checkpoints: join(tempDir(), 'chk'), parallelism: 2, source: new GatedSource(splits, gate, { assignment: 'round-robin', events }), log });
    gate.open(4);
    await until(() => gate.closed);
    // Every reader now waits on the gate (its isAvailable is pending): checkpoints still complete.
    const first = await client.triggerCheckpoint();
    const second = await client.triggerCheckpoint();
    expect(second).toBeGreaterThan(first);
    await until(() => events.completed.filter((e) => e.checkpointId === second).length === 2);
    expect(events.completed.filter((e) => e.checkpointId === first).map((e) => e.subtask).sort()).toEqual([0, 1]);
    expect(events.enumeratorCompleted).toEqual([first, second]);
    expect(log.records()).toHaveLength(4); // what came before the checkpoints was committed
    gate.open(Number.POSITIVE_INFINITY);
    const result = await client.result;
    const final = result.checkpoints!.at(-1)!;
    expect(events.completed.filter((e) => e.checkpointId === final).map((e) => e.subtask).sort()).toEqual([0, 1]); // also after end of input
    expect(log.records().sort()).toEqual(allRecords(splits).sort());
  });

  it('ends a bounded job whose readers outnumber its splits: idle readers end at once', async () => {
    const gate = new Gate();
    gate.open(Number.POSITIVE_INFINITY);
    const log = new CommitLog();
    const splits = splitsOf([3, 4]);
    const result = await startJob({ checkpoints: join(tempDir(), 'chk'), parallelism: 5, source: new GatedSource(splits, gate, { assignment: 'on-request' }), log }).result;
    expect(result.metrics.sourceRecords).toBe(7);
    expect(log.records().sort()).toEqual(allRecords(splits).sort());
  });
});
