// The coordinator side of a split source on its own: the order in which it starts an enumerator,
// how it delivers assignments, and the contract violations it turns into job failures.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { ManualProcessingTimeService } from '../../../src/runtime/processing-time-service.js';
import { SourceCoordinator } from '../../../src/runtime/source-coordinator.js';
import type { AnySource, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../../../src/runtime/source.js';

/** A source whose enumerator is made by `make`; readers are never created here. */
function sourceWith(make: (ctx: SplitEnumeratorContext, restored?: unknown) => SplitEnumerator): AnySource {
  return { name: 'test', bounded: true, createEnumerator: make, createReader: () => undefined as never };
}

function coordinator(source: AnySource, parallelism = 2) {
  const delivered: string[] = [];
  const received: SourceSplit[] = [];
  const failures: unknown[] = [];
  const clock = new ManualClock(0);
  const timers = new ManualProcessingTimeService(clock);
  const c = new SourceCoordinator({
    jobName: 'j',
    uid: 'src',
    source,
    readers: Array.from({ length: parallelism }, (_, i) => ({
      addSplits: (splits: SourceSplit[]) => {
        received.push(...splits);
        delivered.push(`${i}:${splits.map((s) => s.id).join(',')}`);
      },
      notifyNoMoreSplits: () => delivered.push(`${i}:end`),
    })),
    clock,
    processingTime: timers,
    log: () => {},
    failJob: (error) => failures.push(error),
  });
  return { c, delivered, received, failures, clock, timers };
}

describe('SourceCoordinator', () => {
  it('restores the enumerator, gives back the splits, starts it, then registers every reader, in that order', async () => {
    const calls: string[] = [];
    const { c } = coordinator(
      sourceWith((_, restored) => ({
        addSplitsBack: (splits, subtask) => calls.push(`back ${splits.map((s) => s.id)} from ${subtask}`),
        start: () => {
          calls.push('start');
        },
        addReader: (subtask) => calls.push(`reader ${subtask}`),
        snapshotState: () => restored,
      })),
    );
    await c.start({ state: { pending: [] }, splitsBack: [{ subtask: 3, splits: [{ id: 'x' }] }] });
    expect(calls).toEqual(['back x from 3', 'start', 'reader 0', 'reader 1']);
    expect(c.snapshotState(1)).toEqual({ pending: [] });
  });

  it('delivers copies of the assigned splits in order, so the enumerator and the reader never share one', async () => {
    const split = { id: 'a', next: 0 };
    let ctx!: SplitEnumeratorContext;
    const { c, delivered, received } = coordinator(sourceWith((context) => ((ctx = context), { addSplitsBack: () => {}, snapshotState: () => ({}) })));
    await c.start();
    ctx.assignSplit(split, 1);
    ctx.assignSplits(new Map([[0, [{ id: 'b' }]]]));
    ctx.signalNoMoreSplits(0);
    split.next = 99;
    expect(delivered).toEqual(['1:a', '0:b', '0:end']);
    expect(received[0]).toEqual({ id: 'a', next: 0 });
  });

  it('fails the job when a split is assigned after no more were signalled, or to a subtask that does not exist', async () => {
    const cases: Array<[(ctx: SplitEnumeratorContext) => void, RegExp]> = [
      [
        (ctx) => {
          ctx.signalNoMoreSplits(0);
          ctx.assignSplit({ id: 'late' }, 0);
        },
        /split 'late' assigned to subtask 0 after signalNoMoreSplits\(0\)/,
      ],
      [(ctx) => ctx.assignSplit({ id: 'nowhere' }, 5), /cannot assign splits to subtask 5: the source has 2 readers/],
    ];
    for (const [assign, message] of cases) {
      let ctx!: SplitEnumeratorContext;
      const { c, failures } = coordinator(
        sourceWith((context) => ((ctx = context), { addSplitsBack: () => {}, handleSplitRequest: () => assign(ctx), snapshotState: () => ({}) })),
      );
      await c.start();
      c.handleSplitRequest(0);
      expect(failures).toHaveLength(1);
      expect(String(failures[0])).toMatch(message);
    }
  });

  it('names the source and the call when the enumerator throws, and refuses a snapshot with no state', async () => {
    const { c, failures } = coordinator(
      sourceWith(() => ({
        addSplitsBack: () => {},
        handleSplitRequest: () => {
          throw new Error('broker unreachable');
        },
        snapshotState: () => undefined,
      })),
    );
    await c.start();
    c.handleSplitRequest(1);
    expect(String(failures[0])).toMatch(/operator 'src'.*handleSplitRequest: broker unreachable/);
    expect(() => c.snapshotState(1)).toThrow(/snapshotState returned undefined/);
  });

  it('runs asynchronous calls on its timers, their handlers after the work, and stops them when closed', async () => {
    let ctx!: SplitEnumeratorContext;
    const handled: number[] = [];
    const { c, clock, timers } = coordinator(sourceWith((context) => ((ctx = context), { addSplitsBack: () => {}, snapshotState: () => ({}) })));
    await c.start();
    let n = 0;
    ctx.callAsync(async () => ++n, (result) => handled.push(result), { initialDelayMs: 10, periodMs: 10 });
    clock.advance(10);
    timers.fireDue();
    await c.asyncCallsSettled();
    clock.advance(10);
    timers.fireDue();
    await c.asyncCallsSettled();
    expect(handled).toEqual([1, 2]);
    await c.close();
    clock.advance(100);
    timers.fireDue();
    await c.asyncCallsSettled();
    expect(handled).toEqual([1, 2]);
  });
});
