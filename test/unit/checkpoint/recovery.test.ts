// Recovery inside one process: restarts from the latest checkpoint after user-function failures
// (exactly-once and at-least-once), fallback past an invalid checkpoint, and checkpoint write
// failures that are declined without stopping the job.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileCheckpointStorage } from '../../../src/checkpoint/files/file-checkpoint-storage.js';
import { TransactionalJsonLinesSink, readCommittedJsonLines } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { StreamEnvironment } from '../../../src/index.js';
import { RunningCount } from '../../fixtures/running-count.js';

const EVENTS = 6000;
const keyOf = (i: number) => `k${(i * 7919) % 31}`;


function expected() {
  const counts = new Map<string, number>();
  return Array.from({ length: EVENTS }, (_, i) => {
    const key = keyOf(i);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return { key, i, n };
  });
}

/** Fails once at each of the given record indexes (the set survives restarts, like a flaky dependency). */
function failingAt(indexes: number[]) {
  const pending = new Set(indexes);
  return (e: { key: string; i: number }) => {
    if (pending.delete(e.i)) throw new Error(`injected failure at record ${e.i}`);
    return e;
  };
}

type Backend = 'heap' | 'disk';

function job(
  dir: string,
  options: {
    backend: Backend;
    mode?: 'exactly-once' | 'at-least-once';
    failAt?: number[];
    parallelism?: number;
    storage?: FileCheckpointStorage;
    tolerableFailures?: number;
    allowFallbackDuplicates?: boolean;
  },
) {
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    parallelism: options.parallelism ?? 2,
    stateBackend: options.backend === 'disk' ? { kind: 'disk', dir: join(dir, 'state') } : 'heap',
    checkpointing: { directory: join(dir, 'chk'), intervalMs: 30, mode: options.mode, storage: options.storage, tolerableFailures: options.tolerableFailures },
    restartStrategy: { type: 'fixed-delay', attempts: 20, delayMs: 5 },
    restore: 'latest',
    allowFallbackDuplicates: options.allowFallbackDuplicates,
    log: (m) => logs.push(m),
  });
  env
    .fromGenerator((i) => ({ key: keyOf(i), i }), { count: EVENTS, eventsPerSecond: 12_000 })
    .uid('events')
    .map(failingAt(options.failAt ?? []))
    .uid('flaky')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(new TransactionalJsonLinesSink(join(dir, 'out')))
    .uid('sink');
  return { env, logs };
}

const sortByIndex = <T extends { i: number }>(xs: T[]) => xs.sort((a, b) => a.i - b.i);

/**
 * Exactly once: every record committed once, and per key the running counts are exactly 1..N
 * (no update lost or applied twice). At parallelism > 1 the two generator subtasks interleave, so
 * which record gets which count may differ from the single-subtask order.
 */
function expectExactlyOnce(committed: Array<{ key: string; i: number; n: number }>) {
  expect(sortByIndex(committed).map((r) => [r.key, r.i])).toEqual(expected().map((r) => [r.key, r.i]));
  const perKey = new Map<string, number[]>();
  for (const r of committed) perKey.set(r.key, [...(perKey.get(r.key) ?? []), r.n]);
  for (const [key, ns] of perKey) expect(ns.sort((a, b) => a - b), key).toEqual(Array.from({ length: ns.length }, (_, j) => j + 1));
}

