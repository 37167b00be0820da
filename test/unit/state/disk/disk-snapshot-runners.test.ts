// Snapshot runners of the disk backend that wait, overlap or are cut short: a delta written after
// the change log outgrew its limit still carries every change up to its barrier, a delta whose
// segment is gone is declined (never acknowledged short), and disposing waits for the writers.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { KeyGroupRange } from '../../../../src/core/key-groups.js';
import { FileCheckpointStorage } from '../../../../src/checkpoint/files/file-checkpoint-storage.js';
import { ValueStateDescriptor } from '../../../../src/state/descriptors.js';
import { DiskStateBackend } from '../../../../src/state/disk/disk-state-backend.js';
import { concatChunks, restoredFromBytes, type KeyedSnapshotResult, type KeyedSnapshotRunner } from '../../../../src/state/keyed-snapshot.js';
import type { KeyedStateBackend, SharedStateStore } from '../../../../src/state/keyed-state-backend.js';

const root = mkdtempSync(join(tmpdir(), 'floe-disk-runners-'));
const open: KeyedStateBackend[] = [];
let n = 0;
afterAll(async () => {
  await Promise.all(open.map((b) => b.dispose()));
  rmSync(root, { recursive: true, force: true });
});

function backend(): KeyedStateBackend {
  const b = new DiskStateBackend({ dir: join(root, `state-${n++}`) }).createKeyedStateBackend({
    operator: 'counter',
    job: 'runners',
    subtask: 0,
    parallelism: 1,
    maxParallelism: 32,
    keyGroupRange: KeyGroupRange.of(0, 31),
    ttlClock: new ManualClock(0),
  });
  open.push(b);
  return b;
}

const count = new ValueStateDescriptor<number>('count');
const blob = new ValueStateDescriptor<string>('blob');

function write(b: KeyedStateBackend, keys: number, value: (i: number) => number): void {
  const c = b.getState(count);
  for (let i = 0; i < keys; i++) {
    b.setCurrentKey(`key-${i}`);
    c.update(value(i));
  }
}

/** About 3 MB of changes: more than the change log may hold on top of a small materialization. */
function outgrowTheLog(b: KeyedStateBackend): void {
  const v = b.getState(blob);
  for (let i = 0; i < 3000; i++) {
    b.setCurrentKey(`blob-${i % 50}`);
    v.update('x'.repeat(1000));
  }
}

function counts(b: KeyedStateBackend): Array<[unknown, unknown]> {
  b.getState(count);
  return b
    .entries('count')
    .map((e): [unknown, unknown] => [e.key, e.value])
    .sort((x, y) => String(x[0]).localeCompare(String(y[0])));
}

function localChangeLogs(b: KeyedStateBackend): string[] {
  const dir = (b as unknown as { config: { dir: string } }).config.dir;
  return readdirSync(dir)
    .filter((f) => f.startsWith('changelog-'))
    .map((f) => join(dir, f));
}

const sharedOf = (storage: FileCheckpointStorage): SharedStateStore => ({ put: (path, file) => storage.putShared(path, file) });

async function complete(storage: FileCheckpointStorage, id: number, result: KeyedSnapshotResult): Promise<void> {
  const writer = await storage.beginCheckpoint(id);
  const own = await writer.writeFile('task.state', result.data);
  await writer.complete({ meta: result.meta, own }, [own, ...(result.sharedFiles ?? [])]);
}

async function checkpoint(storage: FileCheckpointStorage, b: KeyedStateBackend, id: number): Promise<KeyedSnapshotResult> {
  const result = await b.snapshot({ checkpointId: id, shared: sharedOf(storage) }).write();
  await complete(storage, id, result);
  return result;
}

/** A fresh backend with 100 counts and checkpoint 1 of them in a fresh storage: where most tests here start. */
async function checkpointedOnce(): Promise<{ storage: FileCheckpointStorage; b: KeyedStateBackend }> {
  const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
  const b = backend();
  write(b, 100, (i) => i);
  await checkpoint(storage, b, 1);
  return { storage, b };
}

