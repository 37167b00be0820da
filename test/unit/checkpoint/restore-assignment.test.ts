import { describe, expect, it } from 'vitest';
import { assignRestoredState, type TaskSnapshotFile } from '../../../src/checkpoint/restore-assignment.js';
import type { OperatorStateSnapshot } from '../../../src/state/operator/operator-state-store.js';

const bytes = (s: string) => Buffer.from(s);
function file(states: OperatorStateSnapshot['states'], source?: unknown): TaskSnapshotFile {
  return { operators: { op: { states } }, watermark: 5, ...(source === undefined ? {} : { source }) };
}
const part = (mode: 'split' | 'union' | 'broadcast', ...elements: string[]) => ({ mode, serializer: 'msgpack@1', elements: elements.map(bytes) });

describe('assignRestoredState', () => {
  const old = [
    { index: 0, file: file({ s: part('split', 'a0'), u: part('union', 'u0'), b: part('broadcast', 'rules') }, { next: 10 }) },
    { index: 1, file: file({ s: part('split', 'a1'), u: part('union', 'u1'), b: part('broadcast', 'rules') }, { next: 11 }) },
  ];

  it('gives each subtask its own part, its source position and watermark at the same parallelism', () => {
    const r = assignRestoredState({ checkpointId: 9, operatorUids: ['op'], subtaskIndex: 1, parallelism: 2, old })!;
    expect(r.checkpointId).toBe(9);
    expect(r.file?.source).toEqual({ next: 11 });
    expect(r.file?.watermark).toBe(5);
    const [mine, ...others] = r.operatorState.op;
    expect(Buffer.from(mine.states.s.elements[0]).toString()).toBe('a1');
    expect(others.map((o) => Object.keys(o.states))).toEqual([['u']]); // only the union part of the other subtask
  });

  it('hands every subtask every union element', () => {
    for (const subtaskIndex of [0, 1]) {
      const r = assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex, parallelism: 2, old })!;
      const union = r.operatorState.op.flatMap((p) => (p.states.u?.elements ?? []).map((e) => Buffer.from(e).toString()));
      expect(union.sort()).toEqual(['u0', 'u1']);
    }
  });

  it('gives a new subtask the broadcast state of old subtask i % oldP, but refuses to split list state', () => {
    const broadcastOnly = old.map((o) => ({ index: o.index, file: file({ b: part('broadcast', `rules-of-${o.index}`) }) }));
    const r = assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex: 3, parallelism: 4, old: broadcastOnly })!;
    expect(r.file).toBeUndefined();
    expect(Buffer.from(r.operatorState.op[0].states.b.elements[0]).toString()).toBe('rules-of-1');
    expect(() => assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex: 0, parallelism: 3, old })).toThrow(
      /checkpointed at parallelism 2 and now runs at 3/,
    );
  });

  it('leaves an operator that the checkpoint does not know empty', () => {
    expect(assignRestoredState({ checkpointId: 1, operatorUids: ['new-op'], subtaskIndex: 0, parallelism: 1, old: [] })).toBeUndefined();
  });
});
