// Checkpoints kept in memory (Flink's JobManagerCheckpointStorage): for tests and small state.
// Same contract as the file storage (a checkpoint exists once its metadata is recorded; reads
// verify sizes and checksums; discarding keeps shared files another checkpoint lists), but
// nothing survives the process. `pathOf` writes a file out to a temporary directory on demand,
// for backends that read shared files by path.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FloeError } from '../../core/errors.js';
import { verifyNewestFirst, type CheckpointMetadataEnvelope, type CheckpointStorage, type CheckpointWriter, type StoredFile } from '../checkpoint-storage.js';
import type { CheckpointDirectoryListing } from '../recovery-choice.js';

const FORMAT = 1;
/** Shared files end with the sha256 of their content (see record-file.ts). */
const TRAILER_BYTES = 32;
let storages = 0;

interface Attempt {
  files: Map<string, Buffer>;
  /** The JSON of the metadata once complete. */
  metadata?: string;
}

export class InMemoryCheckpointStorage implements CheckpointStorage {
  readonly location: string;
  readonly directory = undefined;
  private readonly checkpoints = new Map<number, Attempt>();
  private readonly shared = new Map<string, Buffer>();
  private lastCompleted: number | undefined;
  private spill: string | undefined;

  constructor(name = `storage-${++storages}`) {
    this.location = `memory:${name}`;
  }

