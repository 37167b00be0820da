// Durable small-file writes (temporary name, write, fsync, rename, fsync of the directory) done
// in one trip to a helper thread. Done with fs/promises, each of those steps is a turn of the
// event loop that busy subtasks share (~4 ms each while records flow), so committing a checkpoint
// took ~20 turns: about 100 ms of wall time for 2 ms of disk work. Here the steps run with
// synchronous calls on the helper thread and the event loop sees one message back. The helper is
// started on first use and does not keep the process alive while nothing is pending.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Larger files are written from this thread with fs/promises: sending them to the helper copies
 * their bytes (a savepoint's file can be hundreds of MB), and for them the disk, not the few loop
 * turns, is what takes time.
 */
const HELPER_MAX_BYTES = 4 << 20;

/** One file to write durably; `syncDirectory` also fsyncs its directory after the rename. */
export interface DurableWrite {
  path: string;
  chunks: Uint8Array[];
  syncDirectory: boolean;
}

// Plain JavaScript evaluated in the helper: no loader (tsx, vitest) is needed to start it.
const HELPER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { dirname } = require('node:path');
const { randomBytes } = require('node:crypto');
parentPort.on('message', ({ id, write }) => {
  const tmp = write.path + '.tmp-' + randomBytes(4).toString('hex');
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writevSync(fd, write.chunks);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, write.path);
    if (write.syncDirectory) {
      const dir = fs.openSync(dirname(write.path), 'r');
      try { fs.fsyncSync(dir); } finally { fs.closeSync(dir); }
    }
    parentPort.postMessage({ id });
  } catch (error) {
    try { fs.rmSync(tmp, { force: true }); } catch {}
    parentPort.postMessage({ id, error: { message: error.message, code: error.code } });
  }
});
`;

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
}

let helper: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

function startHelper(): Worker {
  const worker = new Worker(HELPER_SOURCE, { eval: true });
  worker.on('message', ({ id, error }: { id: number; error?: { message: string; code?: string } }) => {
    const waiter = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    if (waiter === undefined) return;
    if (error === undefined) waiter.resolve();
    else waiter.reject(Object.assign(new Error(error.message), { code: error.code }));
  });
  const failAll = (error: Error): void => {
    if (helper === worker) helper = undefined;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the durable-write helper thread exited with code ${code}`)));
  worker.unref();
  return worker;
}

/**
 * Writes `write.chunks` to `write.path` atomically and durably: a reader sees the old file or
 * the whole new one, and after this resolves the new one survives a crash. Rejects with the
 * file system's error (its `code`, e.g. ENOSPC) and leaves no temporary file behind.
 */
export function writeDurably(write: DurableWrite): Promise<void> {
  if (write.chunks.reduce((n, c) => n + c.length, 0) > HELPER_MAX_BYTES) return writeHere(write);
  helper ??= startHelper();
  const worker = helper;
  const id = nextId++;
  return new Promise<void>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.ref();
    worker.postMessage({ id, write });
  });
}

/** The same steps with fs/promises, on this thread (large files). */
async function writeHere(write: DurableWrite): Promise<void> {
  const tmp = `${write.path}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writev(write.chunks);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, write.path);
    if (write.syncDirectory) await fsyncDirectory(dirname(write.path));
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw error;
  }
}

/** Fsyncs a directory, so the renames and links in it survive a crash. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
