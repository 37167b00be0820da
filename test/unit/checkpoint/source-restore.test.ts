// Where a split source's splits go on restore: their own reader at the same parallelism, back to
// the enumerator at another; a split held twice is refused. Pure, no files.
import { describe, expect, it } from 'vitest';
import type { TaskSnapshotFile } from '../../../src/checkpoint/restore-assignment.js';
import { decodeEnumeratorState, encodeEnumeratorState, planSourceRestore, planSourceRestores, readerSplitsOf } from '../../../src/checkpoint/source-restore.js';

const split = (id: string, next = 0) => ({ id, next });

describe('planSourceRestore', () => {
  const old = [
    { index: 0, splits: [split('a', 3), split('c', 1)] },
    { index: 1, splits: [split('b', 7)] },
  ];

  it('gives every reader its own splits back at the same parallelism, nothing to the enumerator', () => {
    expect(planSourceRestore({ uid: 'src', parallelism: 2, old })).toEqual({ readers: [[split('a', 3), split('c', 1)], [split('b', 7)]], splitsBack: [] });
  });

  it('gives every split back to the enumerator, by the old subtask that held it, at another parallelism', () => {
    for (const parallelism of [1, 3]) {
      const plan = planSourceRestore({ uid: 'src', parallelism, old });
      expect(plan.readers).toEqual(Array.from({ length: parallelism }, () => []));
      expect(plan.splitsBack).toEqual([
        { subtask: 0, splits: [split('a', 3), split('c', 1)] },
        { subtask: 1, splits: [split('b', 7)] },
      ]);
    }
  });

  it('leaves readers without splits out of what goes back', () => {
    const plan = planSourceRestore({ uid: 'src', parallelism: 1, old: [...old, { index: 2, splits: [] }] });
    expect(plan.splitsBack.map((b) => b.subtask)).toEqual([0, 1]);
  });

  it('refuses a checkpoint in which two readers hold the same split, naming the split and both subtasks', () => {
    expect(() => planSourceRestore({ uid: 'src', parallelism: 2, old: [old[0], { index: 1, splits: [split('a', 9)] }] })).toThrow(/split 'a' is held by subtasks 0 and 1/);
  });
});

describe('source state in checkpoints', () => {
  it('reads the splits of a reader state and nothing from a position of Floe 0.1', () => {
    expect(readerSplitsOf({ splits: [split('a')] })).toEqual([split('a')]);
    expect(readerSplitsOf({ splits: [] })).toEqual([]);
    expect(readerSplitsOf({ splits: [{ next: 0, step: 2 }] })).toBeUndefined();
    expect(readerSplitsOf(17)).toBeUndefined();
    expect(readerSplitsOf({ path: 'in.jsonl', line: 3 })).toBeUndefined();
  });

  it('round-trips an enumerator state through the JSON-safe encoding of _metadata', () => {
    const state = { pending: [split('x', 2)], seen: ['a', 'b'], big: Number.MAX_SAFE_INTEGER, infinite: Number.POSITIVE_INFINITY };
    const encoded = encodeEnumeratorState(state);
    expect(typeof JSON.parse(JSON.stringify(encoded))).toBe('string');
    expect(decodeEnumeratorState(encoded)).toEqual(state);
  });
});

describe('planSourceRestores', () => {
  const file = (source: unknown): TaskSnapshotFile => ({ operators: {}, watermark: 0, source });
  const old = { src: [0, 1].map((index) => ({ index, file: file({ splits: [split(`s${index}`, index)] }) })) };

  it('restores each source from its enumerator state and its readers, and leaves out a source the checkpoint does not know', () => {
    const plans = planSourceRestores({
      checkpointId: 4,
      stored: { src: { enumerator: encodeEnumeratorState({ pending: [split('p')] }) } },
      sources: [
        { uid: 'src', parallelism: 1 },
        { uid: 'added', parallelism: 2 },
      ],
      old: (uid) => (uid === 'src' ? old.src : []),
    });
    expect([...plans.keys()]).toEqual(['src']);
    expect(plans.get('src')).toEqual({
      enumeratorState: { pending: [split('p')] },
      converted: false,
      readers: [[]],
      splitsBack: [
        { subtask: 0, splits: [split('s0', 0)] },
        { subtask: 1, splits: [split('s1', 1)] },
      ],
    });
  });

  it('converts positions written before split sources, and refuses them for a source that cannot', () => {
    const legacy = [{ index: 0, file: file({ next: 3 }) }];
    const convert = (positions: readonly unknown[]) => ({ readers: positions.map((p) => [split('only', (p as { next: number }).next)]), enumerator: { pending: [] } });
    const plans = planSourceRestores({ checkpointId: 4, stored: undefined, sources: [{ uid: 'src', parallelism: 1, restoreLegacyPositions: convert }], old: () => legacy });
    expect(plans.get('src')).toMatchObject({ converted: true, readers: [[split('only', 3)]], enumeratorState: { pending: [] } });
    expect(() => planSourceRestores({ checkpointId: 4, stored: undefined, sources: [{ uid: 'src', parallelism: 1 }], old: () => legacy })).toThrow(
      /Checkpoint 4 was written by an older Floe .* source 'src' cannot convert it/,
    );
    // A source that stored nothing then starts afresh, as it did then.
    expect(planSourceRestores({ checkpointId: 4, stored: undefined, sources: [{ uid: 'src', parallelism: 1 }], old: () => [{ index: 0, file: file(undefined) }] }).size).toBe(0);
  });
});