  async beginCheckpoint(id: number): Promise<CheckpointWriter> {
    const existing = this.checkpoints.get(id);
    if (existing?.metadata !== undefined) throw new FloeError('CHECKPOINT_WRITE_FAILED', `${this.location}: checkpoint ${id} exists already`);
    const attempt: Attempt = { files: new Map() };
    this.checkpoints.set(id, attempt); // replaces a leftover of an aborted attempt
    let state: 'open' | 'completed' | 'aborted' = 'open';
    return {
      checkpointId: id,
      writeFile: async (name, bytes) => {
        if (state !== 'open') throw new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${id} is ${state}`);
        const content = Buffer.concat(Array.isArray(bytes) ? bytes : [bytes]); // a copy: the caller may reuse its buffers
        attempt.files.set(name, content);
        return { name, size: content.length, sha256: sha256(content) };
      },
      complete: async (metadata, files) => {
        if (state !== 'open') throw new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${id} cannot complete: it was ${state === 'aborted' ? 'aborted' : 'completed before'}`);
        const envelope: CheckpointMetadataEnvelope = { format: FORMAT, kind: 'checkpoint', checkpointId: id, createdAt: new Date().toISOString(), files, metadata };
        attempt.metadata = JSON.stringify(envelope);
        state = 'completed';
        this.lastCompleted = Math.max(this.lastCompleted ?? 0, id);
      },
      abort: async () => {
        if (state !== 'open') return;
        state = 'aborted';
        if (this.checkpoints.get(id) === attempt) this.checkpoints.delete(id);
      },
    };
  }

  async putShared(localPath: string, file: StoredFile): Promise<StoredFile> {
    if (!file.name.startsWith('shared/') || file.name.includes('..')) throw new FloeError('INVALID_ARGUMENT', `A shared checkpoint file must be named shared/<name>, got ${file.name}`);
    this.shared.set(file.name, readFileSync(localPath));
    return { ...file };
  }

  async listCompleted(): Promise<number[]> {
    return [...this.checkpoints].filter(([, a]) => a.metadata !== undefined).map(([id]) => id).sort((a, b) => a - b);
  }

  async readListing(options: { verify: boolean }): Promise<CheckpointDirectoryListing> {
    const found = [...this.checkpoints].map(([id, a]) => ({ id, hasMetadata: a.metadata !== undefined })).sort((a, b) => a.id - b.id);
    const checkpoints = options.verify ? await verifyNewestFirst(found, (id) => this.verify(id)) : found.map((c) => ({ ...c, problems: undefined }));
    return { checkpoints, lastCompletedId: this.lastCompleted };
  }

  async readMetadata(id: number): Promise<CheckpointMetadataEnvelope> {
    const metadata = this.checkpoints.get(id)?.metadata;
    if (metadata === undefined) throw invalid(this.location, id, 'it has no metadata (never completed, or discarded)');
    return JSON.parse(metadata) as CheckpointMetadataEnvelope;
  }

  async readFile(id: number, file: StoredFile): Promise<Buffer> {
    const content = this.contentOf(id, file.name);
    if (content === undefined) throw invalid(this.location, id, `${file.name}: it is missing`);
    if (content.length !== file.size) throw invalid(this.location, id, `${file.name}: truncated: expected ${file.size} bytes, found ${content.length}`);
    // A shared file was framed by its writer (it ends with the sha256 of what comes before); a data file is stored as written.
    const checked = file.name.startsWith('shared/') ? content.subarray(0, Math.max(0, content.length - TRAILER_BYTES)) : content;
    if (sha256(checked) !== file.sha256) throw invalid(this.location, id, `${file.name}: checksum mismatch (corrupt)`);
    return content;
  }

  async verify(id: number): Promise<string[]> {
    try {
      const envelope = await this.readMetadata(id);
      const problems: string[] = [];
      for (const f of envelope.files) await this.readFile(id, f).catch((e: Error) => problems.push(e.message));
      return problems;
    } catch (e) {
      return [(e as Error).message];
    }
  }

  async discard(id: number): Promise<void> {
    const metadata = this.checkpoints.get(id)?.metadata;
    this.checkpoints.delete(id);
    if (metadata === undefined) return;
    const listed = this.listedShared();
    for (const f of (JSON.parse(metadata) as CheckpointMetadataEnvelope).files) if (f.name.startsWith('shared/') && !listed.has(f.name)) this.shared.delete(f.name);
  }

  async removeUnreferenced(ids: number[]): Promise<{ checkpoints: number; sharedFiles: number }> {
    for (const id of ids) this.checkpoints.delete(id);
    const listed = this.listedShared();
    let sharedFiles = 0;
    for (const name of [...this.shared.keys()])
      if (!listed.has(name)) {
        this.shared.delete(name);
        sharedFiles++;
      }
    return { checkpoints: ids.length, sharedFiles };
  }

  pathOf(id: number, name: string): string {
    const content = this.contentOf(id, name);
    if (content === undefined) throw invalid(this.location, id, `${name}: it is missing`);
    this.spill ??= mkdtempSync(join(tmpdir(), 'floe-memory-checkpoints-'));
    const path = join(this.spill, name.startsWith('shared/') ? name : `chk-${id}/${name}`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    return path;
  }

  /** Tests: damages a stored file as a disk error would ('truncate', 'corrupt', 'delete'). */
  damage(id: number, name: string, how: 'truncate' | 'corrupt' | 'delete'): void {
    const files = name.startsWith('shared/') ? this.shared : this.checkpoints.get(id)?.files;
    const content = files?.get(name);
    if (files === undefined || content === undefined) throw new Error(`no file ${name} in checkpoint ${id}`);
    if (how === 'delete') files.delete(name);
    else if (how === 'truncate') files.set(name, content.subarray(0, Math.max(0, content.length - 1)));
    else {
      const copy = Buffer.from(content);
      copy[copy.length >> 1] ^= 0xff;
      files.set(name, copy);
    }
  }

  private contentOf(id: number, name: string): Buffer | undefined {
    return name.startsWith('shared/') ? this.shared.get(name) : this.checkpoints.get(id)?.files.get(name);
  }

  private listedShared(): Set<string> {
    const listed = new Set<string>();
    for (const a of this.checkpoints.values())
      if (a.metadata !== undefined) for (const f of (JSON.parse(a.metadata) as CheckpointMetadataEnvelope).files) listed.add(f.name);
    return listed;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function invalid(location: string, id: number, why: string): FloeError {
  return new FloeError('CHECKPOINT_INVALID', `Checkpoint ${id} in ${location} is invalid: ${why} (resume from another checkpoint)`);
}
