import { readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileCheckpointStorage } from '../../../../src/checkpoint/files/file-checkpoint-storage.js';

const fresh = () => new FileCheckpointStorage(mkdtempSync(join(tmpdir(), 'floe-storage-')));

async function writeCheckpoint(storage: FileCheckpointStorage, id: number, files: Record<string, Uint8Array>, metadata: unknown = { id }) {
  const writer = await storage.beginCheckpoint(id);
  const stored = [];
  for (const [name, bytes] of Object.entries(files)) stored.push(await writer.writeFile(name, bytes));
  await writer.complete(metadata, stored);
  return stored;
}

describe('FileCheckpointStorage', () => {
  it('reads back exactly what was written (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.stringMatching(/^[a-z]{1,8}\.state$/), fc.uint8Array({ maxLength: 300 }), { maxKeys: 4 }), fc.jsonValue(), async (files, metadata) => {
        const storage = fresh();
        await writeCheckpoint(storage, 1, files, metadata);
        const envelope = await storage.readMetadata(1);
        expect(envelope.metadata).toEqual(JSON.parse(JSON.stringify(metadata)));
        for (const f of envelope.files) expect(Buffer.from(await storage.readFile(1, f))).toEqual(Buffer.from(files[f.name]));
      }),
      { numRuns: 30 },
    );
  });

  it('ends every data file with the sha256 of its content, as recorded in _metadata', async () => {
    const storage = fresh();
    const [stored] = await writeCheckpoint(storage, 1, { 'a.state': Buffer.alloc(3_000_000, 1) });
    const bytes = readFileSync(join(storage.directory, 'chk-1', 'a.state'));
    expect(bytes.length).toBe(stored.size);
    expect(bytes.subarray(bytes.length - 32).toString('hex')).toBe(stored.sha256);
    expect((await storage.readMetadata(1)).files[0].sha256).toBe(stored.sha256);
  });

  it('lists only checkpoints whose _metadata is complete, in order', async () => {
    const storage = fresh();
    await writeCheckpoint(storage, 3, { 'a.state': Buffer.from('x') });
    await writeCheckpoint(storage, 1, { 'a.state': Buffer.from('y') });
    const inProgress = await storage.beginCheckpoint(4);
    await inProgress.writeFile('a.state', Buffer.from('z'));
    expect(await storage.listCompleted()).toEqual([1, 3]);
    await inProgress.abort();
    expect(readdirSync(storage.directory).sort()).toEqual(['_last-completed', 'chk-1', 'chk-3', 'shared', 'taskowned']);
  });

  it.each([
    ['truncated', (path: string) => truncateSync(path, 10), /truncated: expected \d+ bytes, found 10/],
    ['corrupt', (path: string) => {
      const b = readFileSync(path);
      b[b.length - 1] ^= 1;
      writeFileSync(path, b);
    }, /checksum mismatch/],
    ['missing', (path: string) => rmSync(path), /missing or unreadable \(ENOENT\)/],
  ])('reports a %s data file as invalid, naming the file and what to do', async (_what, damage, reason) => {
    const storage = fresh();
    const [file] = await writeCheckpoint(storage, 7, { 'task.state': Buffer.alloc(100, 7) });
    damage(join(storage.directory, 'chk-7', 'task.state'));
    const problems = await storage.verify(7);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(join(storage.directory, 'chk-7', 'task.state'));
    expect(problems[0]).toMatch(reason);
    expect(problems[0]).toMatch(/restore the file from a backup, or resume from another checkpoint/);
    await expect(storage.readFile(7, file)).rejects.toMatchObject({ code: 'CHECKPOINT_INVALID' });
  });

  it('reports truncated metadata and metadata from a newer format', async () => {
    const storage = fresh();
    await writeCheckpoint(storage, 2, {});
    const path = join(storage.directory, 'chk-2', '_metadata');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, text.length - 5));
    expect((await storage.verify(2))[0]).toMatch(/_metadata: checksum mismatch/);
    writeFileSync(path, text.replace('FLOE-CHECKPOINT 1', 'FLOE-CHECKPOINT 9'));
    expect((await storage.verify(2))[0]).toMatch(/format version 9 was written by a newer Floe/);
  });

  it('turns write errors into CHECKPOINT_WRITE_FAILED and leaves no temporary file', async () => {
    const storage = fresh();
    const writer = await storage.beginCheckpoint(1);
    rmSync(join(storage.directory, 'chk-1'), { recursive: true });
    await expect(writer.writeFile('a.state', Buffer.from('x'))).rejects.toMatchObject({ code: 'CHECKPOINT_WRITE_FAILED' });
    expect(await storage.listCompleted()).toEqual([]);
  });

  it('deletes a discarded checkpoint metadata first', async () => {
    const storage = fresh();
    await writeCheckpoint(storage, 1, { 'a.state': Buffer.from('x') });
    await storage.discard(1);
    expect(await storage.listCompleted()).toEqual([]);
  });
});
