// The CheckpointStorage contract: where completed checkpoints are kept as durable bytes. Types
// only, no I/O. Storages know nothing about state backends: a data file is opaque bytes to them.
import type { CheckpointProblem } from './checkpoint-problem.js';

/** Describes one data file of a checkpoint, as recorded in its metadata. */
export interface StoredFile {
  /** File name inside the checkpoint (no path separators, never starting with '.' or '_'). */
  name: string;
  /** Size of the stored file in bytes, format header included. */
  size: number;
  /** Lower-case hex sha256 of the whole stored file, format header included. */
  sha256: string;
}

/** What `_metadata` holds: the storage's envelope around the caller's metadata. */
export interface CheckpointMetadataEnvelope {
  /** Format version of the `_metadata` file that was read. */
  format: number;
  checkpointId: number;
  /** When `complete` was called, ISO 8601, from the storage's clock. */
  createdAt: string;
  /** The data files of the checkpoint, as passed to `complete`. */
  files: StoredFile[];
  /**
   * Exactly what the caller passed to `complete` (bigints, -0, NaN, ±Infinity and `undefined`
   * survive the round trip). Typed `any` because the storage does not know its shape: readers
   * validate it themselves.
   */
  metadata: any;
}

/** One checkpoint area as it is right now, completed or not (for inspection and tests). */
export interface CheckpointArea {
  checkpointId: number;
  /** True when the area has a `_metadata` entry (valid or not). */
  hasMetadata: boolean;
  /** Every entry in the area, temporary files included, sorted by name. */
  entries: string[];
}

/** Options every storage accepts. */
export interface CheckpointStorageOptions {
  /**
   * Called by `listCompleted` for each checkpoint whose `_metadata` exists but is corrupt or of
   * an unknown format (such checkpoints are left out of the list). Missing `_metadata` (in
   * progress or aborted) is not a problem and is not reported.
   */
  onProblem?: (problem: CheckpointProblem) => void;
}

/**
 * Keeps checkpoints as durable bytes: one area per checkpoint id holding data files and, once
 * the checkpoint is complete, a `_metadata` file. A checkpoint exists exactly when its
 * `_metadata` has been written completely; nothing complete is changed by a failed write.
 *
 * @example
 * ```ts
 * const storage = new FileCheckpointStorage('/var/lib/floe/checkpoints');
 * const writer = await storage.beginCheckpoint(7);
 * const file = await writer.writeFile('op-1-0.state', bytes);
 * await writer.complete({ operators: { 'op-1': file.name } }, [file]);
 * const envelope = await storage.readMetadata(7);
 * const payload = await storage.readFile(7, envelope.files[0]);
 * ```
 */
export interface CheckpointStorage {
  /** Where the checkpoints live, for messages (a directory path, or `memory://<name>`). */
  readonly location: string;

  /**
   * Starts writing checkpoint `id` in a fresh area. A leftover area of the same id without
   * `_metadata` (a crashed or aborted attempt) is removed first.
   *
   * @throws FloeError `CHECKPOINT_WRITE_FAILED` when the area cannot be created.
   */
  beginCheckpoint(id: number): Promise<CheckpointWriter>;

  /**
   * Ids of completed checkpoints, ascending: those whose `_metadata` exists and is valid (header,
   * checksum and envelope). Cost: reads every `_metadata`, never a data file.
   */
  listCompleted(): Promise<number[]>;

  /**
   * Reads `_metadata` and validates it (format version, length, checksum, envelope).
   *
   * @throws FloeError `CHECKPOINT_INVALID` naming the file, the reason and what to do.
   */
  readMetadata(id: number): Promise<CheckpointMetadataEnvelope>;

  /**
   * Reads one data file and returns its payload (without the format header), after checking its
   * size and sha256 against `file` and its format header.
   *
   * @throws FloeError `CHECKPOINT_INVALID` naming the file, the reason and what to do.
   */
  readFile(id: number, file: StoredFile): Promise<Uint8Array>;

  /**
   * Fully validates checkpoint `id`: its metadata and every file it lists. Returns the problems,
   * empty when the checkpoint can be restored. Cost: reads every data file once.
   */
  verify(id: number): Promise<CheckpointProblem[]>;

  /**
   * Deletes checkpoint `id` (subsumed or aborted). `_metadata` goes first so that a half-deleted
   * checkpoint never looks complete. Deleting an id that does not exist does nothing.
   */
  discard(id: number): Promise<void>;

  /** Every checkpoint area present, ascending by id, including incomplete ones. */
  listAreas(): Promise<CheckpointArea[]>;
}

/** Writes one checkpoint. Obtained from `CheckpointStorage.beginCheckpoint`. */
export interface CheckpointWriter {
  readonly checkpointId: number;

  /**
   * Writes one data file: format header plus `bytes`, under a temporary name, synced, then
   * renamed. Parallel calls are allowed; each name may be written once.
   *
   * @throws FloeError `INVALID_ARGUMENT` for a bad or repeated name, or after complete/abort;
   *   `CHECKPOINT_WRITE_FAILED` naming the file and the OS error (the temporary file is removed).
   */
  writeFile(name: string, bytes: Uint8Array | Uint8Array[]): Promise<StoredFile>;

  /**
   * Writes `_metadata` atomically; only then does the checkpoint exist. `files` must be files
   * returned by this writer's `writeFile`. `metadata` is data made of plain objects, arrays,
   * strings, numbers, bigints, booleans, null and undefined.
   *
   * @throws FloeError `INVALID_ARGUMENT` for metadata that cannot be stored or files not written
   *   here; `CHECKPOINT_WRITE_FAILED` when `_metadata` cannot be written (the checkpoint then
   *   stays incomplete and can be aborted).
   */
  complete(metadata: unknown, files: StoredFile[]): Promise<void>;

  /**
   * Removes everything this writer wrote (waiting for writes in flight first). Does nothing after
   * a successful `complete`: a completed checkpoint is only removed by `discard`.
   */
  abort(): Promise<void>;
}
