// A full disk under the disk backend's state directory: LMDB's "No space left on device" and its
// "Input/output error" become one STATE_DISK_FULL line naming the directory, the free space and
// the fix. The failure is injected at the store's write seam; no disk has to fill up.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { FloeError } from '../../../../src/core/errors.js';
import { KeyGroupRange } from '../../../../src/core/key-groups.js';
import { ValueStateDescriptor } from '../../../../src/state/descriptors.js';
import { DiskKeyedStateBackend, DiskStateBackend } from '../../../../src/state/disk/disk-state-backend.js';
import { diskFullError, diskWriteFailureKind } from '../../../../src/state/disk/disk-write-failure.js';

const root = mkdtempSync(join(tmpdir(), 'floe-disk-full-'));
const open: DiskKeyedStateBackend[] = [];
afterAll(async () => {
  await Promise.all(open.map((b) => b.dispose()));
  rmSync(root, { recursive: true, force: true });
});

function backend(name: string): DiskKeyedStateBackend {
  const b = new DiskStateBackend({ dir: join(root, name) }).createKeyedStateBackend({
    operator: 'counter',
    job: 'full',
    subtask: 1,
    parallelism: 2,
    maxParallelism: 32,
    keyGroupRange: KeyGroupRange.of(0, 31),
    ttlClock: new ManualClock(0),
  });
  if (!(b instanceof DiskKeyedStateBackend)) throw new Error('the disk backend creates DiskKeyedStateBackend instances');
  open.push(b);
  return b;
}

/** An error as lmdb-js throws it for an errno (strerror text, numeric code). */
function lmdbError(text: string, errno: number): Error {
  return Object.assign(new Error(text), { code: errno });
}

function thrownBy(write: () => void): FloeError {
  try {
    write();
  } catch (error) {
    return error as FloeError;
  }
  throw new Error('the write did not fail');
}

describe('disk backend on a full disk', () => {
  it.each([
    ['No space left on device', 28],
    ['Input/output error', 5],
  ])('turns an LMDB write failing with "%s" into one STATE_DISK_FULL line naming the state directory, the free space and what to do', (text, errno) => {
    const b = backend(`lmdb-${errno}`);
    const count = b.getState(new ValueStateDescriptor<number>('count'));
    const db = b.store.db('count');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    db.putSync = () => {
      throw lmdbError(text, errno);
    };
    b.setCurrentKey('k');
    const error = thrownBy(() => count.update(1));
    const printed = stderr.mock.calls.map(([text]) => text);
    stderr.mockRestore();
    expect(error).toBeInstanceOf(FloeError);
    expect(error.code).toBe('STATE_DISK_FULL');
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(join(root, `lmdb-${errno}`));
    expect(error.message).toMatch(/\d+(\.\d)? [KMGT]iB free of \d/);
    expect(error.message).toContain('--state-dir');
    expect(error.message).toContain("operator 'counter'");
    // LMDB's own "Write error: ... position N" line has no newline: ours starts on a line of its own.
    expect(printed).toEqual(['\n']);
  });

  it('leaves other store failures as IO_ERROR with their own message', () => {
    const b = backend('other');
    const count = b.getState(new ValueStateDescriptor<number>('count'));
    b.store.db('count').putSync = () => {
      throw lmdbError('MDB_BAD_TXN: Transaction must abort, has a child, or is invalid', -30782);
    };
    b.setCurrentKey('k');
    const error = thrownBy(() => count.update(1));
    expect(error.code).toBe('IO_ERROR');
    expect(error.message).toContain('MDB_BAD_TXN');
  });

  it('recognizes a real ENOSPC from a file write (the change log, a materialization)', () => {
    const fd = openSync('/dev/full', 'w');
    let cause: unknown;
    try {
      writeSync(fd, Buffer.alloc(16));
    } catch (error) {
      cause = error;
    } finally {
      closeSync(fd);
    }
    expect(diskWriteFailureKind(cause)).toBe('no-space');
    const error = diskFullError({ place: "operator 'counter', subtask 1", dir: '/var/floe/state', cause, space: { free: 0, total: 8 * 1024 ** 3 } });
    expect(error?.message).toBe(
      "operator 'counter', subtask 1: the disk state backend cannot write to its state directory /var/floe/state (no space left on device; 0 B free of 8.0 GiB). " +
        'Free space on that disk or move the state directory to a larger one (--state-dir, or DiskStateBackend({ dir })); the job resumes from its last checkpoint when restarted.',
    );
    expect(diskWriteFailureKind(new Error('EACCES: permission denied'))).toBeUndefined();
  });
});
