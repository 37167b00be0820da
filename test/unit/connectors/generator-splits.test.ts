// The generator source's position is a list of splits: restored at another parallelism, the splits
// are dealt out again and every index is read exactly once (Flink's split reassignment).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignRestoredState, type TaskSnapshotFile } from '../../../src/checkpoint/restore-assignment.js';
import { ManualClock } from '../../../src/core/clock.js';
import { GeneratorSource } from '../../../src/connectors/generator/generator-source.js';
import type { SourceReader } from '../../../src/runtime/source.js';

const source = (count: number) => new GeneratorSource((i) => i, { count });

function readers(count: number, parallelism: number, positions?: unknown[]): Array<SourceReader<number>> {
  return Array.from({ length: parallelism }, (_, i) => {
    const reader = source(count).createReader({ jobName: 'j', uid: 'gen', subtaskIndex: i, parallelism, clock: new ManualClock(0), log: () => {} });
    if (positions?.[i] !== undefined) reader.restorePosition!(positions[i]);
    reader.open?.();
    return reader;
  });
}

/** Polls `reader` for up to `n` records (in polls of at most 7). */
function read(reader: SourceReader<number>, n: number, into: number[]): void {
  while (n > 0) {
    const before = into.length;
    const more = reader.pollNext({ collect: (v) => into.push(v) }, Math.min(n, 7)) as boolean;
    n -= into.length - before;
    if (!more || into.length === before) return;
  }
}

/** What subtask i of p restores after a rescale from the given positions (through the restore assignment). */
function rescaled(positions: unknown[], p: number): unknown[] {
  const old = positions.map((source, index) => ({ index, file: { operators: {}, watermark: 0, source } as TaskSnapshotFile }));
  return Array.from({ length: p }, (_, i) => assignRestoredState({ checkpointId: 1, operatorUids: ['gen'], subtaskIndex: i, parallelism: p, old })!.file!.source);
}

describe('generator source splits', () => {
  it('reads every index exactly once across rescales p1 -> p2 -> p3, whatever was read before each', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.nat(60), { minLength: 16, maxLength: 16 }),
        (count, p1, p2, p3, amounts) => {
          const seen: number[] = [];
          let positions: unknown[] | undefined;
          let step = 0;
          for (const p of [p1, p2, p3]) {
            const rs = readers(count, p, positions === undefined ? undefined : rescaled(positions, p));
            for (const r of rs) read(r, amounts[step++ % amounts.length], seen);
            positions = rs.map((r) => r.snapshotPosition!());
          }
          // The last parallelism reads everything left.
          for (const r of readers(count, p3, positions)) read(r, Number.MAX_SAFE_INTEGER, seen);
          expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
        },
      ),
    );
  });

  it('leaves a reader without splits idle and ended after scaling past the number of splits', () => {
    const positions = readers(10, 2).map((r) => r.snapshotPosition!());
    const up = rescaled(positions, 3);
    expect(up).toEqual([{ splits: [{ next: 0, step: 2 }] }, { splits: [{ next: 1, step: 2 }] }, { splits: [] }]);
    const idle = readers(10, 3, up)[2];
    expect(idle.pollNext({ collect: () => {} }, 10)).toBe(false);
  });
});
