// The user guide's examples run as the guide says (docs/user-guide.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/index.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');

function run(args: string[]) {
  const r = spawnSync(process.execPath, [floe, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('user guide examples', () => {
  it('dedup-with-ttl drops the repeated click and keeps the rest', () => {
    const r = run(['run', 'examples/guide/dedup-with-ttl.ts', '-q', '-p', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => l.replace(/^\d+> /, '')).sort()).toEqual([
      "{ user: 'ann', page: '/a' }",
      "{ user: 'ann', page: '/b' }",
      "{ user: 'bob', page: '/a' }",
    ]);
  });

  it('exactly-once-files commits every running count once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-guide-'));
    const r = run(['run', 'examples/guide/exactly-once-files.ts', '--checkpoint-dir', join(dir, 'chk'), '-q', '--', join(dir, 'out')]);
    expect(r.stderr).toMatch(/finished/);
    expect(r.code).toBe(0);
    const out = await readCommittedJsonLines<{ user: string; clicks: number }>(join(dir, 'out'));
    expect(out).toHaveLength(100_000);
    const last = new Map<string, number>();
    for (const e of out) last.set(e.user, Math.max(last.get(e.user) ?? 0, e.clicks));
    expect(last.size).toBe(100);
    expect([...last.values()].every((c) => c === 1000)).toBe(true);
  });
});
