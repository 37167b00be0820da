// End-to-end through `floe run`: the job a new Node user writes, with the state handle in a
// closure variable of the job function, counts right at every parallelism (needs the build).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');

const jobSource = `import { type StreamEnvironment, type RuntimeContext, type ValueState, ValueStateDescriptor } from '${join(root, 'dist/index.js')}';
export default (env: StreamEnvironment) => {
  let count: ValueState<number>;
  env
    .fromGenerator((i: number) => 'user-' + (i % 10), { count: 1000 })
    .keyBy((user: string) => user)
    .map({
      open(ctx: RuntimeContext) {
        count = ctx.getState(new ValueStateDescriptor<number>('count'));
      },
      map(user: string) {
        const n = (count.value() ?? 0) + 1;
        count.update(n);
        return user + ' ' + n;
      },
    })
    .print();
};
`;

describe('floe run with a state handle in a closure variable', () => {
  it.each(['1', '2', '4'])('counts 100 clicks for each of 10 users at parallelism %s and exits 0', (p) => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-closure-'));
    const job = join(dir, 'count.ts');
    writeFileSync(job, jobSource);
    const r = spawnSync(process.execPath, [floe, 'run', job, '-p', p, '-q'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    const last = new Map<string, number>();
    for (const line of r.stdout.trim().split('\n')) {
      const [user, n] = line.replace(/^\d+> /, '').split(' ');
      last.set(user, Math.max(last.get(user) ?? 0, Number(n)));
    }
    expect(last.size).toBe(10);
    expect([...last.values()]).toEqual(Array.from({ length: 10 }, () => 100));
  });
});
