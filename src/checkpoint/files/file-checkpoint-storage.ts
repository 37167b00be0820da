// Checkpoints in a directory (does I/O): `chk-<id>/_metadata` plus data files. Every file is
// written to a temporary name, fsynced and renamed; a checkpoint exists only once its _metadata
// is complete. Data files carry a format header and end with the sha256 of their content; the
// metadata records each file's size and sha256 too, and restore verifies all of them. `shared/`
// holds the files of incremental checkpoints: a checkpoint lists the shared files it needs, and a
// shared file is deleted only when no remaining checkpoint lists it.
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { copyFile, link, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { FloeError } from '../../core/errors.js';
import type { CheckpointDirectoryListing } from '../recovery-choice.js';
import { verifyNewestFirst, type CheckpointMetadataEnvelope, type CheckpointStorage, type CheckpointWriter, type StoredFile } from '../checkpoint-storage.js';
import { fsyncDirectory, writeDurably } from './durable-writes.js';

/** Format version of data files and metadata written by this Floe. */
export const CHECKPOINT_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('FLOE');
/** Every data file ends with the sha256 of everything before it. */
const TRAILER_BYTES = 32;
const METADATA = '_metadata';
const SHARED = 'shared/';
/**
 * The newest completed checkpoint id: tells a deleted `_metadata` from an attempt that never
 * completed. Written after `_metadata` and before anyone is told the checkpoint completed, so
 * every checkpoint whose output a sink committed is recorded.
 */
const LAST_COMPLETED = '_last-completed';

export type { CheckpointMetadataEnvelope, CheckpointWriter, StoredFile } from '../checkpoint-storage.js';

export class FileCheckpointStorage implements CheckpointStorage {
  /** What this storage last read from or wrote to its LAST_COMPLETED marker (one job writes a directory). */
  private lastCompletedMarker: number | undefined;

  /**
   * `directory` holds `chk-<id>` directories and `shared/`. With `{ savepoint: true }` the
   * directory is one savepoint: its `_metadata` and data files directly, nothing shared, so it can
   * be copied or moved anywhere and restored from there.
   */
  constructor(
    readonly directory: string,
    private readonly layout: { savepoint: boolean } = { savepoint: false },
  ) {}

  get location(): string {
    return this.directory;
  }

  /** A storage over one savepoint directory (written by {@link beginCheckpoint} into it, or read). */
  static savepoint(directory: string): FileCheckpointStorage {
    return new FileCheckpointStorage(directory, { savepoint: true });
  }

  /** How errors name checkpoint `id` of this storage. */
  private what(id: number): string {
    return this.layout.savepoint ? `Savepoint ${this.directory}` : `Checkpoint ${id}`;
  }

  private dirOf(id: number): string {
    return this.layout.savepoint ? this.directory : join(this.directory, `chk-${id}`);
  }

  /** Where a file of checkpoint `id` lives: `shared/...` names are relative to the storage's root. */
  pathOf(id: number, name: string): string {
    return name.startsWith(SHARED) ? join(this.directory, name) : join(this.dirOf(id), name);
  }

  /**
   * Puts a finished, immutable local file (already framed and checksummed by its writer) into
   * `shared/` under `file.name` (which starts with `shared/`): a hard link when both are on one
   * file system, else a copy; then fsyncs the directory. The caller may delete its local path.
   */
  async putShared(localPath: string, file: StoredFile): Promise<StoredFile> {
    if (!file.name.startsWith(SHARED) || file.name.includes('..')) throw new FloeError('INVALID_ARGUMENT', `A shared checkpoint file must be named shared/<name>, got ${file.name}`);
    const target = join(this.directory, file.name);
    const tmp = `${target}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(join(this.directory, 'shared'), { recursive: true });
      try {
        await link(localPath, tmp);
      } catch {
        await copyFile(localPath, tmp);
        const handle = await open(tmp, 'r+');
        await handle.sync().finally(() => handle.close());
      }
      await rename(tmp, target);
      await fsyncDirectory(join(this.directory, 'shared'));
    } catch (cause) {
      await rm(tmp, { force: true }).catch(() => {});
      throw writeFailed(`cannot write ${target}`, cause);
    }
    return { name: file.name, size: file.size, sha256: file.sha256 };
  }

  async beginCheckpoint(id: number): Promise<CheckpointWriter> {
    const dir = this.dirOf(id);
    try {
      // Synchronous: creating directories is quick metadata work, while each awaited step would
      // wait for a turn of an event loop that busy subtasks share (a few ms each).
      if (this.layout.savepoint) {
        mkdirSync(dirname(dir), { recursive: true });
        mkdirSync(dir); // a savepoint never writes into an existing directory
        return this.directoryWriter(id, dir);
      }
      mkdirSync(join(this.directory, 'shared'), { recursive: true });
      mkdirSync(join(this.directory, 'taskowned'), { recursive: true });
      if (existsSync(dir) && !existsSync(join(dir, METADATA))) await rm(dir, { recursive: true, force: true }); // a leftover of an aborted attempt
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw writeFailed(`cannot create ${dir}`, cause);
    }
    return this.directoryWriter(id, dir);
  }

  private directoryWriter(id: number, dir: string): CheckpointWriter {
    // Completing and aborting exclude each other: an abort that arrives while _metadata is being
    // written leaves the checkpoint complete (a restore commits what it pre-committed), and a
    // checkpoint that was aborted cannot complete afterwards.
    let state: 'open' | 'completing' | 'completed' | 'aborted' = 'open';
    return {
      checkpointId: id,
      writeFile: async (name, bytes) => {
        const header = Buffer.alloc(MAGIC.length + 2);
        MAGIC.copy(header);
        header.writeUInt16BE(CHECKPOINT_FORMAT_VERSION, MAGIC.length);
        const chunks = [header, ...(Array.isArray(bytes) ? bytes : [bytes])];
        const contentSize = chunks.reduce((n, c) => n + c.length, 0);
        // Large files are hashed in the thread pool (WebCrypto), not on the task's thread. The
        // checksum is both the file's trailer (self-checking) and recorded in _metadata.
        const sha256 = await sha256Hex(chunks, contentSize);
        await atomicWrite(join(dir, name), [...chunks, Buffer.from(sha256, 'hex')], { syncDirectory: false });
        return { name, size: contentSize + TRAILER_BYTES, sha256 };
      },
      complete: async (metadata, files) => {
        if (state !== 'open') throw new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${id} cannot complete: it was ${state === 'aborted' ? 'aborted' : 'completed before'}`);
        state = 'completing';
        const envelope: CheckpointMetadataEnvelope = {
          format: CHECKPOINT_FORMAT_VERSION,
          kind: this.layout.savepoint ? 'savepoint' : 'checkpoint',
          checkpointId: id,
          createdAt: new Date().toISOString(),
          files,
          metadata,
        };
        const body = JSON.stringify(envelope);
        const sum = createHash('sha256').update(body).digest('hex');
        try {
          // Fsyncing the directory also makes the renames of this checkpoint's data files durable.
          await atomicWrite(join(dir, METADATA), [Buffer.from(`FLOE-CHECKPOINT ${CHECKPOINT_FORMAT_VERSION} ${sum}\n${body}`)], { syncDirectory: true });
        } catch (error) {
          state = 'open'; // not complete: nothing was committed for it, so an abort may delete it
          throw error;
        }
        state = 'completed';
        if (this.layout.savepoint) return;
        this.lastCompletedMarker ??= (await this.readLastCompleted()) ?? 0;
        if (id > this.lastCompletedMarker) {
          await atomicWrite(join(this.directory, LAST_COMPLETED), [Buffer.from(`${id}\n`)], { syncDirectory: true });
          this.lastCompletedMarker = id;
        }
      },
      abort: async () => {
        if (state !== 'open') return;
        state = 'aborted';
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  /** Completed checkpoints (with a _metadata file), ascending. */
  async listCompleted(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch {
      return [];
    }
    const ids: number[] = [];
    for (const name of names) {
      const m = /^chk-(\d+)$/.exec(name);
      if (m !== null && (await exists(join(this.directory, name, METADATA)))) ids.push(Number(m[1]));
    }
    return ids.sort((a, b) => a - b);
  }

  /** Every `chk-<id>` directory (complete or not), ascending, and whether it has a `_metadata` file. */
  async listCheckpointDirectories(): Promise<Array<{ id: number; hasMetadata: boolean }>> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch {
      return [];
    }
    const found: Array<{ id: number; hasMetadata: boolean }> = [];
    for (const name of names) {
      const m = /^chk-(\d+)$/.exec(name);
      if (m !== null) found.push({ id: Number(m[1]), hasMetadata: await exists(join(this.directory, name, METADATA)) });
    }
    return found.sort((a, b) => a.id - b.id);
  }

  /**
   * What recovery needs to know about the directory: every `chk-<id>`, the completed marker, and
   * with `verify` the verification results newest first up to and including the first valid
   * checkpoint (older ones are not read: verifying streams every file).
   */
  async readListing(options: { verify: boolean }): Promise<CheckpointDirectoryListing> {
    const dirs = await this.listCheckpointDirectories();
    const checkpoints = options.verify ? await verifyNewestFirst(dirs, (id) => this.verify(id)) : dirs.map((d) => ({ ...d, problems: undefined }));
    return { checkpoints, lastCompletedId: await this.readLastCompleted() };
  }

  /** The newest checkpoint id this storage completed, from its marker (undefined when none or unreadable). */
  async readLastCompleted(): Promise<number | undefined> {
    try {
      const id = Number((await readFile(join(this.directory, LAST_COMPLETED), 'utf8')).trim());
      return Number.isSafeInteger(id) && id > 0 ? id : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Deletes the given checkpoint directories (`_metadata` first), then every file in `shared/`
   * that no remaining checkpoint with readable metadata lists, and temporary files of writes
   * that never finished. Only for a directory no running job writes to (the caller holds its lock).
   */
  async removeUnreferenced(ids: number[]): Promise<{ checkpoints: number; sharedFiles: number }> {
    for (const id of ids) {
      await rm(join(this.dirOf(id), METADATA), { force: true });
      await rm(this.dirOf(id), { recursive: true, force: true });
    }
    const listed = new Set<string>();
    for (const { id, hasMetadata } of await this.listCheckpointDirectories()) {
      if (!hasMetadata) continue;
      try {
        for (const f of (await this.readMetadata(id)).files) listed.add(f.name);
      } catch {
        // unreadable metadata protects nothing: that checkpoint cannot be restored
      }
    }
    let sharedFiles = 0;
    let names: string[] = [];
    try {
      names = await readdir(join(this.directory, 'shared'));
    } catch {
      // no shared/ directory: nothing to collect
    }
    for (const name of names) {
      if (listed.has(`${SHARED}${name}`)) continue;
      await rm(join(this.directory, 'shared', name), { force: true });
      sharedFiles++;
    }
    return { checkpoints: ids.length, sharedFiles };
  }

  /** Reads and verifies `_metadata`. */
  async readMetadata(id: number): Promise<CheckpointMetadataEnvelope> {
    const path = join(this.dirOf(id), METADATA);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw invalid(this.what(id), path, `cannot read it (${(cause as Error).message})`, cause);
    }
    const newline = text.indexOf('\n');
    const header = /^FLOE-CHECKPOINT (\d+) ([0-9a-f]{64})$/.exec(newline < 0 ? text : text.slice(0, newline));
    if (header === null) throw invalid(this.what(id), path, 'the header is missing or damaged (truncated or not a Floe checkpoint)');
    if (Number(header[1]) > CHECKPOINT_FORMAT_VERSION)
      throw invalid(this.what(id), path, `format version ${header[1]} was written by a newer Floe (this one reads up to ${CHECKPOINT_FORMAT_VERSION})`);
    const body = text.slice(newline + 1);
    if (createHash('sha256').update(body).digest('hex') !== header[2]) throw invalid(this.what(id), path, 'checksum mismatch (the file is truncated or corrupt)');
    return JSON.parse(body) as CheckpointMetadataEnvelope;
  }

  /** Reads a data file and verifies its size, checksum and header; returns the payload. */
  async readFile(id: number, file: StoredFile): Promise<Buffer> {
    const path = this.pathOf(id, file.name);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (cause) {
      throw invalid(this.what(id), path, `it is missing or unreadable (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, cause);
    }
    const content = bytes.subarray(0, Math.max(0, bytes.length - TRAILER_BYTES));
    checkFile(this.what(id), path, file, {
      size: bytes.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      trailer: bytes.subarray(content.length).toString('hex'),
      head: content,
    });
    return content.subarray(MAGIC.length + 2);
  }

  /** Checks a checkpoint completely; returns the problems (empty when it can be restored). */
  async verify(id: number): Promise<string[]> {
    try {
      const envelope = await this.readMetadata(id);
      const problems: string[] = [];
      for (const f of envelope.files) {
        try {
          await this.verifyFile(id, f);
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
      return problems;
    } catch (e) {
      return [(e as Error).message];
    }
  }

  /** Checks a file's size, checksum and header by streaming it (files may be larger than memory). */
  async verifyFile(id: number, file: StoredFile): Promise<void> {
    const path = this.pathOf(id, file.name);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (cause) {
      throw invalid(this.what(id), path, `it is missing or unreadable (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`, cause);
    }
    try {
      const { size } = await handle.stat();
      if (size !== file.size) throw invalid(this.what(id), path, `truncated: expected ${file.size} bytes, found ${size}`);
      const hash = createHash('sha256');
      const chunk = Buffer.allocUnsafe(4 << 20);
      const contentSize = size - TRAILER_BYTES;
      const head = Buffer.alloc(MAGIC.length + 2);
      for (let at = 0; at < contentSize; ) {
        const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, contentSize - at), at);
        if (bytesRead === 0) throw invalid(this.what(id), path, 'truncated while reading');
        if (at === 0) chunk.copy(head, 0, 0, Math.min(head.length, bytesRead));
        hash.update(chunk.subarray(0, bytesRead));
        at += bytesRead;
      }
      const trailer = Buffer.alloc(TRAILER_BYTES);
      await handle.read(trailer, 0, TRAILER_BYTES, contentSize);
      checkFile(this.what(id), path, file, { size, sha256: hash.digest('hex'), trailer: trailer.toString('hex'), head });
    } finally {
      await handle.close();
    }
  }

  /**
   * Deletes checkpoint `id`, then the shared files it listed that no other completed checkpoint
   * lists (checkpoints share the files of incremental state; a retained one keeps what it needs).
   */
  async discard(id: number): Promise<void> {
    let shared: string[] = [];
    try {
      shared = (await this.readMetadata(id)).files.map((f) => f.name).filter((n) => n.startsWith(SHARED));
    } catch {
      // unreadable metadata: its shared files (if any) stay; they are never needed by another checkpoint's list
    }
    // _metadata first: a half-deleted checkpoint must never look complete.
    await rm(join(this.dirOf(id), METADATA), { force: true });
    await rm(this.dirOf(id), { recursive: true, force: true });
    if (shared.length === 0) return;
    const stillListed = new Set<string>();
    for (const other of await this.listCompleted()) {
      try {
        for (const f of (await this.readMetadata(other)).files) stillListed.add(f.name);
      } catch {
        // an unreadable checkpoint cannot be restored; it protects nothing
      }
    }
    for (const name of shared) if (!stillListed.has(name)) await rm(join(this.directory, name), { force: true });
  }
}

/**
 * The checks every read of a data file makes, whether it was read whole or streamed: size, the
 * sha256 against both the metadata and the file's trailer, the magic and the format version.
 */
function checkFile(what: string, path: string, file: StoredFile, found: { size: number; sha256: string; trailer: string; head: Buffer }): void {
  if (found.size !== file.size) throw invalid(what, path, `truncated: expected ${file.size} bytes, found ${found.size}`);
  if (found.sha256 !== file.sha256 || found.trailer !== file.sha256) throw invalid(what, path, 'checksum mismatch (corrupt)');
  if (!found.head.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid(what, path, 'not a Floe checkpoint file');
  const version = found.head.readUInt16BE(MAGIC.length);
  if (version > CHECKPOINT_FORMAT_VERSION) throw invalid(what, path, `format version ${version} was written by a newer Floe`);
}

/**
 * A checkpoint or savepoint named by its path (`.../chk-<id>`, or a savepoint's directory),
 * verified completely. A path that is not one fails saying what it is instead: missing, a
 * savepoint whose writing was interrupted (no `_metadata`: never restorable), or a whole
 * checkpoint directory.
 */
export async function openSnapshotDirectory(path: string): Promise<{ storage: FileCheckpointStorage; envelope: CheckpointMetadataEnvelope }> {
  const m = /^(.*?)[/\\]?chk-(\d+)[/\\]?$/.exec(path);
  const id = m === null ? 0 : Number(m[2]);
  const storage = m === null ? savepointDirectory(path) : new FileCheckpointStorage(m[1] === '' ? '.' : m[1]);
  const problems = await storage.verify(id);
  if (problems.length > 0) throw new FloeError('CHECKPOINT_INVALID', problems.join('; '));
  return { storage, envelope: await storage.readMetadata(id) };
}

function savepointDirectory(path: string): FileCheckpointStorage {
  const directory = resolve(path);
  if (!existsSync(directory)) throw new FloeError('INVALID_ARGUMENT', `Cannot restore from ${path}: ${directory} does not exist`);
  if (!existsSync(join(directory, METADATA))) {
    if (existsSync(join(directory, LAST_COMPLETED)) || existsSync(join(directory, 'shared')))
      throw new FloeError('INVALID_ARGUMENT', `Cannot restore from ${path}: it is a checkpoint directory; give one of its chk-<id> directories, or use it as --checkpoint-dir to resume its latest checkpoint`);
    throw new FloeError(
      'CHECKPOINT_INVALID',
      `Cannot restore from ${path}: it has no _metadata, so it is not a complete savepoint (a savepoint that was interrupted while it was written is never restorable). Take a new savepoint, or restore an older one.`,
    );
  }
  return FileCheckpointStorage.savepoint(directory);
}

/** sha256 of the concatenated chunks; above 1 MiB off the main thread (WebCrypto's thread pool). */
async function sha256Hex(chunks: Uint8Array[], size: number): Promise<string> {
  if (size < 1 << 20) {
    const hash = createHash('sha256');
    for (const c of chunks) hash.update(c);
    return hash.digest('hex');
  }
  const digest = await webcrypto.subtle.digest('SHA-256', Buffer.concat(chunks, size));
  return Buffer.from(digest).toString('hex');
}

async function atomicWrite(path: string, chunks: Uint8Array[], options: { syncDirectory: boolean }): Promise<void> {
  try {
    await writeDurably({ path, chunks, syncDirectory: options.syncDirectory });
  } catch (cause) {
    throw writeFailed(`cannot write ${path}`, cause);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    (await open(path, 'r')).close();
    return true;
  } catch {
    return false;
  }
}

function writeFailed(what: string, cause: unknown): FloeError {
  const code = (cause as NodeJS.ErrnoException)?.code;
  return new FloeError('CHECKPOINT_WRITE_FAILED', `Checkpoint storage: ${what}: ${code ?? ''} ${(cause as Error)?.message ?? cause}`.replace(/\s+/g, ' '), { cause });
}

function invalid(what: string, path: string, why: string, cause?: unknown): FloeError {
  return new FloeError('CHECKPOINT_INVALID', `${what} is invalid: ${path}: ${why} (restore the file from a backup, or resume from another ${what.startsWith('Savepoint') ? 'savepoint' : 'checkpoint'})`, {
    cause,
  });
}
