// The backend-independent shape of a keyed-state snapshot: per key group one encoded block,
// plus metadata naming every state with its kind and serializer. Snapshots are written and read
// by key group so that a restore at another parallelism reads only the groups it owns. Pure.
import type { StateKind } from './state.js';

/** One state as recorded in a snapshot. */
export interface SnapshotStateMeta {
  name: string;
  kind: StateKind;
  /** `id@version` of the value (element, accumulator) serializer. */
  serializer: string;
  /** `id@version` of the user-key serializer (map state). */
  keySerializer?: string;
  ttl: boolean;
}

/** JSON metadata of a keyed snapshot (kept in the checkpoint's _metadata). */
export interface KeyedSnapshotMeta {
  /**
   * Block snapshots ('heap', 'canonical'): the block format (snapshot-format/block-codec.ts; 2
   * since state indexes above 254 exist, 1 is still read). The disk backend's own format writes 1.
   */
  format: number;
  /**
   * Who can read the data: 'canonical' (key-group blocks, written by any backend with
   * `canonical: true`, restored by every backend), 'heap' (heap checkpoints: the same blocks),
   * 'disk' (the disk backend's incremental format, restored by the disk backend only).
   */
  backend: string;
  maxParallelism: number;
  states: SnapshotStateMeta[];
  timerQueues: string[];
  /** [keyGroup, offset, length] into the data file, ascending by key group (block snapshots; empty for 'disk'). */
  keyGroups: Array<[number, number, number]>;
  entries: number;
  /** The disk backend: its state lives in shared files (a materialization and change-log segments), the task's data file holds its timers. */
  disk?: DiskSnapshotMeta;
}

/** Where a disk-backend snapshot's state is: apply `chain` in order (first a materialization, then change-log segments). */
export interface DiskSnapshotMeta {
  chain: Array<{
    name: string;
    size: number;
    sha256: string;
    kind: 'materialization' | 'changelog';
    /** Put and delete records in the file (written since 2026-12; older snapshots lack it). */
    records?: number;
    /** Materializations: where each state's key groups are, so a rescaled restore reads only its own. */
    index?: MaterializationIndex;
  }>;
  /** The key groups the snapshotting subtask owned. */
  keyGroupRange: [number, number];
  /** Next list-element sequence number. */
  nextSequence: number;
  /** Bytes of the timers blob at the start of the data file. */
  timerBytes: number;
  /** The chain's files follow the timers inside the data file (snapshots taken without checkpoint storage). */
  inline?: boolean;
}

/**
 * Where a materialization's records are (disk/materialization-index.ts): points
 * [state index, key group (0xffff: deferred entries), byte offset of the record] ascending by
 * offset, one at each state's start and then about one per MiB, at key-group changes.
 */
export interface MaterializationIndex {
  /** State names by the file's state index (a read starting mid-file has not seen their definitions). */
  names: string[];
  points: Array<[number, number, number]>;
  /** Offset after the last record. */
  end: number;
}

/** What the asynchronous part of a keyed snapshot produces. */
export interface KeyedSnapshotResult {
  meta: KeyedSnapshotMeta;
  /** The data file: the key-group blocks, concatenated in `meta.keyGroups` order. */
  data: Uint8Array[];
  bytes: number;
  /** Shared files this snapshot needs (incremental backends); they go into the checkpoint's file list. */
  sharedFiles?: Array<{ name: string; size: number; sha256: string }>;
  /** Bytes written for this checkpoint only (incremental backends: new shared files + the data). */
  incrementalBytes?: number;
  /** Milliseconds the task's thread spent encoding this snapshot after its barrier (the barrier itself is the task's sync phase). */
  cpuMs?: number;
}

/** A running snapshot: taken (synchronously) already; `write` encodes it while records keep flowing. */
export interface KeyedSnapshotRunner {
  write(): Promise<KeyedSnapshotResult>;
  /** How much of the asynchronous part is done, 0 to 1 (for progress reports; optional). */
  progress?(): number;
  /** Releases the snapshot's view (called after write, or when the checkpoint is aborted). */
  release(): void;
}

/** Snapshot data handed back to a backend on restore: metadata plus a reader of one key group's block. */
export interface RestoredKeyedState {
  meta: KeyedSnapshotMeta;
  /** The block of one key group (undefined when that group had no state). */
  block(keyGroup: number): Uint8Array | undefined;
  /** The whole data file (backends that do not write key-group blocks). */
  data?: Uint8Array;
  /** The path of a file named in the metadata, relative to the checkpoint storage's root. */
  resolveFile?(name: string): string;
  /**
   * False when the snapshot lives outside the restoring job's own checkpoint directory (a
   * checkpoint of another directory, a savepoint): an incremental backend must not reference its
   * files from its own checkpoints, which would then depend on files it does not own.
   */
  adoptable?: boolean;
}

/** A RestoredKeyedState over a snapshot's data file read back as one buffer. */
export function restoredFromBytes(meta: KeyedSnapshotMeta, bytes: Uint8Array): RestoredKeyedState {
  const index = new Map<number, [number, number]>();
  for (const [keyGroup, offset, length] of meta.keyGroups) index.set(keyGroup, [offset, length]);
  return {
    meta,
    data: bytes,
    block(keyGroup) {
      const at = index.get(keyGroup);
      return at === undefined ? undefined : bytes.subarray(at[0], at[0] + at[1]);
    },
  };
}

/** Concatenates a snapshot's data chunks (tests and small snapshots). */
export function concatChunks(chunks: Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}
