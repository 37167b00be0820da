// One running job per state directory (does I/O): a LOCK file naming the holder's pid and job,
// created atomically. A lock whose process is gone (kill -9) is taken over; a live one is refused
// before anything in the directory is touched.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { FloeError } from '../../core/errors.js';

export interface StateDirLock {
  readonly dir: string;
  release(): void;
}

/** What a LOCK file says. */
export interface StateDirHolder {
  pid: number;
  job: string;
  startedAt: string;
  host: string;
  token: string;
}

/** Directories locked by live StateDirLock objects of this process. */
const held = new Set<string>();

/**
 * Takes the lock of `dir` (creating the directory), or throws STATE_DIR_IN_USE naming the
 * directory, the holder's pid and job, and what to do.
 */
export function lockStateDir(dir: string, owner: { job: string }): StateDirLock {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const path = join(abs, 'LOCK');
  const mine: StateDirHolder = { pid: process.pid, job: owner.job, startedAt: new Date().toISOString(), host: hostname(), token: randomBytes(8).toString('hex') };
  const content = JSON.stringify(mine);
  try {
    const fd = openSync(path, 'wx');
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = readStateDirLock(abs);
    if (holder !== undefined && isLive(holder, abs))
      throw new FloeError(
        'STATE_DIR_IN_USE',
        `The state directory ${abs} is in use by process ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`} (job '${holder.job}', since ${holder.startedAt}). Stop that job, or give this one another state directory (--state-dir DIR, or stateBackend: { kind: 'disk', dir }).`,
      );
    // The holder is gone (or the file is unreadable): take over atomically.
    const tmp = `${path}.${mine.token}`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }
  held.add(abs);
  let released = false;
  return {
    dir: abs,
    release() {
      if (released) return;
      released = true;
      held.delete(abs);
      const current = readStateDirLock(abs);
      if (current !== undefined && current.pid === mine.pid && current.token === mine.token) rmSync(path, { force: true });
    },
  };
}

/** The holder named by `dir`'s LOCK file, or undefined when there is none (or it is unreadable). */
export function readStateDirLock(dir: string): StateDirHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(resolve(dir), 'LOCK'), 'utf8')) as StateDirHolder;
    return Number.isInteger(parsed.pid) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isLive(holder: StateDirHolder, dir: string): boolean {
  if (holder.host !== hostname()) return true; // cannot tell: assume it runs
  if (holder.pid === process.pid) return held.has(dir);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
