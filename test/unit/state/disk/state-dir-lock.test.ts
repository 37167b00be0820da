// The state-directory lock: one holder at a time, stale locks of dead processes taken over,
// live ones refused without touching the directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockStateDir, readStateDirLock } from '../../../../src/state/disk/state-dir-lock.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'floe-lock-'));
  dirs.push(d);
  return d;
}

function fakeLock(dir: string, pid: number): string {
  const content = JSON.stringify({ pid, job: 'other', startedAt: '2026-01-01T00:00:00Z', host: hostname(), token: 'x' });
  writeFileSync(join(dir, 'LOCK'), content);
  return content;
}

describe('state directory lock', () => {
  it('is taken, refused while held in this process, and taken again after release', () => {
    const dir = tempDir();
    const lock = lockStateDir(dir, { job: 'a' });
    expect(readStateDirLock(dir)?.pid).toBe(process.pid);
    expect(() => lockStateDir(dir, { job: 'b' })).toThrow(expect.objectContaining({ code: 'STATE_DIR_IN_USE', message: expect.stringContaining(`${dir} is in use by process ${process.pid}`) }));
    lock.release();
    lock.release(); // idempotent
    expect(readStateDirLock(dir)).toBeUndefined();
    lockStateDir(dir, { job: 'b' }).release();
  });

  it('takes over the lock of a process that died (kill -9 leaves it behind)', async () => {
    const dir = tempDir();
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('exit', r));
    fakeLock(dir, dead.pid!);
    const lock = lockStateDir(dir, { job: 'a' });
    expect(readStateDirLock(dir)?.pid).toBe(process.pid);
    lock.release();
  });

  it('refuses a lock held by a live process and leaves it as it is', async () => {
    const dir = tempDir();
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    children.push(live);
    const content = fakeLock(dir, live.pid!);
    expect(() => lockStateDir(dir, { job: 'a' })).toThrow(/in use by process \d+ \(job 'other'/);
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(content);
  });

  it('takes over an unreadable lock file, and one naming pid 0 (kill(0) would signal a whole process group)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'LOCK'), 'garbage');
    lockStateDir(dir, { job: 'a' }).release();
    fakeLock(dir, 0);
    lockStateDir(dir, { job: 'a' }).release();
  });

  it('does not delete a lock that another holder took over', () => {
    const dir = tempDir();
    const lock = lockStateDir(dir, { job: 'a' });
    const content = fakeLock(dir, 999_999_999);
    lock.release();
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(content);
  });
});
