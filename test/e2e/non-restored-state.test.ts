// A checkpoint restored into a job that no longer has one of its stateful operators (here: the
// counting operator's uid changed) fails before any record, naming the operator, unless the user
// accepts dropping that state with --allow-non-restored-state (as Flink's option).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
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
    const done = () => existsSync(chk) && readdirSync(chk).some((n) => /^chk-\d+$/.test(n) && existsSync(join(chk, n, '_metadata')));
    while (!done() && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
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
    // The renamed operator started empty: its counts restart at 1 for records after the checkpoint.
    const after = (await readCommittedJsonLines<{ n: number }>(out)).slice(committedBefore);
    expect(after.filter((r) => r.n === 1).length).toBe(50);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
