import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignRestoredState, stateWithoutOperator, type TaskSnapshotFile } from '../../../src/checkpoint/restore-assignment.js';
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

  it('gives a new subtask the broadcast state of old subtask i % oldP', () => {
    const broadcastOnly = old.map((o) => ({ index: o.index, file: file({ b: part('broadcast', `rules-of-${o.index}`) }) }));
    const r = assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex: 3, parallelism: 4, old: broadcastOnly })!;
    expect(r.file).toBeUndefined();
    expect(Buffer.from(r.operatorState.op[0].states.b.elements[0]).toString()).toBe('rules-of-1');
  });

  it('splits list state evenly over a new parallelism, in old subtask order', () => {
    const lists = [
      { index: 0, file: file({ s: part('split', 'a', 'b', 'c') }) },
      { index: 1, file: file({ s: part('split', 'd', 'e') }) },
    ];
    const at = (i: number, p: number) =>
      assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex: i, parallelism: p, old: lists })!.operatorState.op[0].states.s.elements.map((e) => Buffer.from(e).toString());
    expect([0, 1, 2].map((i) => at(i, 3))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(at(0, 1)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('refuses to drop raw operator state of a subtask that no longer exists', () => {
    const raw = [0, 1].map((index) => ({ index, file: { operators: { op: { states: {}, raw: bytes(`raw${index}`) } }, watermark: 0 } }));
    expect(() => assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex: 0, parallelism: 1, old: raw })).toThrow(/raw operator state/);
    const up = assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex: 1, parallelism: 3, old: raw })!;
    expect(Buffer.from(up.operatorState.op[0].raw!).toString()).toBe('raw1');
  });

  it('finds an operator\'s state by its uid when it ran in another chain (chaining changed between runs)', () => {
    // Before: one chain src -> sink at parallelism 1. Now: src alone, and a chain map -> sink at 2.
    const before = { index: 0, file: { operators: { sink: { states: { pending: part('split', 't1', 't2', 't3') } } }, operatorWatermarks: { sink: 42 }, watermark: 42, source: { next: 7 } } };
    const byUid: Record<string, Array<typeof before>> = { src: [before], sink: [before] };
    const restored = [0, 1].map(
      (i) =>
        assignRestoredState({ checkpointId: 1, operatorUids: ['map', 'sink'], subtaskIndex: i, parallelism: 2, old: [], oldOf: (uid) => byUid[uid] ?? [] })!,
    );
    expect(restored.map((r) => r.operatorState.sink[0].states.pending.elements.map((e) => Buffer.from(e).toString()))).toEqual([['t1', 't2'], ['t3']]);
    expect(restored.map((r) => r.file)).toEqual([undefined, undefined]); // the source position stays with the source's chain
    expect(restored[0].watermarks.operators.sink).toBe(42);
  });

  it('leaves an operator that the checkpoint does not know empty', () => {
    expect(assignRestoredState({ checkpointId: 1, operatorUids: ['new-op'], subtaskIndex: 0, parallelism: 1, old: [] })).toBeUndefined();
  });
});

describe('operator state redistribution laws', () => {
  const snapshotOf = (lists: string[][], mode: 'split' | 'union') => lists.map((l, index) => ({ index, file: file({ s: part(mode, ...l) }) }));
  const restoredAt = (old: ReturnType<typeof snapshotOf>, p: number) =>
    Array.from({ length: p }, (_, i) =>
      (assignRestoredState({ checkpointId: 1, operatorUids: ['op'], subtaskIndex: i, parallelism: p, old })!.operatorState.op ?? []).flatMap((x) => (x.states.s?.elements ?? []).map((e) => Buffer.from(e).toString())),
    );
  const lists = fc.array(fc.array(fc.string({ maxLength: 3 }), { maxLength: 12 }), { minLength: 1, maxLength: 16 });

  it('even split keeps every element exactly once, in order, with sizes that differ by at most one after a rescale (p1 -> p2 -> p3)', () => {
    fc.assert(
      fc.property(lists, fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), (old, p2, p3) => {
        const all = old.flat();
        const second = restoredAt(snapshotOf(old, 'split'), p2);
        const third = p2 === p3 ? second : restoredAt(snapshotOf(second, 'split'), p3);
        for (const [parts, rescaled] of [
          [second, p2 !== old.length],
          [third, p3 !== p2],
        ] as const) {
          expect(parts.flat()).toEqual(all);
          const sizes = parts.map((x) => x.length);
          // Only a rescale redistributes; at the same parallelism every subtask keeps its own list.
          if (rescaled) expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('union state gives every new subtask every element', () => {
    fc.assert(
      fc.property(lists, fc.integer({ min: 1, max: 16 }), (old, p) => {
        if (old.length === p) return; // the same parallelism keeps own + others' union parts (tested above)
        for (const got of restoredAt(snapshotOf(old, 'union'), p)) expect(got).toEqual(old.flat());
      }),
    );
  });
});

describe('stateWithoutOperator', () => {
  it('names operators that hold state in the checkpoint but are not in the job', () => {
    const files: Array<[string, TaskSnapshotFile]> = [
      ['src#0', { operators: {}, watermark: 0, source: { next: 3 } }],
      ['count#0', { operators: { count: { states: {} }, sink: { states: { pending: part('split', 't') } } }, watermark: 0, keyed: { meta: {} as never, data: new Uint8Array() } }],
      ['print#0', { operators: { print: { states: { empty: part('split') } } }, watermark: 0 }],
    ];
    expect(stateWithoutOperator(files, new Set(['src', 'count', 'sink']))).toEqual([]);
    expect(stateWithoutOperator(files, new Set(['src', 'renamed-count', 'sink']))).toEqual(['count']);
    expect(stateWithoutOperator(files, new Set(['count']))).toEqual(['sink', 'src']);
  });
});