async function restoreFrom(storage: FileCheckpointStorage, id: number): Promise<KeyedStateBackend> {
  const envelope = await storage.readMetadata(id);
  const { meta, own } = envelope.metadata;
  const restored = restoredFromBytes(meta, concatChunks([await storage.readFile(id, own)]));
  restored.resolveFile = (name) => storage.pathOf(id, name);
  const target = backend();
  await target.restore([restored]);
  return target;
}

describe('disk backend snapshot runners', () => {
  it('writes every change up to its barrier into a delta written after the change log outgrew its limit', async () => {
    const { storage, b } = await checkpointedOnce();
    write(b, 10, (i) => i + 500);
    const runner = b.snapshot({ checkpointId: 2, shared: sharedOf(storage) });
    const atBarrier = counts(b);
    outgrowTheLog(b); // while checkpoint 2 waits for its turn to be written
    const result = await runner.write();
    expect(result.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization', 'changelog']);
    await complete(storage, 2, result);
    expect(counts(await restoreFrom(storage, 2))).toEqual(atBarrier);
  });

  it('keeps the segments of two checkpoints in flight when the log outgrows, and each restores its own barrier', async () => {
    const { storage, b } = await checkpointedOnce();
    write(b, 10, (i) => i + 200);
    const second = b.snapshot({ checkpointId: 2, shared: sharedOf(storage) });
    const atSecond = counts(b);
    write(b, 20, (i) => i + 300);
    const third = b.snapshot({ checkpointId: 3, shared: sharedOf(storage) });
    const atThird = counts(b);
    outgrowTheLog(b);
    const [r2, r3] = await Promise.all([second.write(), third.write()]);
    await complete(storage, 2, r2);
    await complete(storage, 3, r3);
    expect(counts(await restoreFrom(storage, 2))).toEqual(atSecond);
    expect(counts(await restoreFrom(storage, 3))).toEqual(atThird);
    // The change log was dropped after checkpoint 3's barrier: the next checkpoint materializes.
    write(b, 5, (i) => i + 400);
    const fourth = await checkpoint(storage, b, 4);
    expect(fourth.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization']);
    expect(counts(await restoreFrom(storage, 4))).toEqual(counts(b));
  });

  it('declines a delta whose change-log segment is gone, and the next checkpoint materializes everything', async () => {
    const { storage, b } = await checkpointedOnce();
    write(b, 10, (i) => i + 500);
    const runner = b.snapshot({ checkpointId: 2, shared: sharedOf(storage) });
    const sealed = localChangeLogs(b);
    for (const path of sealed) rmSync(path); // the sealed segment (and the open one) vanish
    await expect(runner.write()).rejects.toMatchObject({ code: 'CHECKPOINT_DECLINED', message: expect.stringContaining('checkpoint 2') });
    runner.release();
    const next = await checkpoint(storage, b, 3);
    expect(next.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization']);
    expect(counts(await restoreFrom(storage, 3))).toEqual(counts(b));
  });

  it('declines a delta written after the materialization of a later checkpoint, instead of acknowledging later state', async () => {
    const { storage, b } = await checkpointedOnce();
    write(b, 10, (i) => i + 500);
    const early = b.snapshot({ checkpointId: 2, shared: sharedOf(storage) });
    outgrowTheLog(b);
    const late = b.snapshot({ checkpointId: 3, shared: sharedOf(storage) }); // materializes: the log was dropped
    await complete(storage, 3, await late.write());
    await expect(early.write()).rejects.toMatchObject({ code: 'CHECKPOINT_DECLINED' });
    expect(counts(await restoreFrom(storage, 3))).toEqual(counts(b));
  });

  it('removes the sealed segments of an aborted checkpoint once no checkpoint can use them', async () => {
    const { storage, b } = await checkpointedOnce();
    write(b, 10, (i) => i + 500);
    const aborted = b.snapshot({ checkpointId: 2, shared: sharedOf(storage) });
    outgrowTheLog(b);
    expect(localChangeLogs(b)).toHaveLength(1); // checkpoint 2 may still be written
    aborted.release();
    expect(localChangeLogs(b)).toHaveLength(0);
    await expect(aborted.write()).rejects.toMatchObject({ code: 'CHECKPOINT_DECLINED' });
  });
});

describe('disk backend snapshot runners in any order (property)', () => {
  type Op = { kind: 'write'; keys: number } | { kind: 'take' } | { kind: 'write-runner'; pick: number } | { kind: 'release'; pick: number } | { kind: 'outgrow' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), keys: fc.integer({ min: 1, max: 40 }) }),
    fc.constant({ kind: 'take' as const }),
    fc.record({ kind: fc.constant('write-runner' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    fc.constant({ kind: 'outgrow' as const }),
  );

  it('acknowledges a checkpoint only with exactly the state at its barrier, whatever the log and the runners do, and leaves no segment behind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
        const b = backend();
        let id = 0;
        let round = 0;
        const open: Array<{ id: number; runner: KeyedSnapshotRunner; atBarrier: Array<[unknown, unknown]> }> = [];
        const acknowledged: Array<{ id: number; atBarrier: Array<[unknown, unknown]> }> = [];
        const writeRunner = async (at: number) => {
          const [taken] = open.splice(at, 1);
          try {
            const result = await taken.runner.write();
            await complete(storage, taken.id, result);
            acknowledged.push(taken);
          } catch (error) {
            expect((error as { code?: string }).code).toBe('CHECKPOINT_DECLINED');
          }
        };
        write(b, 50, (i) => i);
        await complete(storage, ++id, await b.snapshot({ checkpointId: id, shared: sharedOf(storage) }).write());
        for (const o of ops) {
          if (o.kind === 'write') {
            round++;
            write(b, o.keys, (i) => i * 1000 + round);
          } else if (o.kind === 'take') {
            id++;
            open.push({ id, runner: b.snapshot({ checkpointId: id, shared: sharedOf(storage) }), atBarrier: counts(b) });
          } else if (o.kind === 'outgrow') outgrowTheLog(b);
          else if (open.length > 0 && o.kind === 'write-runner') await writeRunner(o.pick % open.length);
          else if (open.length > 0 && o.kind === 'release') open.splice(o.pick % open.length, 1)[0].runner.release();
        }
        while (open.length > 0) await writeRunner(0);
        // With no runner left, the next checkpoint succeeds and only the open segment stays on local disk.
        const last = id + 1;
        acknowledged.push({ id: last, atBarrier: counts(b) });
        await complete(storage, last, await b.snapshot({ checkpointId: last, shared: sharedOf(storage) }).write());
        expect(localChangeLogs(b)).toHaveLength(1);
        for (const { id: ack, atBarrier } of acknowledged) expect(counts(await restoreFrom(storage, ack))).toEqual(atBarrier);
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});

describe('disposing the disk backend', () => {
  function large(): KeyedStateBackend {
    const b = backend();
    write(b, 60_000, (i) => i);
    return b;
  }

  it('stops a materialization being written, waits for it, and then closes the store', async () => {
    const b = large();
    const runner: KeyedSnapshotRunner = b.snapshot({ checkpointId: 1 });
    const written = runner.write();
    written.catch(() => {});
    await Promise.resolve();
    await b.dispose();
    await expect(written).rejects.toMatchObject({ code: 'CHECKPOINT_DECLINED', message: expect.stringContaining('closed') });
  });

  it('releases the read view of a snapshot that was taken but never written', async () => {
    const b = large();
    const runner = b.snapshot({ checkpointId: 1 });
    await b.dispose();
    await expect(runner.write()).rejects.toMatchObject({ code: 'CHECKPOINT_DECLINED' });
  });
});

describe('disposing the disk backend during a restore', () => {
  it('stops the restore at its next chunk and closes the store after it', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const source = backend();
    write(source, 60_000, (i) => i);
    await checkpoint(storage, source, 1);
    const envelope = await storage.readMetadata(1);
    const { meta, own } = envelope.metadata;
    const restored = restoredFromBytes(meta, concatChunks([await storage.readFile(1, own)]));
    restored.resolveFile = (name) => storage.pathOf(1, name);
    const target = backend();
    const restoring = Promise.resolve(target.restore([restored]));
    restoring.catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    await target.dispose();
    await expect(restoring).rejects.toMatchObject({ code: 'JOB_CANCELLED', message: expect.stringContaining('closed while') });
  });
});
