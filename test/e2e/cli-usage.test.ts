// The `floe` command catching a new user's mistakes before anything runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');

function run(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, [floe, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function jobFile(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'floe-usage-'));
  const file = join(dir, 'job.ts');
  writeFileSync(file, source);
  return file;
}

describe('floe run catches mistakes', () => {
  it('refuses a misspelt option before the job file with exit code 2 and a suggestion', () => {
    const r = run(['run', '--paralellism', '2', 'examples/count-window-average.ts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean --parallelism?');
    expect(r.stdout).toBe('');
  });

  it('says that a --from-checkpoint path does not exist', () => {
    const r = run(['run', 'examples/count-window-average.ts', '--from-checkpoint', '/nonexistent/chk-3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--from-checkpoint \/nonexistent\/chk-3: no such checkpoint directory/);
    expect(r.stderr).not.toMatch(/older/);
  });

  it('warns that a job without a sink sends its results nowhere', () => {
    const job = jobFile(`import type { StreamEnvironment } from '${join(root, 'dist/index.js')}';
export default (env: StreamEnvironment) => { env.fromElements(1, 2, 3).map((x) => x * 2); };
`);
    const r = run(['run', job]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*defines no sink/);
  });

  it('applies --restart-strategy: with none a failing job fails at once', () => {
    const job = jobFile(`import type { StreamEnvironment } from '${join(root, 'dist/index.js')}';
export default (env: StreamEnvironment) => { env.fromElements(1, 2, 3).map((x) => { if (x === 2) throw new Error('bad'); return x; }).print(); };
`);
    const dir = mkdtempSync(join(tmpdir(), 'floe-usage-cp-'));
    const r = run(['run', '--restart-strategy', 'none', '--checkpoint-dir', dir, job, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\[restart\]/);
    const retried = run(['run', '--restart-strategy', 'fixed-delay:2:0', '--checkpoint-dir', dir, job, '-q']);
    expect(retried.code).toBe(1);
    expect(retried.stderr.match(/\[restart\]/g)).toHaveLength(2);
  });
});

describe('running a finished job again', () => {
  it('says that its final checkpoint was taken at the end of input and how to start over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-rerun-'));
    expect(run(['run', 'examples/count-window-average.ts', '--checkpoint-dir', dir, '-q']).code).toBe(0);
    const again = run(['run', 'examples/count-window-average.ts', '--checkpoint-dir', dir, '-q']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/checkpoint \d+ was taken at the end of input: the sources have nothing left to read\. Delete .* to start over/);
    expect(again.stdout).toBe('');
  });
});

describe('floe check', () => {
  it('type-checks a job, prints its plan with warnings and runs nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-check-'));
    const out = join(dir, 'out.jsonl');
    const job = join(dir, 'job.ts');
    writeFileSync(
      job,
      `import type { StreamEnvironment } from '${join(root, 'dist/index.js')}';
export default (env: StreamEnvironment) => {
  env.fromElements<[string, number]>(['a', 1], ['b', 2]).uid('numbers').keyBy((t) => t[0]).sum(1).name('Totals').writeAsJsonLines(${JSON.stringify(out)});
};
`,
    );
    const r = run(['check', job, '-p', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('types ok');
    expect(r.stdout).toMatch(/parallelism 3, max parallelism 128 <- #0 \(hash\)/);
    expect(r.stdout).toMatch(/Totals {2}\[Sum, uid 'sum-\d+' \(derived\), stateful\]/);
    expect(r.stdout).toMatch(/warning: 'Totals' keeps state but has no uid/);
    expect(existsSync(out)).toBe(false);
  });

  it('reports type errors with file, line and column and exits 1', () => {
    const job = jobFile(`import type { StreamEnvironment } from '${join(root, 'dist/index.js')}';
export default (env: StreamEnvironment) => {
  const n: number = 'not a number';
  env.fromElements(n).print();
};
`);
    const r = run(['check', job]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/job\.ts\(3,9\): error TS2322: Type 'string' is not assignable to type 'number'/);
    expect(r.stdout).toMatch(/Print Sink/);
  });
});
