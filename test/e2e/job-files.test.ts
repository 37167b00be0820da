// Job files as a new user writes them, in an ordinary `npm init -y` project (CommonJS) and in an
// ES module project: top-level await, stack traces with the job file's lines, clear syntax errors.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');

/** A project directory whose package.json has the given type and which has floe installed (linked). */
function project(type: 'commonjs' | 'module'): string {
  const dir = mkdtempSync(join(tmpdir(), `floe-${type}-`));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', type }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/floe'), 'dir');
  return dir;
}

function run(dir: string, file: string, source: string) {
  writeFileSync(join(dir, file), source);
  const r = spawnSync(process.execPath, [floe, 'run', file, '--quiet'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const topLevelAwait = `import { StreamEnvironment } from 'floe';
import { helper } from './helper';
const factor = await Promise.resolve(3);
export default (env: StreamEnvironment) => {
  env.fromElements(1, 2).map((x) => helper(x * factor)).print();
};
`;

const throwing = `import type { StreamEnvironment } from 'floe';

export default (env: StreamEnvironment) => {
  env.fromElements(1, 2, 3)
    .map((x) => {
      if (x === 2) throw new Error('boom at two');
      return x;
    })
    .print();
};
`;

const syntaxError = `import type { StreamEnvironment } from 'floe';
export default (env: StreamEnvironment) => {
  env.fromElements(1, 2).map((x) => x * ).print();
};
`;

describe.each(['commonjs', 'module'] as const)('a TypeScript job file in a %s project', (type) => {
  it('loads as an ES module: top-level await and relative imports work', () => {
    const dir = project(type);
    writeFileSync(join(dir, 'helper.ts'), 'export const helper = (x: number): string => `v${x}`;\n');
    const r = run(dir, 'job.ts', topLevelAwait);
    expect(r.stderr).not.toMatch(/Top-level await/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['v3', 'v6']);
    // The compiled copy is gone once the job is loaded.
    const cache = join(dir, 'node_modules/.cache/floe');
    expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
  });

  it('names the job file, line and column of an error in user code', () => {
    const dir = project(type);
    const r = run(dir, 'job.ts', throwing);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('boom at two');
    expect(r.stderr).toContain(`${join(dir, 'job.ts')}:6:`);
    expect(r.stderr).not.toContain('data:text/javascript');
  });

  it('reports a syntax error as the file, line, column and message with the code frame, without compiler internals', () => {
    const dir = project(type);
    const r = run(dir, 'job.ts', syntaxError);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/job\.ts:3:\d+: Unexpected "\)"/);
    expect(r.stderr).toContain('3 |   env.fromElements(1, 2).map((x) => x * ).print();');
    expect(r.stderr).toMatch(/\n\s+\^/);
    expect(r.stderr).not.toContain('esbuild/lib/main.js');
  });
});
