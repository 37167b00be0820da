// The canonical block format (heap checkpoints write it too): state and timer-queue indexes of any
// size survive a round trip, and blocks of the older one-byte format are still read.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { keyId } from '../../../../src/core/key-encoding.js';
import { KeyGroupRange } from '../../../../src/core/key-groups.js';
import { ValueStateDescriptor } from '../../../../src/state/descriptors.js';
import { BlockCursor, BlockWriter, readBlock } from '../../../../src/state/snapshot-format/block-codec.js';
import { HeapStateBackend } from '../../../../src/state/heap/heap-state-backend.js';
import { concatChunks, restoredFromBytes } from '../../../../src/state/keyed-snapshot.js';

const createBackend = () =>
  new HeapStateBackend().createKeyedStateBackend({
    operator: 'many-states',
    subtask: 0,
    parallelism: 1,
    maxParallelism: 16,
    keyGroupRange: KeyGroupRange.of(0, 15),
    ttlClock: new ManualClock(0),
  });

describe('snapshot blocks', () => {
  it('restore every one of 300 states of one operator to its own values', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `state-${i}`);
    const source = createBackend();
    const states = names.map((name) => source.getState(new ValueStateDescriptor<number | string>(name)));
    for (const key of ['a', 'b', 7]) {
      source.setCurrentKey(key);
      // number values take the block's fast path, strings the general one
      states.forEach((s, i) => s.update(i % 2 === 0 ? i : `${key}-${i}`));
      source.getTimerQueue('event-timers').add(1, '');
    }
    const result = await source.snapshot({ checkpointId: 1 }).write();
    const target = createBackend();
    await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
    const restored = names.map((name) => target.getState(new ValueStateDescriptor<number | string>(name)));
    for (const key of ['a', 'b', 7]) {
      target.setCurrentKey(key);
      expect(restored.map((s) => s.value())).toEqual(names.map((_, i) => (i % 2 === 0 ? i : `${key}-${i}`)));
    }
    expect(target.getTimerQueue('event-timers').size).toBe(3);
  });

  it('write indexes of 255 and more in five bytes and read them back', () => {
    const writer = new BlockWriter();
    writer.entry(254, '', 1, 1);
    writer.entry(255, '', 2, 2);
    writer.entry(70_000, 'w', 'k', { x: 1 });
    writer.timer(300, 5, '', 'k', 0);
    const block = readBlock(writer.finish());
    expect(block.entries).toEqual([
      [254, '', 1, 1],
      [255, '', 2, 2],
      [70_000, 'w', 'k', { x: 1 }],
    ]);
    expect(block.timers).toEqual([[300, 5, '', 'k', 0]]);
  });

  it('still read blocks of format 1, where every index is one byte', () => {
    const writer = new BlockWriter();
    writer.entry(3, '', 'k', 'v');
    writer.timer(1, 10, 'ns', 'k', 0);
    const block = readBlock(writer.finish(), 1);
    expect(block.entries).toEqual([[3, '', 'k', 'v']]);
    expect(block.timers).toEqual([[1, 10, 'ns', 'k', 0]]);
  });

  it('refuse a block cut inside a record, wherever it is cut, naming the record', () => {
    const writer = new BlockWriter();
    writer.entry(0, '', 1, 1);
    writer.entry(300, 'window', keyId(['k', 1]), { deep: [1, 2] });
    writer.timer(1, 10, 7, 'key', 3);
    const block = writer.finish();
    const ends = new Set<number>();
    for (let cursor = new BlockCursor(block); cursor.next(); ) ends.add((cursor as unknown as { pos: number }).pos);
    for (let cut = 1; cut < block.length; cut++) {
      if (ends.has(cut)) expect(() => readBlock(block.subarray(0, cut))).not.toThrow();
      else expect(() => readBlock(block.subarray(0, cut)), `cut at ${cut}`).toThrow(/truncated in the record at byte \d+/);
    }
    expect(() => readBlock(Uint8Array.of(9))).toThrow(/unknown record tag 9 in the record at byte 0/);
  });
});

