// Savepoints through the `floe` command: a running job is listed, takes a savepoint on request,
// stops with a final one, and a new run at another parallelism starts from it; the committed
// output is every record once with per-key counts 1..N, and the savepoint is never modified.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';
import { treeHash } from '../fixtures/checkpoint-dirs.js';
import { countsPerKey } from '../fixtures/running-count.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const job = join(root, 'test/e2e/jobs/rescale-operator-state.ts');
const dir = mkdtempSync(join(tmpdir(), 'floe-savepoint-cli-'));
const env = { ...process.env, FLOE_HOME: join(dir, 'home') };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function floeSync(args: string[]) {
  const r = spawnSync(process.execPath, [floe, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}


async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe('floe list, savepoint, stop --savepoint, savepoint rekey and run --from-savepoint', () => {
  it('moves a running job to another parallelism through a savepoint, exactly once', async () => {
    const out = join(dir, 'out');
    // 30,000 events at 2,500/s: 12 s, time enough for the commands below also on a busy machine; the resumed run goes fast.
    const args = (p: string, chk: string, rate = '2500') => [job, '-p', p, '--checkpoint-dir', join(dir, chk), '--checkpoint-interval', '200', '-q', out, '30000', rate];
    const child: ChildProcess = spawn(process.execPath, [floe, 'run', ...args('2', 'chk-a')], { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor(() => floeSync(['list', '--json']).stdout.includes('rescale-operator-state'), 'the job in floe list');

    const listed = JSON.parse(floeSync(['list', '--json']).stdout) as Array<{ id: string; name: string; pid: number; token?: string }>;
    expect(listed).toHaveLength(1);
    expect(listed[0].pid).toBe(child.pid);
    expect(listed[0].token).toBeUndefined(); // the token stays in the registry file
    expect(floeSync(['list']).stdout).toMatch(new RegExp(`^ID\\s+NAME\\s+PID[\\s\\S]*${listed[0].id}`));

    const savepoint = floeSync(['savepoint', listed[0].id, join(dir, 'savepoints')]);
    expect(savepoint.code, savepoint.stderr).toBe(0);
    const intermediate = savepoint.stdout.trim();
    expect(intermediate).toMatch(/savepoints\/savepoint-rescale-operator-state-\d+-[0-9a-f]{6}$/);

    const stop = floeSync(['stop', '--savepoint', join(dir, 'savepoints'), 'rescale-operator-state']); // by name: unambiguous
    expect(stop.code, stop.stderr).toBe(0);
    const final = stop.stdout.trim();
    expect(await exited).toBe(0);
    expect(stderr).toContain(`stopped with savepoint ${final}`);
    expect(floeSync(['list']).stdout).toContain('No Floe job runs');
    const before = treeHash(final);

    // Into 512 key groups first (the savepoint was taken with 128), then p=3 with that max parallelism.
    const rekey = floeSync(['savepoint', 'rekey', final, '--max-parallelism', '512', '--out', join(dir, 'rekeyed')]);
    expect(rekey.code, rekey.stderr).toBe(0);
    expect(rekey.stdout.trim()).toBe(join(dir, 'rekeyed'));
    expect(rekey.stderr).toMatch(/'count': 500 entries and 0 timers from 128 to 512 key groups/);
    const resumed = floeSync(['run', ...args('3', 'chk-b', '100000'), '--max-parallelism', '512', '--from-savepoint', join(dir, 'rekeyed')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/restored savepoint \d+ in/);
    const committed = await readCommittedJsonLines<{ key: string; i: number; n: number }>(out);
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 30_000 }, (_, i) => i));
    const perKey = countsPerKey(committed);
    expect(perKey.size).toBe(500);
    for (const [key, ns] of perKey) expect(ns, key).toEqual(Array.from({ length: ns.length }, (_, j) => j + 1));
    expect(treeHash(final)).toBe(before);
  }, 180_000);

  it('says clearly when a job, a savepoint or a command is wrong', () => {
    expect(floeSync(['savepoint', 'nope']).stderr).toMatch(/No running job is named 'nope'/);
    expect(floeSync(['stop']).stderr).toMatch(/floe stop needs a job/);
    expect(floeSync(['list', '--jsn']).stderr).toMatch(/does not take --jsn \(did you mean --json\?\)/);
    expect(floeSync(['savepoint', 'rekey', 'x', '--out', 'y']).stderr).toMatch(/needs a savepoint, --max-parallelism and --out/);
    // A registry that cannot be written does not stop the job; it only cannot be reached.
    writeFileSync(join(dir, 'not-a-directory'), '');
    const unreachable = spawnSync(process.execPath, [floe, 'run', job, '-q', join(dir, 'o-unreachable'), '100', '100000'], {
      encoding: 'utf8',
      env: { ...env, FLOE_HOME: join(dir, 'not-a-directory') },
    });
    expect(unreachable.status, unreachable.stderr).toBe(0);
    expect(unreachable.stderr).toMatch(/warning: this job cannot be reached by floe list\/savepoint\/stop\/cancel/);
    const missing = floeSync(['run', job, '--from-savepoint', join(dir, 'missing'), '-q', join(dir, 'o'), '10', '10']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such savepoint directory/);
  });
});
