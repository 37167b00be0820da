// Stopping `floe run` with signals: the first Ctrl-C stops the job cleanly, a second one stops
// the process at once even while the job is still busy stopping.
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
let running: ChildProcess | undefined;
afterEach(() => {
  if (running !== undefined && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL'); // also after a timeout
});

describe('signals', () => {
  it('stops the process at once on a second Ctrl-C while the job is still busy stopping', async () => {
    const child = (running = spawn(process.execPath, [join(root, 'bin/floe.mjs'), 'run', join(root, 'test/e2e/jobs/slow-to-stop.ts'), '-q'], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    const waitFor = (text: string) =>
      new Promise<void>((r) => {
        const check = () => (stderr.includes(text) ? r() : undefined);
        child.stderr.on('data', (d) => {
          stderr += d;
          check();
        });
        check();
      });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    await waitFor('sink open');
    child.kill('SIGINT');
    await waitFor('stopping the job');
    child.kill('SIGINT');
    expect(await exited).toEqual({ code: 130, signal: null });
    expect(stderr).toContain('SIGINT again: stopping now without waiting for the job');
  }, 30_000);
});
