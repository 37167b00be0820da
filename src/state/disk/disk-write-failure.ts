// What the disk backend says when the disk under its state directory refuses a write (reads the
// file system's free space): a full disk (ENOSPC) and the input/output error LMDB reports for a
// write that did not fit (EIO) become one STATE_DISK_FULL error on one line that says what to do.
import { statfsSync } from 'node:fs';
import { FloeError } from '../../core/errors.js';

/** errno values as node (`code`) and lmdb-js (numeric `code`, strerror text) report them. */
const NO_SPACE = { code: 'ENOSPC', errno: 28, text: /no space left on device/i };
const IO_ERROR = { code: 'EIO', errno: 5, text: /input\/output error/i };

/** Which kind of write failure `cause` is, if it is one of the two a full disk produces. */
export function diskWriteFailureKind(cause: unknown): 'no-space' | 'io-error' | undefined {
  const error = cause as { code?: unknown; errno?: unknown; message?: unknown } | undefined;
  const matches = (known: typeof NO_SPACE) =>
    error?.code === known.code || error?.code === known.errno || error?.errno === -known.errno || (typeof error?.message === 'string' && known.text.test(error.message));
  if (matches(NO_SPACE)) return 'no-space';
  if (matches(IO_ERROR)) return 'io-error';
  return undefined;
}

/** Free and total bytes of the file system holding `dir` (undefined when it cannot be read). */
export function fileSystemSpace(dir: string): { free: number; total: number } | undefined {
  try {
    const s = statfsSync(dir);
    return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
}

export interface DiskWriteFailure {
  /** Names the operator instance (and state) that wrote. */
  place: string;
  /** The state directory the write went to. */
  dir: string;
  cause: unknown;
  /** Free space of `dir`'s file system; measured when not given. */
  space?: { free: number; total: number };
}

/**
 * STATE_DISK_FULL for a write refused for lack of space (or with EIO, which LMDB reports for a
 * short write on a full disk); undefined for any other failure, which the caller reports itself.
 */
export function diskFullError(failure: DiskWriteFailure): FloeError | undefined {
  const kind = diskWriteFailureKind(failure.cause);
  if (kind === undefined) return undefined;
  const space = failure.space ?? fileSystemSpace(failure.dir);
  const free = space === undefined ? 'free space unknown' : `${formatBytes(space.free)} free of ${formatBytes(space.total)}`;
  const what = kind === 'no-space' ? 'no space left on device' : 'input/output error, which is how LMDB reports a write that did not fit on the disk';
  return new FloeError(
    'STATE_DISK_FULL',
    `${failure.place}: the disk state backend cannot write to its state directory ${failure.dir} (${what}; ${free}). ` +
      'Free space on that disk or move the state directory to a larger one (--state-dir, or DiskStateBackend({ dir })); the job resumes from its last checkpoint when restarted.',
    { cause: failure.cause },
  );
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
