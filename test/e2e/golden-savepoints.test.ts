// Golden output survives savepoints, rescaling, backends and kill -9 (Arroyo's smoke tests): the
// golden job runs straight through at p=1; then again p=2 (heap) -> stop with a savepoint -> p=3
// on disk -> kill -9 -> resume from its checkpoints -> stop with a savepoint -> p=1 on heap to the
// end. The committed sessions of both must be identical.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';
import { completedCheckpointIds } from '../fixtures/checkpoint-dirs.js';

const root = resolve(import.meta.dirname, '../..');
const floe = join(root, 'bin/floe.mjs');
const job = join(root, 'test/e2e/jobs/golden-sessions.ts');
const EVENTS = '150000'; // at 15,000/s the stopped runs last long enough for the commands, also on a busy machine

describe('golden output through savepoints, rescaling, both backends and kill -9', () => {
  it('commits exactly the sessions of a straight run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-golden-'));
    const env = { ...process.env, FLOE_HOME: join(dir, 'home') };
    const sync = (args: string[]) => spawnSync(process.execPath, [floe, ...args], { encoding: 'utf8', env, timeout: 120_000 });
    const jobArgs = (out: string, rate: string) => [out, EVENTS, '300', rate];
    const start = (args: string[]) => {
      const child = spawn(process.execPath, [floe, 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      return { child, exited: new Promise<number | null>((r) => child.on('exit', (code) => r(code))), stderr: () => stderr };
    };
    const waitForCheckpoints = async (chk: string, n: number, running: { child: { exitCode: number | null } }) => {
      const before = Math.max(0, ...completedCheckpointIds(chk));
      while (completedCheckpointIds(chk).filter((id) => id > before).length < n && running.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    };

    const straight = sync(['run', job, '-p', '1', '--checkpoint-dir', join(dir, 'chk-straight'), '-q', ...jobArgs(join(dir, 'straight'), '0')]);
    expect(straight.status, straight.stderr).toBe(0);
    const golden = (await readCommittedJsonLines<object>(join(dir, 'straight'))).map((s) => JSON.stringify(s)).sort();
    expect(golden.length).toBeGreaterThan(500);

    const out = join(dir, 'out');
    // p=2 on heap, stopped with a savepoint while it runs
    const first = start([job, '-p', '2', '--checkpoint-dir', join(dir, 'chk-a'), '--checkpoint-interval', '200', '-q', ...jobArgs(out, '15000')]);
    await waitForCheckpoints(join(dir, 'chk-a'), 2, first);
    const stop1 = sync(['stop', '--savepoint', join(dir, 'savepoints'), 'golden-sessions']);
    expect(stop1.status, stop1.stderr).toBe(0);
    expect(await first.exited).toBe(0);
    // p=3 on disk from it, killed after a checkpoint of its own
    const args3 = [job, '-p', '3', '--state-backend', 'disk', '--state-dir', join(dir, 'state'), '--checkpoint-dir', join(dir, 'chk-b'), '--checkpoint-interval', '200', '-q', ...jobArgs(out, '15000')];
    const second = start([...args3, '--from-savepoint', stop1.stdout.trim()]);
    await waitForCheckpoints(join(dir, 'chk-b'), 2, second);
    second.child.kill('SIGKILL');
    await second.exited;
    // resumed from its checkpoints, then stopped with a savepoint
    const third = start(args3);
    await waitForCheckpoints(join(dir, 'chk-b'), 2, third);
    const stop2 = sync(['stop', '--savepoint', join(dir, 'savepoints'), 'golden-sessions']);
    expect(stop2.status, `${stop2.stderr}\n${stop2.stdout}\n${third.stderr()}`).toBe(0);
    expect(await third.exited, third.stderr()).toBe(0);
    expect(third.stderr()).toMatch(/restoring from checkpoint \d+/);
    // p=1 on heap to the end
    const last = sync(['run', job, '-p', '1', '--checkpoint-dir', join(dir, 'chk-c'), '-q', '--from-savepoint', stop2.stdout.trim(), ...jobArgs(out, '0')]);
    expect(last.status, last.stderr).toBe(0);

    const committed = (await readCommittedJsonLines<object>(out)).map((s) => JSON.stringify(s)).sort();
    expect(committed).toEqual(golden);
    rmSync(dir, { recursive: true, force: true });
  }, 240_000);
});
