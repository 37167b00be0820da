// Incremental checkpoints of the disk backend against a real checkpoint storage: a checkpoint
// uploads only the change-log since the previous one, chains restore exactly, shared files are
// deleted only when no retained checkpoint lists them, and a corrupt file is named.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { KeyGroupRange, computeKeyGroupRangeForOperatorIndex } from '../../../../src/core/key-groups.js';
import { FileCheckpointStorage } from '../../../../src/checkpoint/files/file-checkpoint-storage.js';
import { ListStateDescriptor, ValueStateDescriptor } from '../../../../src/state/descriptors.js';
import { DiskStateBackend } from '../../../../src/state/disk/disk-state-backend.js';
import { restoredFromBytes, concatChunks, type KeyedSnapshotResult } from '../../../../src/state/keyed-snapshot.js';
import type { KeyedStateBackend } from '../../../../src/state/keyed-state-backend.js';

const root = mkdtempSync(join(tmpdir(), 'floe-disk-incr-'));
const open: KeyedStateBackend[] = [];
let n = 0;
afterAll(async () => {
  await Promise.all(open.map((b) => b.dispose()));
  rmSync(root, { recursive: true, force: true });
});

function backend(options: { range?: KeyGroupRange; materializeEvery?: number; incremental?: boolean } = {}) {
  const b = new DiskStateBackend({ dir: join(root, `state-${n++}`), materializeEvery: options.materializeEvery, incremental: options.incremental }).createKeyedStateBackend({
    operator: 'counter',
    job: 'incr',
    subtask: 0,
    parallelism: 1,
    maxParallelism: 32,
    keyGroupRange: options.range ?? KeyGroupRange.of(0, 31),
    ttlClock: new ManualClock(0),
  });
  open.push(b);
  return b;
}

const count = new ValueStateDescriptor<number>('count');
const seen = new ListStateDescriptor<string>('seen');

function write(b: KeyedStateBackend, keys: number, value: (i: number) => number) {
  const c = b.getState(count);
  const l = b.getListState(seen);
  for (let i = 0; i < keys; i++) {
    b.setCurrentKey(`key-${i}`);
    c.update(value(i));
    if (i % 10 === 0) l.add(`v${value(i)}`);
  }
}

