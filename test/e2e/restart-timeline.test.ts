// A restart resumes its own timeline: a run started from another directory's checkpoint that fails
// before its own first checkpoint restores that checkpoint again, never its own (empty or older)
// directory's newest one, and never starts from scratch.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';
import { completedCheckpointIds } from '../fixtures/checkpoint-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const countJob = join(root, 'test/e2e/jobs/exactly-once-count.ts');
const failOnceJob = join(root, 'test/e2e/jobs/fail-once-count.ts');

describe('restarts', () => {
  it('restore the checkpoint the run started from when they fail before its first own checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-timeline-'));
    const first = join(dir, 'first');
    const out = join(dir, 'out');
    // A first run checkpoints into first/ and is killed after a checkpoint.
    const child = spawn(process.execPath, [floe, 'run', countJob, '-p', '1', '--checkpoint-dir', first, '--checkpoint-interval', '100', '-q', out, '20000', '5000'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    while (completedCheckpointIds(first).length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    const id = Math.max(...completedCheckpointIds(first));
    // The second run starts from that checkpoint with its own (empty) directory and a long
    // interval, and fails once at the record right after it.
    const r = spawnSync(
      process.execPath,
      [floe, 'run', failOnceJob, '-p', '1', '--from-checkpoint', join(first, `chk-${id}`), '--checkpoint-dir', join(dir, 'second'), '--checkpoint-interval', '600000', '--restart-strategy', 'fixed-delay:3:0', '-q', out, '20000', '20000', '19999', join(dir, 'marker')],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.stderr).toMatch(/injected failure at record 19999/);
    // Both attempts restore the checkpoint of first/: the restart does not start from scratch.
    expect(r.stderr.match(new RegExp(`restoring from checkpoint ${id} in ${first}`, 'g'))).toHaveLength(2);
    expect(r.stderr.match(/\[restart\]/g)).toHaveLength(1);
    expect(r.status).toBe(0);
    const committed = await readCommittedJsonLines<{ key: string; i: number; n: number }>(out);
    expect(committed.map((c) => c.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('a disk-backend job restored from another directory never depends on that directory afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-relocate-'));
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    const out = join(dir, 'out');
    const run = (args: string[]) => [floe, 'run', countJob, '-p', '2', '--state-backend', 'disk', '--state-dir', join(dir, 'state'), '--checkpoint-interval', '100', '-q', ...args, out, '20000', '5000'];
    const completed = completedCheckpointIds;
    const killAfter = async (args: string[], chk: string, atLeast: number) => {
      const child = spawn(process.execPath, run(args), { stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      while (completed(chk).length < atLeast && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGKILL');
      await exited;
    };
    await killAfter(['--checkpoint-dir', first], first, 1);
    const id = Math.max(...completed(first));
    // Two checkpoints in second/: the second one would be an increment on the first's files.
    await killAfter(['--from-checkpoint', join(first, `chk-${id}`), '--checkpoint-dir', second], second, 2);
    rmSync(first, { recursive: true, force: true });
    const resumed = spawnSync(process.execPath, run(['--checkpoint-dir', second]), { encoding: 'utf8', timeout: 120_000 });
    expect(resumed.stderr).toMatch(new RegExp(`restoring from checkpoint \\d+ in ${second}`));
    expect(resumed.status).toBe(0);
    const committed = await readCommittedJsonLines<{ i: number }>(out);
    expect(committed.map((c) => c.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
