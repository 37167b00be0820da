// A finished job ends its process by itself, also after failed checkpoints (no timer, handle or
// snapshot writer of the run may keep Node alive). Through the `floe` command (needs the build).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';

const root = resolve(import.meta.dirname, '../..');

describe('floe run after failed checkpoints', () => {
  it('exits by itself once the job finished, with every record committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-exit-'));
    const out = join(dir, 'out');
    const child = spawn(process.execPath, [join(root, 'bin/floe.mjs'), 'run', join(root, 'test/e2e/jobs/failing-checkpoints.ts'), '--quiet', join(dir, 'chk'), out], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The test's own timeout (far below the 10-minute checkpoint timeout) is the bound: no sleep, no timing assertion.
    const code = await new Promise<number | null>((resolveExit) => child.on('exit', (c) => resolveExit(c)));
    expect(stderr).toMatch(/finished/);
    expect(stderr).toMatch(/checkpoint failed/);
    expect(code).toBe(0);
    expect((await readCommittedJsonLines(out)).length).toBe(20_000);
  }, 60_000);
});
