// What a job needs of the place its checkpoints go (Flink's CheckpointStorage): write a checkpoint
// so that it exists only once complete, read one back verified, list and discard. The coordinator,
// restores and recovery read and write through this interface only. Implementations:
// FileCheckpointStorage (a directory; savepoints are one directory each) and
// InMemoryCheckpointStorage (tests, small state); one contract suite tests both.
import type { CheckpointDirectoryListing, FoundCheckpoint } from './recovery-choice.js';

/** One data file of a checkpoint, as recorded in its metadata. */
export interface StoredFile {
  name: string;
  size: number;
  sha256: string;
}

/** The content of `_metadata`. */
export interface CheckpointMetadataEnvelope {
  format: number;
  /** Absent in files written before savepoints existed (they are checkpoints). */
  kind?: 'checkpoint' | 'savepoint';
  checkpointId: number;
  createdAt: string;
  files: StoredFile[];
  /** Whatever the coordinator recorded (job, operators, state handles). */
  metadata: any;
}

/** Writes one checkpoint: data files, then its metadata, which makes it complete. */
export interface CheckpointWriter {
  readonly checkpointId: number;
  writeFile(name: string, bytes: Uint8Array | Uint8Array[]): Promise<StoredFile>;
  /** Records the metadata; the checkpoint exists (is listed, restorable) from here on, never before. */
  complete(metadata: unknown, files: StoredFile[]): Promise<void>;
  /** Removes what was written; a no-op once complete. */
  abort(): Promise<void>;
}

export interface CheckpointStorage {
  /** Where it is, for messages: a directory, or `memory:<name>`. */
  readonly location: string;
  /** The local directory it owns, if any (locked while a job writes into it). */
  readonly directory?: string;
  beginCheckpoint(id: number): Promise<CheckpointWriter>;
  /**
   * Puts a finished, immutable local file (framed and checksummed by its writer) among the shared
   * files that incremental checkpoints list (`file.name` starts with `shared/`).
   */
  putShared(localPath: string, file: StoredFile): Promise<StoredFile>;
  /** Completed checkpoints, ascending. */
  listCompleted(): Promise<number[]>;
  /** What recovery needs to choose (see recovery-choice.ts); with `verify`, newest first up to the first valid one. */
  readListing(options: { verify: boolean }): Promise<CheckpointDirectoryListing>;
  /** Reads and verifies a checkpoint's metadata. */
  readMetadata(id: number): Promise<CheckpointMetadataEnvelope>;
  /** Reads a data file and verifies size and checksum; returns its payload. */
  readFile(id: number, file: StoredFile): Promise<Buffer>;
  /** Checks a checkpoint completely; the problems (empty when it can be restored). */
  verify(id: number): Promise<string[]>;
  /** Deletes checkpoint `id` and the shared files no other completed checkpoint lists. */
  discard(id: number): Promise<void>;
  /** Deletes the given checkpoints and everything no remaining checkpoint needs (at start, before a job writes). */
  removeUnreferenced(ids: number[]): Promise<{ checkpoints: number; sharedFiles: number }>;
  /** A local path of a file, for backends that read shared files by path (the disk backend's chains). */
  pathOf(id: number, name: string): string;
}

/**
 * What recovery needs (see `readListing`): `found` (ascending) verified newest first up to and
 * including the first valid one; older ones are not read (verifying reads every file).
 */
export async function verifyNewestFirst(found: Array<{ id: number; hasMetadata: boolean }>, verify: (id: number) => Promise<string[]>): Promise<FoundCheckpoint[]> {
  const checkpoints: FoundCheckpoint[] = found.map((c) => ({ ...c, problems: undefined }));
  for (const c of [...checkpoints].reverse()) {
    if (!c.hasMetadata) continue;
    c.problems = await verify(c.id);
    if (c.problems.length === 0) break;
  }
  return checkpoints;
}
