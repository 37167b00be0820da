// Rescaling a job whose sink keeps its pending transactions in even-split list state, through the
// `floe` command: p=2, killed after a checkpoint; p=3, killed after a newer one; p=1 to the end.
// The committed output must be every record exactly once with per-key counts 1..N.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';
import { completedCheckpointIds } from '../fixtures/checkpoint-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const job = join(root, 'test/e2e/jobs/rescale-operator-state.ts');

/** Runs until a checkpoint newer than every one present at the start completed, then kills the process. */
async function killAfterNewCheckpoint(args: string[], chk: string): Promise<void> {
  const before = Math.max(0, ...completedCheckpointIds(chk));
  const child = spawn(process.execPath, [floe, 'run', ...args], { stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  while (Math.max(0, ...completedCheckpointIds(chk)) <= before && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await exited;
  expect(Math.max(0, ...completedCheckpointIds(chk))).toBeGreaterThan(before);
}

describe('rescaling operator list state', () => {
  it('keeps exactly-once output when the transactional sink goes from 2 to 3 to 1 subtasks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-rescale-list-'));
    const chk = join(dir, 'chk');
    const args = (p: string) => [job, '-p', p, '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', join(dir, 'out'), '30000', '6000'];
    await killAfterNewCheckpoint(args('2'), chk);
    await killAfterNewCheckpoint(args('3'), chk);
    const last = spawnSync(process.execPath, [floe, 'run', ...args('1')], { encoding: 'utf8', timeout: 120_000 });
    expect(last.stderr).toMatch(/restoring from checkpoint \d+/);
    expect(last.status).toBe(0);
    const committed = await readCommittedJsonLines<{ key: string; i: number; n: number }>(join(dir, 'out'));
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 30_000 }, (_, i) => i));
    const perKey = new Map<string, number[]>();
    for (const r of committed) perKey.set(r.key, [...(perKey.get(r.key) ?? []), r.n]);
    expect(perKey.size).toBe(500);
    for (const [key, ns] of perKey) expect(ns.sort((a, b) => a - b), key).toEqual(Array.from({ length: ns.length }, (_, j) => j + 1));
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('finds a sink\'s pending transactions by its uid when chaining changed between runs (one chain at p=1, two at p=2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-chain-change-'));
    const chk = join(dir, 'chk');
    const chainJob = join(root, 'test/e2e/jobs/chain-change.ts');
    const args = (p: string) => [chainJob, '-p', p, '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', join(dir, 'out'), '20000', '5000'];
    await killAfterNewCheckpoint(args('1'), chk);
    await killAfterNewCheckpoint(args('2'), chk);
    const last = spawnSync(process.execPath, [floe, 'run', ...args('1')], { encoding: 'utf8', timeout: 120_000 });
    expect(last.status).toBe(0);
    const committed = await readCommittedJsonLines<{ i: number }>(join(dir, 'out'));
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
