// The enumerator of a fixed set of splits: dealt round-robin when readers register, or handed out
// one per request; its state is what is not assigned yet, and splits given back join it.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { StaticSplitEnumerator } from '../../../src/connectors/static-splits/static-split-enumerator.js';
import type { SplitEnumeratorContext } from '../../../src/runtime/source.js';

interface S {
  id: string;
}
const s = (id: string): S => ({ id });

/** A context that records what the enumerator did. */
function recordingContext(parallelism: number) {
  const events: string[] = [];
  const ctx: SplitEnumeratorContext<S> = {
    jobName: 'j',
    uid: 'src',
    parallelism,
    clock: new ManualClock(0),
    log: () => {},
    assignSplit: (split, subtask) => events.push(`${split.id}->${subtask}`),
    assignSplits: (assignment) => {
      for (const [subtask, splits] of assignment) for (const split of splits) events.push(`${split.id}->${subtask}`);
    },
    signalNoMoreSplits: (subtask) => events.push(`end->${subtask}`),
    callAsync: () => {},
  };
  return { ctx, events };
}

describe('StaticSplitEnumerator', () => {
  it('deals split k to reader k mod parallelism when readers register, then tells each there are no more', () => {
    const { ctx, events } = recordingContext(2);
    const e = new StaticSplitEnumerator(ctx, { pending: ['a', 'b', 'c'].map(s) });
    expect(e.snapshotState()).toEqual({ pending: ['a', 'b', 'c'].map(s) });
    e.addReader(0);
    expect(events).toEqual(['a->0', 'c->0', 'end->0']);
    expect(e.snapshotState()).toEqual({ pending: [s('b')] }); // reader 1's share until it registers
    e.addReader(1);
    expect(events.slice(3)).toEqual(['b->1', 'end->1']);
    expect(e.snapshotState()).toEqual({ pending: [] });
  });

  it('hands out one split per request, in order, then no more', () => {
    const { ctx, events } = recordingContext(3);
    const e = new StaticSplitEnumerator(ctx, { pending: ['a', 'b'].map(s) }, { assignment: 'on-request' });
    for (const subtask of [0, 1, 2]) e.addReader(subtask);
    expect(events).toEqual([]);
    e.handleSplitRequest(2);
    e.handleSplitRequest(0);
    expect(e.snapshotState()).toEqual({ pending: [] });
    e.handleSplitRequest(1);
    expect(events).toEqual(['a->2', 'b->0', 'end->1']);
  });

  it('assigns splits given back (a rescaled restore) with its own', () => {
    const { ctx, events } = recordingContext(2);
    const e = new StaticSplitEnumerator(ctx, { pending: [s('new')] });
    e.addSplitsBack([s('x'), s('y')]);
    e.addReader(0);
    e.addReader(1);
    expect(events).toEqual(['new->0', 'y->0', 'end->0', 'x->1', 'end->1']);
  });
});
