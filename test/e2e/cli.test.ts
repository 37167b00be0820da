// End-to-end through the `floe` command as a user runs it (needs the build: npm test builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');

function run(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [floe, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('floe run', () => {
  it.each(['1', '4'])('runs the seed CountWindowAverage at parallelism %s and prints (1,4) and (1,5)', (p) => {
    const r = run(['run', 'examples/count-window-average.ts', '--parallelism', p, '--quiet']);
    expect(r.stderr).toContain('finished');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.replace(/^\d+> /, ''));
    expect(lines).toEqual(['[ 1, 4 ]', '[ 1, 5 ]']);
  });

  it('runs the demo job to the end and writes its sessions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-demo-'));
    const r = run(['run', join(root, 'examples/demo.ts'), '-p', '2', '--events', '20000', '--users', '500'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Job '.*demo\.ts' finished in/);
    expect(r.stderr).toMatch(/20,000 records read/);
    const sessionsDir = join(dir, '.floe/demo/sessions');
    const sessions = readdirSync(sessionsDir)
      .filter((n) => n.startsWith('part-'))
      .flatMap((n) => readFileSync(join(sessionsDir, n), 'utf8').trim().split('\n'))
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l));
    // Every event ends up in exactly one session.
    expect(sessions.reduce((n, s) => n + s.events, 0)).toBe(20_000);
  });

  it('starts the demo over when it is run again after it finished, without doubling its sessions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-demo-twice-'));
    const sessionsDir = join(dir, '.floe/demo/sessions');
    const events = () =>
      readdirSync(sessionsDir)
        .filter((n) => n.startsWith('part-'))
        .flatMap((n) => readFileSync(join(sessionsDir, n), 'utf8').trim().split('\n'))
        .filter((l) => l.length > 0)
        .reduce((n, l) => n + (JSON.parse(l) as { events: number }).events, 0);
    const args = ['run', join(root, 'examples/demo.ts'), '-q', '--events', '20000', '--users', '500'];
    expect(run(args, dir).code).toBe(0);
    expect(events()).toBe(20_000);
    const again = run(args, dir);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('The last demo run finished: starting over');
    expect(events()).toBe(20_000);
  });

  it('passes --max-parallelism to the job and lets a job file written by a user import floe', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-job-'));
    const job = join(dir, 'job.ts');
    writeFileSync(
      job,
      `import type { StreamEnvironment, RuntimeContext } from '${join(root, 'dist/index.js')}';
export default (env: StreamEnvironment) => {
  env.fromElements('a', 'b', 'c').keyBy((x: string) => x).map({
    m: 0,
    open(ctx: RuntimeContext) { this.m = ctx.getMaxNumberOfParallelSubtasks(); },
    map(x: string) { return x + ':' + this.m; },
  }).print();
};
`,
    );
    const r = run(['run', job, '--max-parallelism', '256', '-q']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(['a:256', 'b:256', 'c:256']);
  });

  it('exits non-zero with a clear error when a user function throws', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-fail-'));
    const job = join(dir, 'fail.ts');
    writeFileSync(
      job,
      `export default (env: any) => {
  env.fromElements(1, 2, 3).map((x: number) => { if (x === 2) throw new Error('two is not allowed'); return x; }).uid('picky').print();
};
`,
    );
    const r = run(['run', job, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('USER_FUNCTION_FAILED');
    expect(r.stderr).toContain("operator 'Map' (uid picky)");
    expect(r.stderr).toContain('two is not allowed');
    expect(r.stderr).toContain('on record 2');
  });

  it('explains a missing job file and a job without a default export', () => {
    const missing = run(['run', 'no/such/job.ts']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/not found/i);
    const dir = mkdtempSync(join(tmpdir(), 'floe-nodefault-'));
    writeFileSync(join(dir, 'j.ts'), 'export const x = 1;\n');
    const r = run(['run', join(dir, 'j.ts')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no default export');
  });

  it('prints usage for --help and rejects bad flags', () => {
    expect(run(['--help']).stdout).toContain('floe run [options] <job.ts|job.js>');
    const bad = run(['run', 'examples/demo.ts', '--parallelism', 'zero']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--parallelism needs a positive integer');
    expect(existsSync(floe)).toBe(true);
  });
});

describe('floe run with checkpoints', () => {
  it('takes a checkpoint on demand when sent SIGUSR2', async () => {
    const { spawn } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'floe-usr2-'));
    const child = spawn(process.execPath, [floe, 'run', join(root, 'test/e2e/jobs/exactly-once-count.ts'), '--checkpoint-dir', join(dir, 'chk'), '--checkpoint-interval', '60000', '-q', join(dir, 'out'), '20000', '5000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // The job has started (and listens for SIGUSR2) once it holds its checkpoint directory's lock.
    while (!existsSync(join(dir, 'chk', 'LOCK')) && child.exitCode === null && child.signalCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGUSR2');
    while (!stderr.includes('triggered by SIGUSR2') && child.exitCode === null && child.signalCode === null) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    expect(stderr).toMatch(/checkpoint 1 completed \(triggered by SIGUSR2\)/);
    expect(existsSync(join(dir, 'chk', 'chk-1', '_metadata'))).toBe(true);
  }, 60_000);
});