describe.each(['heap', 'disk'] as const)('recovery from checkpoints (%s state backend)', (backend) => {
  it('restarts after user-function failures and commits every record exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-restart-'));
    const failAt = [500, 1700, 2900, 4100, 5300].map((x) => x + Math.floor(Math.random() * 300));
    const { env, logs } = job(dir, { backend, failAt });
    const result = await env.execute('restarts');
    expect(result.restarts).toBe(failAt.length);
    expect(logs.filter((l) => l.includes('[restart]'))).toHaveLength(failAt.length);
    expect(logs.some((l) => /restoring from checkpoint \d+/.test(l))).toBe(true);
    expectExactlyOnce(await readCommittedJsonLines(join(dir, 'out')));
  });

  it('loses nothing in at-least-once mode (duplicates allowed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-alo-'));
    const { env } = job(dir, { backend, mode: 'at-least-once', failAt: [1000, 3000] });
    await env.execute('at-least-once');
    const committed = await readCommittedJsonLines<{ i: number }>(join(dir, 'out'));
    expect(new Set(committed.map((r) => r.i)).size).toBe(EVENTS);
  });

  it('refuses to fall back past a corrupt completed checkpoint by default, naming it, the file and the option that accepts duplicates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-corrupt-'));
    await job(dir, { backend }).env.execute('first');
    const chk = join(dir, 'chk');
    const ids = readdirSync(chk).filter((n) => n.startsWith('chk-')).map((n) => Number(n.slice(4))).sort((a, b) => a - b);
    expect(ids.length).toBe(2); // retained: 2
    const storage = new FileCheckpointStorage(chk);
    // Heap: the task's file of the latest checkpoint; disk: a shared state file only it lists.
    const older = new Set((await storage.readMetadata(ids[0])).files.map((f) => f.name));
    const victim = (await storage.readMetadata(ids[1])).files
      .map((f) => f.name)
      .find((n) => (backend === 'heap' ? n.endsWith('.state') : n.startsWith('shared/') && !older.has(n)))!;
    expect(victim).toBeDefined();
    const victimPath = storage.pathOf(ids[1], victim);
    const bytes = readFileSync(victimPath);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(victimPath, bytes);
    expect((await storage.verify(ids[1])).join()).toMatch(new RegExp(`${victim}: checksum mismatch`));
    const committedBefore = (await readCommittedJsonLines(join(dir, 'out'))).length;

    const refused = job(dir, { backend });
    const error = await refused.env.execute('second').catch((e) => e);
    expect(error.code).toBe('CHECKPOINT_DAMAGED');
    expect(error.message).toMatch(new RegExp(`completed checkpoint ${ids[1]} cannot be restored .*${victim}.*checksum mismatch`));
    expect(error.message).toMatch(new RegExp(`falling back to checkpoint ${ids[0]} would write that output again`));
    expect(error.message).toMatch(/--allow-fallback-duplicates/);
    expect(refused.logs.some((l) => l.includes('[restart]') && l.includes('no restart can fix'))).toBe(true);
    expect((await readCommittedJsonLines(join(dir, 'out'))).length).toBe(committedBefore); // nothing committed again
    expect(readdirSync(chk).filter((n) => n.startsWith('chk-')).map((n) => Number(n.slice(4))).sort((a, b) => a - b)).toEqual(ids); // nothing touched

    const accepted = job(dir, { backend, allowFallbackDuplicates: true });
    await accepted.env.execute('third');
    expect(accepted.logs.join('\n')).toMatch(new RegExp(`checkpoint ${ids[1]} cannot be restored .*${victim}.*checksum mismatch.*accepting duplicate output`));
    expect(accepted.logs.join('\n')).toMatch(new RegExp(`restoring from checkpoint ${ids[0]}`));
    // The accepted run's checkpoints continue after the damaged one instead of reusing its id.
    const after = readdirSync(chk).filter((n) => n.startsWith('chk-')).map((n) => Number(n.slice(4)));
    const created = after.filter((id) => !ids.includes(id));
    expect(created.length).toBeGreaterThan(0);
    expect(created.every((id) => id > ids[1])).toBe(true);
  });

  it.each(['ENOSPC', 'EACCES'])('declines a checkpoint whose write fails with %s, keeps running and keeps the previous checkpoint', async (code) => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-enospc-'));
    const storage = new FailingStorage(join(dir, 'chk'), 3, code);
    const { env, logs } = job(dir, { backend, storage, tolerableFailures: 10 });
    const result = await env.execute('disk-full');
    expect(storage.failures).toBeGreaterThanOrEqual(3);
    expect(logs.filter((l) => new RegExp(`checkpoint failed .*${code}`).test(l)).length).toBeGreaterThanOrEqual(1);
    expect(result.checkpoints!.length).toBeGreaterThan(0);
    expectExactlyOnce(await readCommittedJsonLines(join(dir, 'out')));
  });

  it('fails the job once consecutive checkpoint failures exceed tolerableFailures', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-enospc-fail-'));
    const storage = new FailingStorage(join(dir, 'chk'), Number.POSITIVE_INFINITY);
    const { env } = job(dir, { backend, storage, tolerableFailures: 2 });
    const error = await env.execute('always-full').catch((e) => e);
    expect(error.code).toBe('CHECKPOINT_FAILED');
    expect(error.message).toMatch(/exceed tolerableFailures \(2\)/);
  });
});

/** A file storage whose data-file and shared-file writes fail (disk full, permission denied) `remaining` times. */
class FailingStorage extends FileCheckpointStorage {
  failures = 0;
  constructor(
    directory: string,
    private remaining: number,
    private readonly code = 'ENOSPC',
  ) {
    super(directory);
  }
  private fail(name: string): never {
    this.remaining--;
    this.failures++;
    const message = this.code === 'ENOSPC' ? 'no space left on device' : 'permission denied';
    throw Object.assign(new Error(`${this.code}: ${message}, write '${name}'`), { code: this.code });
  }
  override async putShared(localPath: string, file: { name: string; size: number; sha256: string }) {
    if (this.remaining > 0) this.fail(file.name);
    return super.putShared(localPath, file);
  }
  override async beginCheckpoint(id: number) {
    const writer = await super.beginCheckpoint(id);
    return {
      ...writer,
      checkpointId: id,
      writeFile: async (name: string, bytes: Uint8Array | Uint8Array[]) => {
        if (this.remaining > 0) this.fail(name);
        return writer.writeFile(name, bytes);
      },
    };
  }
}
