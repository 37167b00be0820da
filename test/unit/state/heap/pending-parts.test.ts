// The pending set behind lazy timer snapshots: a part is encoded once per running snapshot, before
// the first touch after its barrier; finished or released snapshots stop counting, and a late read
// by a released snapshot does not corrupt what the next snapshot sees.
import { describe, expect, it } from 'vitest';
import { PendingParts } from '../../../../src/state/heap/pending-parts.js';

describe('pending parts', () => {
  it('has each running snapshot encode a part once, before the first touch after its barrier', () => {
    const pending = new PendingParts(4);
    const a: number[] = [];
    const b: number[] = [];
    const encodeA = (i: number) => {
      if (!a.includes(i)) {
        a.push(i);
        pending.done(i);
      }
    };
    const encodeB = (i: number) => {
      if (!b.includes(i)) {
        b.push(i);
        pending.done(i);
      }
    };
    expect(pending.active).toBe(false);
    pending.start(encodeA);
    pending.touch(2);
    pending.touch(2);
    pending.start(encodeB);
    pending.touch(2); // A wrote it already; B has not
    pending.touch(3);
    expect(a).toEqual([2, 3]);
    expect(b).toEqual([2, 3]);
    pending.stop(encodeA, [0, 1]);
    pending.touch(0);
    expect(a).toEqual([2, 3]);
    expect(b).toEqual([2, 3, 0]);
    pending.stop(encodeB, [1]);
    expect(pending.active).toBe(false);
    pending.touch(1);
    expect(b).toEqual([2, 3, 0]);
  });

  it('ignores a part outside the range, and a late done() after a release does not hide a part from the next snapshot', () => {
    const pending = new PendingParts(2);
    const seen: number[] = [];
    const first = () => {};
    pending.start(first);
    pending.stop(first, [0, 1]);
    pending.done(0); // late, from the released snapshot
    const next = (i: number) => {
      seen.push(i);
      pending.done(i);
    };
    pending.start(next);
    pending.touch(-1);
    pending.touch(5);
    pending.touch(0);
    expect(seen).toEqual([0]);
  });
});
