// Restoring into changed settings and damaged checkpoint directories, through the `floe` command:
// max parallelism adopted or refused, errors no restart can fix, refused fallbacks past damaged
// checkpoints, checkpoint ids never reused, unusable directories.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';
import { completedCheckpointIds } from '../fixtures/checkpoint-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const rescaleJob = join(root, 'test/e2e/jobs/rescale-count.ts');
const countJob = join(root, 'test/e2e/jobs/exactly-once-count.ts');

function start(args: string[]): { child: ChildProcess; done: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [floe, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, done, stderr: () => stderr };
}

function runToEnd(args: string[]) {
  const r = spawnSync(process.execPath, [floe, 'run', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr };
}

/** Runs until a checkpoint completed (its _metadata exists), then kills the process. */
async function killAfterCheckpoint(args: string[], chk: string): Promise<void> {
  const run = start(args);
  const completed = () => existsSync(chk) && readdirSync(chk).some((n) => n.startsWith('chk-') && existsSync(join(chk, n, '_metadata')));
  while (!completed() && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  run.child.kill('SIGKILL');
  await run.done;
  expect(completed()).toBe(true);
}

/** Every record once, and per key the running counts 1..N (no update lost or applied twice). */
function expectExactCounts(committed: Array<{ key: string; i: number; n: number }>, events: number, keys: number) {
  expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: events }, (_, i) => i));
  const perKey = new Map<string, number[]>();
  for (const r of committed) perKey.set(r.key, [...(perKey.get(r.key) ?? []), r.n]);
  expect(perKey.size).toBe(keys);
  for (const [key, ns] of perKey) expect(ns.sort((a, b) => a - b), key).toEqual(Array.from({ length: ns.length }, (_, j) => j + 1));
}

const chkIds = (chk: string) =>
  readdirSync(chk)
    .filter((n) => /^chk-\d+$/.test(n))
    .map((n) => Number(n.slice(4)))
    .sort((a, b) => a - b);

