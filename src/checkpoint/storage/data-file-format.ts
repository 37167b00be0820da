// The format of a checkpoint data file: an 8-byte header, then the caller's payload. Pure, no
// I/O: encoding computes size and sha256 for the metadata; checking a read file returns its
// payload or says what is wrong with it.
//
//   offset 0  4 bytes  magic 'FLOE'
//   offset 4  u16 BE   format version (DATA_FILE_FORMAT_VERSION)
//   offset 6  u8       kind (DataFileKind)
//   offset 7  u8       flags, 0 (reserved: compression, encryption)
//   offset 8  ...      payload, opaque to the storage
import { createHash } from 'node:crypto';
import type { CheckpointProblemReason } from './checkpoint-problem.js';
import type { StoredFile } from './checkpoint-storage.js';

/** The data file format version this Floe writes and the newest it reads. */
export const DATA_FILE_FORMAT_VERSION = 1;

/** Bytes before the payload. */
export const DATA_FILE_HEADER_LENGTH = 8;

/**
 * What a data file is. Only `checkpoint` (a file owned by one checkpoint, in `chk-<id>/`) exists
 * now; other values are reserved for the `shared/` and `taskowned/` files of incremental
 * checkpoints.
 */
export const DataFileKind = { checkpoint: 1 } as const;

const MAGIC = Buffer.from('FLOE', 'latin1');

/** The encoded file (chunks to write, in order) and its description for the metadata. */
export interface EncodedDataFile {
  chunks: Uint8Array[];
  file: StoredFile;
}

/** Prefixes `payload` with the header and computes what the metadata records about it. */
export function encodeDataFile(name: string, payload: Uint8Array | Uint8Array[]): EncodedDataFile {
  const header = Buffer.alloc(DATA_FILE_HEADER_LENGTH);
  MAGIC.copy(header, 0);
  header.writeUInt16BE(DATA_FILE_FORMAT_VERSION, 4);
  header.writeUInt8(DataFileKind.checkpoint, 6);
  const chunks = [header, ...(Array.isArray(payload) ? payload : [payload])];
  const hash = createHash('sha256');
  let size = 0;
  for (const chunk of chunks) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { chunks, file: { name, size, sha256: hash.digest('hex') } };
}

/** The outcome of checking a data file's bytes against its metadata entry. */
export type DataFileCheck = { ok: true; payload: Uint8Array } | { ok: false; reason: CheckpointProblemReason; detail: string };

/**
 * Checks `bytes` (a whole stored file) against `expected`: size, then sha256, then the header.
 * Size and checksum come first because a damaged header is usually damage, not a new format.
 */
export function checkDataFile(bytes: Uint8Array, expected: StoredFile): DataFileCheck {
  if (bytes.byteLength < expected.size)
    return { ok: false, reason: 'truncated', detail: `truncated: expected ${expected.size} bytes, got ${bytes.byteLength}` };
  if (bytes.byteLength > expected.size)
    return { ok: false, reason: 'size-mismatch', detail: `size mismatch: expected ${expected.size} bytes, got ${bytes.byteLength}` };
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected.sha256)
    return { ok: false, reason: 'checksum-mismatch', detail: `checksum mismatch: expected sha256 ${expected.sha256}, got ${actual}` };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.byteLength < DATA_FILE_HEADER_LENGTH || !view.subarray(0, 4).equals(MAGIC))
    return { ok: false, reason: 'not-a-floe-file', detail: 'not a Floe checkpoint data file (no FLOE header)' };
  const version = view.readUInt16BE(4);
  if (version !== DATA_FILE_FORMAT_VERSION) return { ok: false, reason: 'unknown-format-version', detail: unknownVersion(version, DATA_FILE_FORMAT_VERSION) };
  const kind = view.readUInt8(6);
  const flags = view.readUInt8(7);
  if (kind !== DataFileKind.checkpoint || flags !== 0)
    return { ok: false, reason: 'unknown-kind', detail: `unknown data file kind ${kind} with flags ${flags}: this checkpoint was written by a newer Floe` };
  return { ok: true, payload: view.subarray(DATA_FILE_HEADER_LENGTH) };
}

/** The detail text for a format version this Floe cannot read. */
export function unknownVersion(found: number, supported: number): string {
  return found > supported
    ? `unknown format version ${found}: this checkpoint was written by a newer Floe (this one reads version ${supported})`
    : `unknown format version ${found} (this Floe reads version ${supported})`;
}
