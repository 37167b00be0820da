// Stopping `floe run` with signals: the first Ctrl-C stops the job cleanly, a second one stops
// the process at once even while the job is still busy stopping.
import { type ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const stateDir = join(tmpdir(), `floe-signals-${process.pid}`);
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
let running: ChildProcess | undefined;
afterEach(() => {
  if (running !== undefined && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL'); // also after a timeout
});

describe('signals', () => {
  it.each([
    ['heap', []],
    ['disk', ['--state-backend', 'disk', '--state-dir', stateDir]],
  ])('stops the process at once on a second Ctrl-C while the job is still busy stopping (%s state backend)', async (_backend, backendArgs) => {
    const child = (running = spawn(process.execPath, [join(root, 'bin/floe.mjs'), 'run', join(root, 'test/e2e/jobs/slow-to-stop.ts'), '-q', ...backendArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }));
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
    expect(await exited).toEqual({ code: null, signal: 'SIGINT' }); // ended by the signal itself (exit status 130 in a shell)
    expect(stderr).toContain('SIGINT again: stopping now without waiting for the job');
  }, 30_000);
});
