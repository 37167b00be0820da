// A checkpoint restored into a job that no longer has one of its stateful operators (here: the
// counting operator's uid changed) fails before any record, naming the operator, unless the user
// accepts dropping that state with --allow-non-restored-state (as Flink's option).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const job = join(root, 'test/e2e/jobs/renamable-count.ts');

describe('state of operators the job no longer has', () => {
  it('fails the restore naming the operator, and is dropped only with --allow-non-restored-state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-non-restored-'));
    const chk = join(dir, 'chk');
    const out = join(dir, 'out');
    const args = (uid: string, ...extra: string[]) => [floe, 'run', job, '--checkpoint-dir', chk, '--checkpoint-interval', '100', '-q', ...extra, out, '10000', '4000', uid];
    const child = spawn(process.execPath, args('count'), { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    // Killed once a checkpoint past every key's first record is committed (committed lines exist only then).
    const committedLines = async () => (existsSync(out) ? (await readCommittedJsonLines(out)).length : 0);
    while ((await committedLines()) < 200 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    const committedBefore = (await readCommittedJsonLines(out)).length;

    const refused = spawnSync(process.execPath, args('count-v2'), { encoding: 'utf8', timeout: 60_000 });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('STATE_NOT_RESTORED');
    expect(refused.stderr).toMatch(/holds state of operators this job does not have: 'count'\. .*--allow-non-restored-state/);
    expect(refused.stderr).not.toMatch(/restart 1 in/);
    expect((await readCommittedJsonLines(out)).length).toBe(committedBefore);

    const accepted = spawnSync(process.execPath, args('count-v2', '--allow-non-restored-state'), { encoding: 'utf8', timeout: 60_000 });
    expect(accepted.stderr).toMatch(/not restoring the state of operators this job does not have: count/);
    expect(accepted.status).toBe(0);
    // Every record once; the renamed operator started empty, so each of the 50 keys counted from 1
    // twice: in the first run (before the checkpoint) and again after the restore.
    const all = await readCommittedJsonLines<{ i: number; n: number }>(out);
    expect(all.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(all.filter((r) => r.n === 1).length).toBe(100);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