describe('restoring into changed settings', () => {
  it('adopts the checkpoint’s max parallelism when resuming a -p 2 run at -p 86, and every count is right', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-maxp-'));
    const chk = join(dir, 'chk');
    const args = (p: string) => [rescaleJob, '-p', p, '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', join(dir, 'out'), '20000', '8000'];
    await killAfterCheckpoint(args('2'), chk);
    const resumed = runToEnd(args('86'));
    expect(resumed.stderr).toMatch(/restoring from checkpoint \d+/);
    expect(resumed.code).toBe(0);
    expectExactCounts(await readCommittedJsonLines(join(dir, 'out')), 20_000, 500);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('refuses an explicit max parallelism that differs from the checkpoint’s before processing a record, naming the operator and both values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-maxp-explicit-'));
    const chk = join(dir, 'chk');
    const args = (m: string) => [rescaleJob, '-p', '2', '--max-parallelism', m, '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', join(dir, 'out'), '20000', '8000'];
    await killAfterCheckpoint(args('128'), chk);
    const before = (await readCommittedJsonLines(join(dir, 'out'))).length;
    const r = runToEnd(args('256'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MAX_PARALLELISM_MISMATCH');
    expect(r.stderr).toMatch(/operator 'count' has max parallelism 256, but the checkpoint or savepoint being restored was taken with max parallelism 128[\s\S]*floe savepoint rekey/);
    expect(r.stderr).not.toMatch(/restart 1 in/);
    expect((await readCommittedJsonLines(join(dir, 'out'))).length).toBe(before);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('rescales a parallel generator source with the job (2 -> 3 -> 1): every record read once, every count right', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-source-rescale-'));
    const chk = join(dir, 'chk');
    const args = (p: string) => [countJob, '-p', p, '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', join(dir, 'out'), '20000', '8000'];
    await killAfterCheckpoint(args('2'), chk);
    const before = completedCheckpointIds(chk).length;
    const second = start(args('3'));
    while (completedCheckpointIds(chk).length <= before && second.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 20));
    second.child.kill('SIGKILL');
    await second.done;
    const r = runToEnd(args('1'));
    expect(r.code).toBe(0);
    expectExactCounts(await readCommittedJsonLines(join(dir, 'out')), 20_000, 97);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});

describe('damaged checkpoint directories', () => {
  it('refuses to resume past a completed checkpoint whose _metadata was deleted, and never reuses its id when the fallback is accepted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-no-metadata-'));
    const chk = join(dir, 'chk');
    const args = [countJob, '-p', '2', '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', join(dir, 'out'), '20000', '8000'];
    expect(runToEnd(args).code).toBe(0);
    // The newest checkpoint the storage recorded as completed (sinks commit only after that record).
    const newest = Number(readFileSync(join(chk, '_last-completed'), 'utf8'));
    expect(existsSync(join(chk, `chk-${newest}`, '_metadata'))).toBe(true);
    rmSync(join(chk, `chk-${newest}`, '_metadata'));
    const committed = (await readCommittedJsonLines(join(dir, 'out'))).length;

    const refused = runToEnd(args);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('CHECKPOINT_DAMAGED');
    expect(refused.stderr).toContain(`chk-${newest}/_metadata is missing, but checkpoint ${newest} had completed`);
    expect(refused.stderr).toContain('--allow-fallback-duplicates');
    expect((await readCommittedJsonLines(join(dir, 'out'))).length).toBe(committed);

    const accepted = runToEnd([...args, '--allow-fallback-duplicates']);
    expect(accepted.code).toBe(0);
    expect(accepted.stderr).toMatch(new RegExp(`checkpoint ${newest} cannot be restored .*accepting duplicate output`));
    expect(Math.max(...chkIds(chk))).toBeGreaterThan(newest); // the new run's checkpoints come after the damaged one
    expect(existsSync(join(chk, `chk-${newest}`))).toBe(false); // the accepted damaged checkpoint is removed
    // Duplicates were accepted, but no checkpoint id was used twice: one part file per subtask and checkpoint.
    const parts = readdirSync(join(dir, 'out')).filter((n) => n.startsWith('part-'));
    const subtaskAndCheckpoint = parts.map((n) => n.split('-').slice(0, 3).join('-'));
    expect(new Set(subtaskAndCheckpoint).size).toBe(parts.length);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('refuses a second floe run on a checkpoint directory in use, and takes the lock over from a killed job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-chk-in-use-'));
    const chk = join(dir, 'chk');
    const args = (out: string) => [countJob, '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', join(dir, out), '1000000', '2000'];
    const lockHolder = () => {
      try {
        return (JSON.parse(readFileSync(join(chk, 'LOCK'), 'utf8')) as { pid: number }).pid;
      } catch {
        return undefined;
      }
    };
    const first = start(args('out-1'));
    while (lockHolder() !== first.child.pid && first.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    const second = runToEnd(args('out-2'));
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('CHECKPOINT_DIR_IN_USE');
    expect(second.stderr).toContain(`The checkpoint directory ${chk} is in use by process ${first.child.pid}`);
    expect(existsSync(join(dir, 'out-2'))).toBe(false);
    expect(first.child.exitCode).toBeNull(); // the first job still runs
    first.child.kill('SIGKILL');
    await first.done;
    const third = start(args('out-3'));
    while (lockHolder() !== third.child.pid && third.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(lockHolder()).toBe(third.child.pid);
    third.child.kill('SIGINT');
    expect(await third.done).toBe(130);
    expect(existsSync(join(chk, 'LOCK'))).toBe(false); // released when the job stopped
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it.each([
    ['--checkpoint-dir', '/proc/floe-test/chk'],
    ['--state-dir', '/proc/floe-test/state'],
  ])('stops at once with a clear error when %s is unusable', (flag, path) => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-unusable-'));
    const r = spawnSync(process.execPath, [floe, 'run', countJob, flag, path, '-q', join(dir, 'out'), '100', '1000'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.error).toBeUndefined(); // not killed by the timeout
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('DIRECTORY_UNUSABLE');
    expect(r.stderr).toContain(`${path} cannot be used`);
    expect(r.stderr).toContain(flag);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
