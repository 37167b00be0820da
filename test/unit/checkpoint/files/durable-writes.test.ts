import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeDurably } from '../../../../src/checkpoint/files/durable-writes.js';

describe('writeDurably', () => {
  const dirs: string[] = [];
  const scratch = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-durable-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('writes every chunk in order and replaces an existing file whole', async () => {
    const dir = scratch();
    const path = join(dir, 'file');
    writeFileSync(path, 'old content that is longer');
    await writeDurably({ path, chunks: [Buffer.from('ab'), new Uint8Array([99, 100]), Buffer.from('')], syncDirectory: true });
    expect(readFileSync(path, 'utf8')).toBe('abcd');
    expect(readdirSync(dir)).toEqual(['file']);
  });

  it('serves concurrent writes, each to its own file', async () => {
    const dir = scratch();
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeDurably({ path: join(dir, `f${i}`), chunks: [Buffer.from(String(i))], syncDirectory: i % 2 === 0 })));
    for (let i = 0; i < 20; i++) expect(readFileSync(join(dir, `f${i}`), 'utf8')).toBe(String(i));
  });

  it('writes a large file (not sent to the helper thread) the same way', async () => {
    const dir = scratch();
    const path = join(dir, 'large');
    const chunks = [Buffer.alloc(3 << 20, 1), Buffer.alloc(3 << 20, 2)];
    await writeDurably({ path, chunks, syncDirectory: true });
    expect(readFileSync(path).equals(Buffer.concat(chunks))).toBe(true);
    expect(readdirSync(dir)).toEqual(['large']);
    await expect(writeDurably({ path: join(dir, 'missing', 'large'), chunks, syncDirectory: false })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(readdirSync(dir)).toEqual(['large']);
  });

  it("rejects with the file system's error code and leaves no temporary file", async () => {
    const dir = scratch();
    await expect(writeDurably({ path: join(dir, 'missing', 'file'), chunks: [Buffer.from('x')], syncDirectory: false })).rejects.toMatchObject({ code: 'ENOENT' });
    writeFileSync(join(dir, 'taken'), '');
    // renaming a file over a non-empty directory fails after the temporary file was written
    const target = join(dir, 'sub');
    mkdirSync(join(target, 'inner'), { recursive: true });
    await expect(writeDurably({ path: target, chunks: [Buffer.from('x')], syncDirectory: false })).rejects.toHaveProperty('code');
    expect(readdirSync(dir).sort()).toEqual(['sub', 'taken']);
  });
});
