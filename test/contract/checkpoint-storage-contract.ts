// The contract every CheckpointStorage keeps (Flink's checkpoint storage tests, Style: one suite
// run against every implementation): a checkpoint exists only once complete, reads come back
// exactly and verified, damage is reported with the file's name, discarding keeps what another
// checkpoint still lists, and recovery sees attempts that never completed.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CheckpointStorage } from '../../src/checkpoint/checkpoint-storage.js';

export interface StorageUnderTest {
  storage: CheckpointStorage;
  /** Damages a stored file as a failing disk would. */
  damage(id: number, name: string, how: 'truncate' | 'corrupt' | 'delete'): void;
}

async function writeCheckpoint(storage: CheckpointStorage, id: number, files: Record<string, Uint8Array>, metadata: unknown = { id }, shared: string[] = []) {
  const writer = await storage.beginCheckpoint(id);
  const stored = [];
  for (const [name, bytes] of Object.entries(files)) stored.push(await writer.writeFile(name, bytes));
  for (const name of shared) stored.push({ name, size: 0, sha256: '' });
  await writer.complete(metadata, stored);
  return stored;
}

/** A local file put among the shared files (as the disk backend's snapshots do). */
async function putShared(storage: CheckpointStorage, name: string, content: string) {
  const local = join(mkdtempSync(join(tmpdir(), 'floe-shared-')), 'file');
  writeFileSync(local, content);
  return storage.putShared(local, { name, size: content.length, sha256: '' });
}

export function describeCheckpointStorageContract(name: string, create: () => StorageUnderTest): void {
  describe(`CheckpointStorage contract: ${name}`, () => {
    it('reads back exactly what was written, metadata and files (property)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.dictionary(fc.stringMatching(/^[a-z]{1,8}\.state$/), fc.uint8Array({ maxLength: 300 }), { maxKeys: 4 }), fc.jsonValue(), async (files, metadata) => {
          const { storage } = create();
          await writeCheckpoint(storage, 1, files, metadata);
          const envelope = await storage.readMetadata(1);
          expect(envelope.checkpointId).toBe(1);
          expect(envelope.metadata).toEqual(JSON.parse(JSON.stringify(metadata)));
          for (const f of envelope.files) expect(Buffer.from(await storage.readFile(1, f))).toEqual(Buffer.from(files[f.name]));
          expect(await storage.verify(1)).toEqual([]);
        }),
        { numRuns: 20 },
      );
    });

    it('lists a checkpoint only once it completed; an aborted one leaves nothing, a completed one cannot be aborted', async () => {
      const { storage } = create();
      await writeCheckpoint(storage, 3, { 'a.state': Buffer.from('x') });
      const inProgress = await storage.beginCheckpoint(4);
      await inProgress.writeFile('a.state', Buffer.from('z'));
      expect(await storage.listCompleted()).toEqual([3]);
      const listing = await storage.readListing({ verify: false });
      expect(listing.checkpoints.map((c) => [c.id, c.hasMetadata])).toEqual([[3, true], [4, false]]);
      expect(listing.lastCompletedId).toBe(3);
      await inProgress.abort();
      expect((await storage.readListing({ verify: false })).checkpoints.map((c) => c.id)).toEqual([3]);
      await expect(storage.readMetadata(4)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID' });
      const done = await storage.beginCheckpoint(5);
      await done.complete({}, []);
      await done.abort();
      expect(await storage.listCompleted()).toEqual([3, 5]);
      await expect(done.complete({}, [])).rejects.toThrow(/completed before/);
    });

    it('copies written bytes: a writer that reuses its buffer does not change the checkpoint', async () => {
      const { storage } = create();
      const buffer = Buffer.from('original');
      const writer = await storage.beginCheckpoint(1);
      const file = await writer.writeFile('a.state', buffer);
      buffer.write('changed!');
      await writer.complete({}, [file]);
      expect((await storage.readFile(1, file)).toString()).toBe('original');
    });

    it.each(['truncate', 'corrupt', 'delete'] as const)('reports a %sd file by name, in verify and in readFile', async (how) => {
      const t = create();
      const [file] = await writeCheckpoint(t.storage, 1, { 'task-0.state': Buffer.alloc(1000, 7) });
      t.damage(1, 'task-0.state', how);
      const problems = await t.storage.verify(1);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/task-0\.state/);
      await expect(t.storage.readFile(1, file)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID' });
    });

    it('discards a checkpoint but keeps shared files another completed checkpoint lists', async () => {
      const { storage } = create();
      await putShared(storage, 'shared/a', 'aaa');
      await putShared(storage, 'shared/b', 'bbb');
      await writeCheckpoint(storage, 1, { 'x.state': Buffer.from('1') }, {}, ['shared/a', 'shared/b']);
      await writeCheckpoint(storage, 2, { 'x.state': Buffer.from('2') }, {}, ['shared/b']);
      await storage.discard(1);
      expect(await storage.listCompleted()).toEqual([2]);
      // shared/b is still listed by checkpoint 2 and readable; shared/a went with checkpoint 1
      expect(readFileSync(storage.pathOf(2, 'shared/b'), 'utf8')).toBe('bbb');
      expect(await storage.removeUnreferenced([])).toEqual({ checkpoints: 0, sharedFiles: 0 });
    });

    it('removes given checkpoints and every shared file no remaining checkpoint lists', async () => {
      const { storage } = create();
      await putShared(storage, 'shared/kept', 'k');
      await putShared(storage, 'shared/orphan', 'o');
      await writeCheckpoint(storage, 1, { 'x.state': Buffer.from('1') }, {}, ['shared/kept']);
      await writeCheckpoint(storage, 2, { 'x.state': Buffer.from('2') }, {}, ['shared/kept']);
      const removed = await storage.removeUnreferenced([1]);
      expect(removed).toEqual({ checkpoints: 1, sharedFiles: 1 });
      expect(await storage.listCompleted()).toEqual([2]);
    });

    it('verifies newest first when asked, stopping at the first valid checkpoint', async () => {
      const t = create();
      await writeCheckpoint(t.storage, 1, { 'a.state': Buffer.from('1') });
      await writeCheckpoint(t.storage, 2, { 'a.state': Buffer.from('2') });
      await writeCheckpoint(t.storage, 3, { 'a.state': Buffer.from('3') });
      t.damage(3, 'a.state', 'corrupt');
      const listing = await t.storage.readListing({ verify: true });
      const byId = new Map(listing.checkpoints.map((c) => [c.id, c.problems]));
      expect(byId.get(3)).toHaveLength(1);
      expect(byId.get(2)).toEqual([]);
      expect(byId.get(1)).toBeUndefined();
    });
  });
}
