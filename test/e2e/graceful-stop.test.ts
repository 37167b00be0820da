// The first Ctrl-C of a checkpointing job stops it gracefully: a last checkpoint, the sinks commit
// everything before it, the process ends; the same command resumes from there, exactly once.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const job = join(root, 'test/e2e/jobs/exactly-once-count.ts');

describe('a first Ctrl-C with checkpointing on', () => {
  it('takes a last checkpoint, commits everything before it, exits 130 and resumes from it exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-stop-'));
    const chk = join(dir, 'chk');
    // Checkpoints only on request (interval 10 min): what is committed at the stop comes from the stop.
    const args = [job, '-p', '1', '--checkpoint-dir', chk, '--checkpoint-interval', '600000', '-q', join(dir, 'out'), '20000', '5000'];
    const child = spawn(process.execPath, [floe, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    while (!existsSync(join(chk, 'LOCK')) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500)); // let some records flow
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/taking a last checkpoint and committing/);
    const stoppedAt = /stopped at checkpoint (\d+);/.exec(stderr);
    expect(stoppedAt).not.toBeNull();
    expect(stderr).toMatch(new RegExp(`Job '.*' stopped at checkpoint ${stoppedAt![1]} in`));
    expect(readdirSync(chk)).toContain(`chk-${stoppedAt![1]}`);
    // Everything before the last checkpoint's barrier is committed: records 0..k-1, nothing after.
    const atStop = await readCommittedJsonLines<{ i: number }>(join(dir, 'out'));
    expect(atStop.length).toBeGreaterThan(0);
    expect(atStop.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: atStop.length }, (_, i) => i));

    const resumed = spawnSync(process.execPath, [floe, 'run', ...args], { encoding: 'utf8', timeout: 120_000 });
    expect(resumed.stderr).toContain(`restoring from checkpoint ${stoppedAt![1]}`);
    expect(resumed.status).toBe(0);
    const all = await readCommittedJsonLines<{ i: number }>(join(dir, 'out'));
    expect(all.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
