// A checkpoint written by Floe before sources were split-based (the generator's position was a
// list of strides per reader, no enumerator state): restored at another parallelism, the source
// converts it, and the job reads every index the checkpoint had not, exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileCheckpointStorage } from '../../../src/checkpoint/files/file-checkpoint-storage.js';
import { StreamEnvironment } from '../../../src/index.js';
import { decodeTaskSnapshot } from '../../../src/runtime/task.js';

// Written by Floe at 19b6dfb: a generator (count 1000, parallelism 2, uid 'events') into a stateless sink, chk-1 taken mid-run.
const fixture = resolve(import.meta.dirname, '../../fixtures/checkpoints/floe-0.1-generator');
const COUNT = 1000;

/** The indices the checkpoint's readers had not read yet. */
async function unread(): Promise<number[]> {
  const storage = FileCheckpointStorage.savepoint(fixture);
  const envelope = await storage.readMetadata(1);
  expect(envelope.metadata.sources).toBeUndefined();
  const left: number[] = [];
  for (const task of Object.values(envelope.metadata.tasks as Record<string, { file: { name: string; size: number; sha256: string } }>)) {
    const { splits } = decodeTaskSnapshot(await storage.readFile(1, task.file)).source as { splits: Array<{ next: number; step: number }> };
    for (const { next, step } of splits) for (let i = next; i < COUNT; i += step) left.push(i);
  }
  return left.sort((a, b) => a - b);
}

describe('restoring a checkpoint of Floe 0.1', () => {
  it.each([1, 2, 3])('reads every index the checkpoint had not read, once, at parallelism %i', async (parallelism) => {
    const expected = await unread();
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(COUNT);
    const logs: string[] = [];
    const checkpoints = mkdtempSync(join(tmpdir(), 'floe-legacy-source-'));
    const env = StreamEnvironment.create({ parallelism, fromSavepoint: fixture, checkpointing: { directory: checkpoints }, log: (m) => logs.push(m) });
    const seen: number[] = [];
    env.fromGenerator((i) => i, { count: COUNT }).uid('events').addSink((i: number) => seen.push(i)).uid('sink');
    const client = env.executeAsync('legacy');
    await client.result;
    expect(seen.sort((a, b) => a - b)).toEqual(expected);
    expect(logs.join('\n')).toMatch(/source 'events': converted the read positions of a checkpoint written before split sources/);
    rmSync(checkpoints, { recursive: true, force: true });
  });
});
