// Canonical snapshots on the disk backend: a savepoint leaves the incremental chain alone, lists
// and maps larger than one scan chunk keep their order, heap checkpoints restore too, map state
// with a key serializer only its descriptor has waits as payloads until claimed, and restores
// that cannot finish say why.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileCheckpointStorage } from '../../../../src/checkpoint/files/file-checkpoint-storage.js';
import { ManualClock } from '../../../../src/core/clock.js';
import { assignToKeyGroup, computeKeyGroupRangeForOperatorIndex, KeyGroupRange } from '../../../../src/core/key-groups.js';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../../../src/state/descriptors.js';
import { DiskStateBackend } from '../../../../src/state/disk/disk-state-backend.js';
import { HeapStateBackend } from '../../../../src/state/heap/heap-state-backend.js';
import { concatChunks, type KeyedSnapshotResult, restoredFromBytes } from '../../../../src/state/keyed-snapshot.js';
import type { KeyedStateBackend } from '../../../../src/state/keyed-state-backend.js';
import type { TypeSerializer } from '../../../../src/state/serde/type-serializer.js';

const root = mkdtempSync(join(tmpdir(), 'floe-disk-canonical-'));
const open: KeyedStateBackend[] = [];
let n = 0;
afterAll(async () => {
  await Promise.all(open.map((b) => b.dispose()));
  rmSync(root, { recursive: true, force: true });
});

function options(range = KeyGroupRange.of(0, 31), subtask = 0, parallelism = 1) {
  return { operator: 'op', job: 'canonical', subtask, parallelism, maxParallelism: 32, keyGroupRange: range, ttlClock: new ManualClock(0) };
}

function disk(range?: KeyGroupRange, subtask = 0, parallelism = 1): KeyedStateBackend {
  const b = new DiskStateBackend({ dir: join(root, `state-${n++}`) }).createKeyedStateBackend(options(range, subtask, parallelism));
  open.push(b);
  return b;
}

function heap(): KeyedStateBackend {
  return new HeapStateBackend().createKeyedStateBackend(options());
}

const restored = (s: KeyedSnapshotResult) => restoredFromBytes(s.meta, concatChunks(s.data));
const canonical = (b: KeyedStateBackend, id = 1) => b.snapshot({ checkpointId: id, canonical: true }).write();

const count = new ValueStateDescriptor<number>('count');
/** A key serializer no backend knows by its identity (user keys are lower-case words). */
const upperKeys: TypeSerializer<string> = {
  id: 'upper-keys',
  version: 1,
  serialize: (k) => Buffer.from(k.toUpperCase()),
  deserialize: (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString().toLowerCase(),
};
const tags = new MapStateDescriptor<string, number>('tags', { keySerializer: upperKeys });

function writeTags(b: KeyedStateBackend): void {
  const m = b.getMapState(tags);
  for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
    b.setCurrentKey(key);
    m.put(`x${key}`, 1);
    m.put('shared', key.charCodeAt(0));
  }
}

function tagsOf(b: KeyedStateBackend): Array<[unknown, Array<[unknown, unknown]>]> {
  b.getMapState(tags);
  return b
    .entries('tags')
    .map((e) => [e.key, [...(e.value as Map<unknown, unknown>)].sort()] as [unknown, Array<[unknown, unknown]>])
    .sort((x, y) => String(x[0]).localeCompare(String(y[0])));
}