function dump(b: KeyedStateBackend) {
  b.getState(count);
  b.getListState(seen);
  const sort = (name: string) => b.entries(name).map((e) => [e.key, e.value]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
  return { count: sort('count'), seen: sort('seen') };
}

async function checkpoint(storage: FileCheckpointStorage, b: KeyedStateBackend, id: number): Promise<KeyedSnapshotResult> {
  const writer = await storage.beginCheckpoint(id);
  const result = await b.snapshot({ checkpointId: id, shared: { put: (path, file) => storage.putShared(path, file) } }).write();
  const own = await writer.writeFile('task.state', result.data);
  await writer.complete({ meta: result.meta, own }, [own, ...(result.sharedFiles ?? [])]);
  return result;
}

async function restoreFrom(storage: FileCheckpointStorage, id: number, target: KeyedStateBackend) {
  const envelope = await storage.readMetadata(id);
  const { meta, own } = envelope.metadata;
  const restored = restoredFromBytes(meta, concatChunks([await storage.readFile(id, own)]));
  restored.resolveFile = (name) => storage.pathOf(id, name);
  await target.restore([restored]);
}

describe('disk backend incremental checkpoints', () => {
  it('uploads only the changes since the previous checkpoint and restores the chain exactly', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const source = backend();
    write(source, 5000, (i) => i);
    const full = await checkpoint(storage, source, 1);
    expect(full.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization']);
    write(source, 50, (i) => i + 1000); // 1% of the keys change
    const delta = await checkpoint(storage, source, 2);
    expect(delta.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization', 'changelog']);
    expect(delta.incrementalBytes! / full.incrementalBytes!).toBeLessThan(0.05);
    const target = backend();
    await restoreFrom(storage, 2, target);
    expect(dump(target)).toEqual(dump(source));
  });

  it('continues a restored chain incrementally and keeps deletes', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const a = backend();
    write(a, 300, (i) => i);
    await checkpoint(storage, a, 1);
    const b = backend();
    await restoreFrom(storage, 1, b);
    const c = b.getState(count);
    for (let i = 0; i < 100; i++) {
      b.setCurrentKey(`key-${i}`);
      c.clear();
    }
    const next = await checkpoint(storage, b, 2);
    expect(next.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization', 'changelog']);
    const d = backend();
    await restoreFrom(storage, 2, d);
    expect(dump(d)).toEqual(dump(b));
    expect(dump(d).count).toHaveLength(200);
  });

  it('materializes again after materializeEvery incremental checkpoints, and always in full mode', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const b = backend({ materializeEvery: 2 });
    const kinds: string[][] = [];
    for (let id = 1; id <= 4; id++) {
      write(b, id === 1 ? 100 : 10, (i) => i * id);
      kinds.push((await checkpoint(storage, b, id)).meta.disk!.chain.map((f) => f.kind));
    }
    expect(kinds).toEqual([['materialization'], ['materialization', 'changelog'], ['materialization', 'changelog', 'changelog'], ['materialization']]);
    const fullStorage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const f = backend({ incremental: false });
    write(f, 10, (i) => i);
    await checkpoint(fullStorage, f, 1);
    write(f, 10, (i) => i + 1);
    expect((await checkpoint(fullStorage, f, 2)).meta.disk!.chain.map((x) => x.kind)).toEqual(['materialization']);
  });

  it('drops a change log that outgrew its materialization and materializes next (bounded local disk without checkpoints)', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const b = backend();
    write(b, 100, (i) => i);
    await checkpoint(storage, b, 1);
    const v = b.getState(new ValueStateDescriptor<string>('blob'));
    for (let i = 0; i < 3000; i++) {
      b.setCurrentKey(`key-${i % 50}`);
      v.update('x'.repeat(1000)); // ~3 MB of changes to 50 keys
    }
    const dir = (b as unknown as { config: { dir: string } }).config.dir;
    const logBytes = readdirSync(dir).filter((f) => f.startsWith('changelog-')).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    expect(logBytes).toBeLessThan(2 << 20);
    const next = await checkpoint(storage, b, 2);
    expect(next.meta.disk!.chain.map((f) => f.kind)).toEqual(['materialization']);
    const target = backend();
    await restoreFrom(storage, 2, target);
    target.getState(new ValueStateDescriptor<string>('blob'));
    expect(target.entries('blob')).toHaveLength(50);
    expect(dump(target)).toEqual(dump(b));
  });

  it('deletes a shared file only when no remaining checkpoint lists it', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const b = backend({ materializeEvery: 1 });
    write(b, 100, (i) => i);
    const r1 = await checkpoint(storage, b, 1);
    write(b, 10, (i) => i + 7);
    const r2 = await checkpoint(storage, b, 2);
    write(b, 10, (i) => i + 9);
    await checkpoint(storage, b, 3); // materializes again
    const base = r1.meta.disk!.chain[0].name;
    const delta2 = r2.meta.disk!.chain[1].name;
    await storage.discard(1);
    expect(existsSync(join(storage.directory, base))).toBe(true); // checkpoint 2 still lists it
    await storage.discard(2);
    expect(existsSync(join(storage.directory, base))).toBe(false);
    expect(existsSync(join(storage.directory, delta2))).toBe(false);
    const target = backend();
    await restoreFrom(storage, 3, target);
    expect(dump(target)).toEqual(dump(b));
  });

  it('restores a chain into two subtasks, each keeping only its key groups', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const source = backend();
    write(source, 400, (i) => i);
    await checkpoint(storage, source, 1);
    write(source, 40, (i) => -i);
    await checkpoint(storage, source, 2);
    const parts = [0, 1].map((i) => backend({ range: computeKeyGroupRangeForOperatorIndex(32, 2, i) }));
    for (const p of parts) await restoreFrom(storage, 2, p);
    const merged = parts.map(dump);
    const all = dump(source);
    expect([...merged[0].count, ...merged[1].count].sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual(all.count);
    expect(merged[0].count.length).toBeGreaterThan(0);
    expect(merged[1].count.length).toBeGreaterThan(0);
  });

  it('a rescaled restore reads only its key groups of a large materialization (the index), and reports what it loaded', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const source = backend();
    const text = new ValueStateDescriptor<string>('text');
    const t = source.getState(text);
    for (let i = 0; i < 12_000; i++) {
      source.setCurrentKey(`key-${i}`);
      t.update(`${i}:`.padEnd(500, 'x'));
    }
    write(source, 400, (i) => i);
    await checkpoint(storage, source, 1);
    write(source, 40, (i) => -i);
    const cp = await checkpoint(storage, source, 2);
    const [materialization, changelog] = cp.meta.disk!.chain;
    expect(materialization.index!.points.length).toBeGreaterThan(4);
    const parts = [0, 1, 2, 3].map((i) => backend({ range: computeKeyGroupRangeForOperatorIndex(32, 4, i) }));
    for (const p of parts) await restoreFrom(storage, 2, p);
    for (const p of parts) {
      const { bytes, entries } = p.restoreProgress!();
      // A quarter of the file and at most a stride (1 MiB) too much at each end, plus the whole change log.
      expect(bytes).toBeLessThan(materialization.size / 4 + 2 * (1 << 20) + changelog.size + 1024);
      expect(entries).toBeGreaterThan(0);
    }
    const texts = parts.flatMap((p) => {
      p.getState(text);
      return p.entries('text').map((e) => [e.key, e.value]);
    });
    source.getState(text);
    const sort = (rows: unknown[][]) => rows.sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    expect(sort(texts)).toEqual(sort(source.entries('text').map((e) => [e.key, e.value])));
    const counts = parts.flatMap((p) => dump(p).count);
    expect(sort(counts)).toEqual(dump(source).count);
  });

  it('names a corrupt change-log file, and storage verification refuses the checkpoint', async () => {
    const storage = new FileCheckpointStorage(join(root, `chk-${n++}`));
    const b = backend();
    write(b, 100, (i) => i);
    await checkpoint(storage, b, 1);
    write(b, 10, (i) => i + 1);
    const r = await checkpoint(storage, b, 2);
    const delta = join(storage.directory, r.meta.disk!.chain[1].name);
    const bytes = readFileSync(delta);
    bytes[20] ^= 0xff;
    writeFileSync(delta, bytes);
    const problems = await storage.verify(2);
    expect(problems.join('\n')).toContain(r.meta.disk!.chain[1].name);
    expect(await storage.verify(1)).toEqual([]);
  });
});
