// The layout of one subtask's data file in a checkpoint or savepoint (pure): a u32 length, a
// msgpack header (operator state, source position, watermarks, keyed-state metadata), then the
// keyed-state blocks as the backend wrote them. Read by restores and by offline tools.
import { Packr } from 'msgpackr';
import type { KeyedSnapshotMeta } from '../state/keyed-snapshot.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** What one subtask stores per checkpoint. */
export interface TaskSnapshotFile {
  operators: Record<string, unknown>;
  /**
   * A source subtask's reader state: `{ splits }`, each split with its position (see
   * source-restore.ts). Checkpoints of Floe 0.1 hold the reader's own position here instead.
   */
  source?: unknown;
  /** The subtask's input watermark at the barrier. */
  watermark: number;
  /** Per operator uid: the event time it had reached at the barrier (see StreamOperator.snapshotWatermark). */
  operatorWatermarks?: Record<string, number>;
  keyed?: { meta: KeyedSnapshotMeta; data: Uint8Array };
}

/** Encodes a subtask's file; the keyed blocks are referenced, not copied. */
export function encodeTaskSnapshot(file: Omit<TaskSnapshotFile, 'keyed'>, keyed: { meta: KeyedSnapshotMeta; data: Uint8Array[] } | undefined): Uint8Array[] {
  const header = packr.pack({ ...file, keyedMeta: keyed?.meta });
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(header.length, 0);
  return [length, header, ...(keyed?.data ?? [])];
}

/** Decodes a subtask's file; the keyed data is a view into `bytes`, not a copy. */
export function decodeTaskSnapshot(bytes: Uint8Array): TaskSnapshotFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = buf.readUInt32BE(0);
  const { keyedMeta, ...header } = packr.unpack(buf.subarray(4, 4 + headerLength)) as TaskSnapshotFile & { keyedMeta?: KeyedSnapshotMeta };
  const file = header as TaskSnapshotFile;
  if (keyedMeta !== undefined) file.keyed = { meta: keyedMeta, data: buf.subarray(4 + headerLength) };
  return file;
}
