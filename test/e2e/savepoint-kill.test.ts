// kill -9 while a savepoint is written: the partial savepoint is never restorable (and says so),
// and the job's checkpoints are unaffected: the next run resumes from them, exactly once.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';
import { completedCheckpointIds } from '../fixtures/checkpoint-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const job = join(root, 'test/e2e/jobs/many-keys-count.ts');
const EVENTS = 1_500_000;
const KEYS = 300_000;

describe('kill -9 during a savepoint', () => {
  it('leaves a partial savepoint that is refused, and checkpoints that resume exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-savepoint-kill-'));
    const env = { ...process.env, FLOE_HOME: join(dir, 'home') };
    const chk = join(dir, 'chk');
    const savepoints = join(dir, 'savepoints');
    const args = [job, '--checkpoint-dir', chk, '--checkpoint-interval', '300', '-q', join(dir, 'out'), String(EVENTS), String(KEYS)];
    const child = spawn(process.execPath, [floe, 'run', ...args], { stdio: 'ignore', env });
    const exited = new Promise((r) => child.on('exit', r));
    // Once a checkpoint holds a good part of the keys, ask for a savepoint and kill the job as soon as its directory appears.
    while (completedCheckpointIds(chk).length < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    const request = spawn(process.execPath, [floe, 'savepoint', 'many-keys-count', savepoints], { stdio: 'ignore', env });
    const partial = (): string | undefined => (existsSync(savepoints) ? readdirSync(savepoints).map((n) => join(savepoints, n))[0] : undefined);
    while (partial() === undefined && child.exitCode === null) await new Promise((r) => setImmediate(r));
    child.kill('SIGKILL');
    await exited;
    request.kill();
    const written = partial();
    expect(written).toBeDefined();
    expect(existsSync(join(written!, '_metadata'))).toBe(false);

    const refused = spawnSync(process.execPath, [floe, 'run', job, '--from-savepoint', written!, '-q', join(dir, 'out-2'), String(EVENTS), String(KEYS)], { encoding: 'utf8', env });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/not a complete savepoint/);

    const resumed = spawnSync(process.execPath, [floe, 'run', ...args], { encoding: 'utf8', env, timeout: 120_000 });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/restoring from checkpoint \d+/);
    const committed = await readCommittedJsonLines<{ key: string; i: number; n: number }>(join(dir, 'out'));
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: KEYS }, (_, j) => EVENTS - KEYS + j));
    expect(committed.every((r) => r.n === EVENTS / KEYS)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
