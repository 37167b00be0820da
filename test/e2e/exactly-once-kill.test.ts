// Fault injection with real processes and real signals: a keyed counting job with the
// transactional sink is SIGKILLed at random moments (once while a checkpoint is being written),
// restarted from its checkpoint directory each time, and its committed output must equal a
// failure-free run exactly: every record once, every running count right.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';

const root = resolve(import.meta.dirname, '../..');
const job = join(root, 'test/e2e/jobs/exactly-once-count.ts');
const EVENTS = 30_000;
const RATE = 10_000;

function start(dir: string, backend: 'heap' | 'disk'): { child: ChildProcess; done: Promise<number | null> } {
  const state = backend === 'disk' ? ['--state-backend', 'disk', '--state-dir', join(dir, 'state')] : [];
  const child = spawn(process.execPath, [join(root, 'bin/floe.mjs'), 'run', job, ...state, '--checkpoint-dir', join(dir, 'chk'), '--checkpoint-interval', '100', '-q', join(dir, 'out'), String(EVENTS), String(RATE)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once a checkpoint is being written (its directory exists, its _metadata not yet). */
async function checkpointInProgress(dir: string, limitMs: number): Promise<boolean> {
  const chk = join(dir, 'chk');
  for (const t0 = Date.now(); Date.now() - t0 < limitMs; ) {
    if (existsSync(chk) && readdirSync(chk).some((n) => n.startsWith('chk-') && !existsSync(join(chk, n, '_metadata')))) return true;
    await new Promise((r) => setImmediate(r));
  }
  return false;
}

function expected() {
  const counts = new Map<string, number>();
  return Array.from({ length: EVENTS }, (_, i) => {
    const key = `k${(i * 7919) % 97}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return { key, i, n };
  });
}

describe('exactly-once after kill -9', () => {
  it.each(['heap', 'disk'] as const)('commits every record exactly once across 5 SIGKILLs and restarts (%s state backend)', async (backend) => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-kill-'));
    let kills = 0;
    let killedDuringCheckpoint = false;
    for (let round = 0; round < 5; round++) {
      const run = start(dir, backend);
      if (round === 0) {
        killedDuringCheckpoint = await checkpointInProgress(dir, 30_000);
      } else await sleep(300 + Math.floor(Math.random() * 700));
      run.child.kill('SIGKILL');
      const code = await run.done;
      if (code === null) kills++;
    }
    const final = start(dir, backend);
    expect(await final.done).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(killedDuringCheckpoint).toBe(true);
    const committed = await readCommittedJsonLines<{ key: string; i: number; n: number }>(join(dir, 'out'));
    committed.sort((a, b) => a.i - b.i);
    expect(committed).toEqual(expected());
    expect(readdirSync(join(dir, 'out')).filter((n) => n.endsWith('.inprogress'))).toEqual([]);
  }, 120_000);

  it('gives the demo (event time, timers, sessions) the same sessions after kill -9 and resume as without failures', async () => {
    const runDemo = (cwd: string) =>
      spawn(process.execPath, [join(root, 'bin/floe.mjs'), 'run', join(root, 'examples/demo.ts'), '-q', '--events', '400000', '--users', '2000'], { cwd, stdio: 'ignore' });
    const exit = (c: ChildProcess) => new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    const sessions = async (cwd: string) =>
      (await readCommittedJsonLines<{ user: string; start: number; end: number; events: number }>(join(cwd, '.floe/demo/sessions')))
        .map((s) => `${s.user}|${s.start}|${s.end}|${s.events}`)
        .sort();
    const clean = mkdtempSync(join(tmpdir(), 'floe-demo-clean-'));
    expect(await exit(runDemo(clean))).toBe(0);
    const killed = mkdtempSync(join(tmpdir(), 'floe-demo-killed-'));
    for (let round = 0; round < 2; round++) {
      const child = runDemo(killed);
      const inCheckpoint = await checkpointInProgressIn(join(killed, '.floe/demo/checkpoints'), 10_000);
      child.kill('SIGKILL');
      expect(await exit(child)).toBe(null);
      expect(inCheckpoint).toBe(true);
    }
    expect(await exit(runDemo(killed))).toBe(0);
    expect(await sessions(killed)).toEqual(await sessions(clean));
  }, 120_000);
});

async function checkpointInProgressIn(chk: string, limitMs: number): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < limitMs; ) {
    if (existsSync(chk) && readdirSync(chk).some((n) => n.startsWith('chk-') && !existsSync(join(chk, n, '_metadata')))) return true;
    await new Promise((r) => setImmediate(r));
  }
  return false;
}
