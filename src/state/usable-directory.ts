// Checks that a directory Floe writes to (state, checkpoints) can be used, creating it level by
// level (does I/O). Node's recursive mkdir spins forever under /proc; this never recurses blindly.
import { accessSync, constants, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { FloeError } from '../core/errors.js';

/** What the directory is for, so the error can say which setting to change. */
export interface DirectoryPurpose {
  /** "checkpoint directory", "state directory". */
  what: string;
  /** The setting that chooses it: "--checkpoint-dir DIR (checkpointing.directory)". */
  option: string;
}

/**
 * Creates `dir` (and missing parents, one level at a time) and proves it is a writable directory
 * by creating and deleting a probe file. Throws DIRECTORY_UNUSABLE naming the directory, the
 * reason and the setting to change. Returns the absolute path. Cost: a few syscalls.
 */
export function ensureUsableDirectory(dir: string, purpose: DirectoryPurpose): string {
  const abs = resolve(dir);
  const unusable = (why: string, cause?: unknown): FloeError =>
    new FloeError('DIRECTORY_UNUSABLE', `The ${purpose.what} ${abs} cannot be used: ${why}. Choose a writable directory with ${purpose.option}.`, { cause });
  const missing: string[] = [];
  for (let path = abs; ; ) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw unusable(`cannot inspect ${path} (${code ?? (cause as Error).message})`, cause);
      const parent = dirname(path);
      if (parent === path) throw unusable(`its file system root ${path} does not exist`, cause);
      missing.unshift(path);
      path = parent;
      continue;
    }
    if (!isDirectory) throw unusable(`${path} is not a directory`);
    break;
  }
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw unusable(`cannot create ${path} (${code ?? (cause as Error).message})`, cause);
    }
  }
  try {
    accessSync(abs, constants.R_OK | constants.W_OK | constants.X_OK);
    const probe = join(abs, `.floe-probe-${randomBytes(4).toString('hex')}`);
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw unusable(`it is not writable (${code ?? (cause as Error).message})`, cause);
  }
  return abs;
}
