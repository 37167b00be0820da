// A disk-backend state directory serves one running job: a second `floe run` on the same
// directory stops with an error naming the directory and the holder, and touches nothing.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const job = join(root, 'test/e2e/jobs/exactly-once-count.ts');
const dir = mkdtempSync(join(tmpdir(), 'floe-state-in-use-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(out: string, stateDir: string) {
  const child = spawn(process.execPath, [join(root, 'bin/floe.mjs'), 'run', job, '--state-backend', 'disk', '--state-dir', stateDir, '-q', out, '1000000', '2000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, done, stderr: () => stderr };
}

function listing(path: string): string[] {
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== 'lock.mdb')
    .map((e) => `${join(e.parentPath, e.name)}:${statSync(join(e.parentPath, e.name)).mtimeMs}`)
    .sort();
}

describe('state directory in use', () => {
  it('refuses a second job on the same state directory with a clear error and touches nothing', async () => {
    const state = join(dir, 'state');
    const first = run(join(dir, 'out-1'), state);
    for (const t0 = Date.now(); !existsSync(join(state, 'LOCK')) && Date.now() - t0 < 15_000; ) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300)); // the first job's stores are open
    const before = listing(state).filter((l) => l.includes('LOCK'));
    const second = run(join(dir, 'out-2'), state);
    const code = await second.done;
    expect(code).not.toBe(0);
    expect(second.stderr()).toContain(`The state directory ${state} is in use by process ${first.child.pid}`);
    expect(second.stderr()).toMatch(/--state-dir/);
    expect(first.child.exitCode).toBeNull(); // the first job still runs
    expect(listing(state).filter((l) => l.includes('LOCK'))).toEqual(before);
    expect(readdirSync(state).filter((n) => n !== 'LOCK').length).toBeGreaterThan(0); // its stores are still there
    first.child.kill('SIGKILL');
    await first.done;
    // After kill -9 the lock is stale: a new run takes over.
    const third = run(join(dir, 'out-3'), state);
    for (const t0 = Date.now(); third.child.exitCode === null && Date.now() - t0 < 1500; ) await new Promise((r) => setTimeout(r, 50));
    expect(third.child.exitCode).toBeNull();
    third.child.kill('SIGINT');
    await third.done;
    expect(third.stderr()).not.toContain('in use');
  }, 60_000);
});
