// One running job per state directory (does I/O): a LOCK file naming the holder's pid and job,
// created atomically. A lock whose process is gone (kill -9) is taken over; a live one is refused
// before anything in the directory is touched.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { FloeError } from '../../core/errors.js';
import { ensureUsableDirectory } from '../usable-directory.js';

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

/** Which directory a lock guards: its error code, its name in messages and the setting that moves it. */
export interface LockPurpose {
  code: 'STATE_DIR_IN_USE' | 'CHECKPOINT_DIR_IN_USE';
  what: string;
  option: string;
}

const STATE_DIR: LockPurpose = { code: 'STATE_DIR_IN_USE', what: 'state directory', option: "--state-dir DIR, or stateBackend: { kind: 'disk', dir }" };

/** Directories locked by live StateDirLock objects of this process. */
const held = new Set<string>();

/**
 * Takes the lock of `dir` (creating the directory), or throws STATE_DIR_IN_USE (or the purpose's
 * code) naming the directory, the holder's pid and job, and what to do; DIRECTORY_UNUSABLE when
 * the directory cannot be created or written.
 */
export function lockStateDir(dir: string, owner: { job: string }, purpose: LockPurpose = STATE_DIR): StateDirLock {
  const abs = ensureUsableDirectory(resolve(dir), purpose);
  const path = join(abs, 'LOCK');
  const mine: StateDirHolder = { pid: process.pid, job: owner.job, startedAt: new Date().toISOString(), host: hostname(), token: crypto.randomUUID() };
  const content = JSON.stringify(mine);
  try {
    writeDurably(path, content, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = readStateDirLock(abs);
    if (holder !== undefined && isLive(holder, abs))
      throw new FloeError(
        purpose.code,
        `The ${purpose.what} ${abs} is in use by process ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`} (job '${holder.job}', since ${holder.startedAt}). Stop that job, or give this one another ${purpose.what} (${purpose.option}).`,
      );
    // The holder is gone (or the file is unreadable): take over atomically.
    const tmp = `${path}.${mine.token}`;
    try {
      writeDurably(tmp, content, 'w');
      renameSync(tmp, path);
    } catch (takeOverError) {
      rmSync(tmp, { force: true });
      throw takeOverError;
    }
    fsyncDir(abs);
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

/**
 * The holder named by `dir`'s LOCK file, or undefined when there is none or it is not a lock this
 * module wrote (unreadable, truncated, hand-edited): such a file is taken over, never obeyed.
 */
export function readStateDirLock(dir: string): StateDirHolder | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(resolve(dir), 'LOCK'), 'utf8'));
  } catch {
    return undefined;
  }
  return isHolder(parsed) ? parsed : undefined;
}

// pid 0 and negative pids must be rejected: process.kill(0 or -n, 0) signals a process group and
// succeeds, so such a file would look held forever.
function isHolder(value: unknown): value is StateDirHolder {
  if (typeof value !== 'object' || value === null) return false;
  const h = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(h.pid) &&
    (h.pid as number) > 0 &&
    typeof h.host === 'string' &&
    h.host !== '' &&
    typeof h.job === 'string' &&
    typeof h.startedAt === 'string' &&
    typeof h.token === 'string'
  );
}

function writeDurably(path: string, content: string, flags: 'w' | 'wx'): void {
  const fd = openSync(path, flags);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename in `dir` survive a crash (a no-op where directories cannot be opened, e.g. Windows). */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort: the lock itself is already in place
  } finally {
    if (fd !== undefined) closeSync(fd);
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