describe('disk backend canonical snapshots', () => {
  it('leave the incremental chain alone: the next checkpoint is still a delta, and both restore exactly', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const shared = { put: (path: string, file: { name: string; size: number; sha256: string }) => storage.putShared(path, file) };
    const source = disk();
    const c = source.getState(count);
    const writeAll = (v: number) => {
      for (let i = 0; i < 300; i++) {
        source.setCurrentKey(`k${i}`);
        c.update(v + i);
      }
    };
    writeAll(0);
    const first = await source.snapshot({ checkpointId: 1, shared }).write();
    expect(first.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization']);
    writeAll(1000);
    const runner = source.snapshot({ checkpointId: 2, canonical: true });
    writeAll(2000); // after its barrier
    const savepoint = await runner.write();
    const second = await source.snapshot({ checkpointId: 3, shared }).write();
    expect(second.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization', 'changelog']);
    expect(second.meta.disk!.chain[0].name).toBe(first.meta.disk!.chain[0].name);

    const fromSavepoint = disk();
    await fromSavepoint.restore([restored(savepoint)]);
    const fromChain = disk();
    const chain = restored(second);
    chain.resolveFile = (name) => storage.pathOf(3, name);
    await fromChain.restore([chain]);
    const values = (b: KeyedStateBackend) => {
      const v = b.getState(count);
      return [0, 150, 299].map((i) => {
        b.setCurrentKey(`k${i}`);
        return v.value();
      });
    };
    expect(values(fromSavepoint)).toEqual([1000, 1150, 1299]);
    expect(values(fromChain)).toEqual([2000, 2150, 2299]);
  });

  it('decline when released while written, and let the backend close', async () => {
    const source = disk();
    const c = source.getState(count);
    for (let i = 0; i < 100_000; i++) {
      source.setCurrentKey(i);
      c.update(i);
    }
    const runner = source.snapshot({ checkpointId: 1, canonical: true });
    const writing = runner.write();
    let turns = 0;
    // records keep flowing between the chunks of the write; release it after a few turns
    while (turns < 3) {
      await new Promise((resolve) => setImmediate(resolve));
      source.setCurrentKey(turns);
      c.update(-1);
      turns++;
    }
    runner.release();
    await expect(writing).rejects.toMatchObject({ code: 'CHECKPOINT_DECLINED' });
    await source.dispose();
  });

  it('keep the order of a list and a map larger than one scan chunk, between other keys', async () => {
    const source = disk();
    const list = source.getListState(new ListStateDescriptor<number>('list'));
    const map = source.getMapState(new MapStateDescriptor<number, string>('map'));
    for (const key of ['before', 'big', 'after']) {
      source.setCurrentKey(key);
      const size = key === 'big' ? 10_000 : 3;
      list.addAll(Array.from({ length: size }, (_, i) => size - i));
      for (let i = 0; i < size; i++) map.put(i, `v${i}`);
    }
    const savepoint = await canonical(source);
    for (const target of [disk(), heap()]) {
      await target.restore([restored(savepoint)]);
      const l = target.getListState(new ListStateDescriptor<number>('list'));
      const m = target.getMapState(new MapStateDescriptor<number, string>('map'));
      target.setCurrentKey('big');
      expect(l.get()).toEqual(Array.from({ length: 10_000 }, (_, i) => 10_000 - i));
      expect(m.get(9_999)).toBe('v9999');
      expect([...m.keys()].length).toBe(10_000);
      target.setCurrentKey('after');
      expect(l.get()).toEqual([3, 2, 1]);
    }
  });

  it('restore heap checkpoints too (the same blocks)', async () => {
    const source = heap();
    const c = source.getState(count);
    source.setCurrentKey(['tenant', 7]);
    c.update(42);
    const checkpoint = await source.snapshot({ checkpointId: 1 }).write();
    expect(checkpoint.meta.backend).toBe('heap');
    const target = disk();
    await target.restore([restored(checkpoint)]);
    target.setCurrentKey(['tenant', 7]);
    expect(target.getState(count).value()).toBe(42);
  });

  it('keep map state whose key serializer only its descriptor has as payloads until it is claimed, through savepoints and checkpoints', async () => {
    const source = heap();
    writeTags(source);
    const expected = tagsOf(source);
    // restored unclaimed, then a savepoint of that: the payloads are written as they were read
    const idle = disk();
    await idle.restore([restored(await canonical(source))]);
    const again = await canonical(idle, 2);
    const back = heap();
    await back.restore([restored(again)]);
    expect(tagsOf(back)).toEqual(expected);
    // restored unclaimed, then the disk backend's own checkpoint, restored at parallelism 2 and claimed there
    const checkpoint = await idle.snapshot({ checkpointId: 3 }).write();
    const halves = [0, 1].map((i) => disk(computeKeyGroupRangeForOperatorIndex(32, 2, i), i, 2));
    for (const half of halves) await half.restore([restored(checkpoint)]);
    const rows = halves.flatMap((h) => tagsOf(h)).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    expect(rows).toEqual(expected);
    const owner = halves.find((h) => h.keyGroupRange.contains(assignToKeyGroup('a', 32)))!;
    owner.setCurrentKey('a');
    expect(owner.getMapState(tags).get('shared')).toBe(97);
  });

  it('refuse a savepoint of map state it restored from its own checkpoint but nobody claimed, when only the descriptor has the key serializer', async () => {
    const source = disk();
    writeTags(source);
    const checkpoint = await source.snapshot({ checkpointId: 1 }).write();
    const idle = disk();
    await idle.restore([restored(checkpoint)]);
    await expect(canonical(idle, 2)).rejects.toThrow(/key serializer upper-keys@1.*register this state/);
    idle.getMapState(tags); // claimed: the descriptor has it
    const savepoint = await canonical(idle, 3);
    const target = heap();
    await target.restore([restored(savepoint)]);
    expect(tagsOf(target)).toEqual(tagsOf(source));
  });

  it('refuse a key longer than the disk backend takes, naming it', async () => {
    const source = heap();
    source.setCurrentKey('x'.repeat(2000));
    source.getState(count).update(1);
    const target = disk();
    await expect(target.restore([restored(await canonical(source))])).rejects.toMatchObject({ code: 'INVALID_KEY', message: expect.stringMatching(/2001 bytes.*up to 1024/) });
  });

  it('stop a restore when the backend is disposed meanwhile, and close cleanly', async () => {
    const source = heap();
    const c = source.getState(count);
    for (let i = 0; i < 200_000; i++) {
      source.setCurrentKey(i);
      c.update(i);
    }
    const savepoint = await canonical(source);
    const target = new DiskStateBackend({ dir: join(root, `state-${n++}`) }).createKeyedStateBackend(options());
    const restoring = target.restore([restored(savepoint)]);
    await new Promise((resolve) => setImmediate(resolve));
    const disposing = target.dispose();
    await expect(restoring).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
    await disposing;
  });
});
