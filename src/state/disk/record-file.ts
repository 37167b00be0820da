// The file format of the disk backend's checkpoints (does I/O): a materialization (every entry of
// the store) and a change-log segment (every put and delete since the previous checkpoint) are
// both a sequence of records, framed like every checkpoint file ("FLOE", version, ..., sha256).
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { FloeError } from '../../core/errors.js';

/** Same envelope as checkpoint/files (magic, u16 version ... 32-byte sha256 trailer), so storage verifies these files too. */
const ENVELOPE_MAGIC = Buffer.from('FLOE');
const ENVELOPE_VERSION = 1;
/** Then this format's own header: "KV", u16 version, u8 kind. */
const KV_MAGIC = Buffer.from('KV');
export const RECORD_FILE_VERSION = 1;
const TRAILER_BYTES = 32;

export type RecordFileKind = 'materialization' | 'changelog';
const KIND_CODES: Record<RecordFileKind, number> = { materialization: 1, changelog: 2 };

/** Record opcodes. DEFINE binds a state index to a state name for the rest of the file. */
const OP_DEFINE = 1;
const OP_PUT = 2;
const OP_DELETE = 3;

/** A finished record file. */
export interface SealedRecordFile {
  path: string;
  bytes: number;
  sha256: string;
  /** PUT + DELETE records. */
  records: number;
}

/**
 * Appends records to a file through a 1 MiB buffer with blocking writes (the buffer fills at
 * most once per ~10k records, so the task's thread pays ~1 ms per MiB). The sha256 is computed as
 * bytes go out; {@link seal} writes the trailer, {@link sync} fsyncs.
 */
export class RecordFileWriter {
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  private fd: number;
  private readonly hash: Hash = createHash('sha256');
  private written = 0;
  records = 0;
  private readonly defined = new Set<number>();
  private sealed: SealedRecordFile | undefined;

  constructor(
    readonly path: string,
    kind: RecordFileKind,
    /** The name of a state index, written once per file before its first record. */
    private readonly nameOf: (stateIndex: number) => string,
  ) {
    this.fd = openSync(path, 'w');
    const header = Buffer.alloc(ENVELOPE_MAGIC.length + 2 + KV_MAGIC.length + 3);
    ENVELOPE_MAGIC.copy(header, 0);
    header.writeUInt16BE(ENVELOPE_VERSION, 4);
    KV_MAGIC.copy(header, 6);
    header.writeUInt16BE(RECORD_FILE_VERSION, 8);
    header.writeUInt8(KIND_CODES[kind], 10);
    this.raw(header);
  }

  /** Bytes written so far (buffered ones included). */
  get size(): number {
    return this.written + this.pos;
  }

  put(stateIndex: number, key: Uint8Array, value: Uint8Array): void {
    this.define(stateIndex);
    this.reserve(9 + key.length + value.length);
    const b = this.buffer;
    b[this.pos] = OP_PUT;
    b.writeUInt16BE(stateIndex, this.pos + 1);
    b.writeUInt16BE(key.length, this.pos + 3);
    this.pos += 5;
    b.set(key, this.pos);
    this.pos += key.length;
    b.writeUInt32BE(value.length, this.pos);
    this.pos += 4;
    b.set(value, this.pos);
    this.pos += value.length;
    this.records++;
  }

  delete(stateIndex: number, key: Uint8Array): void {
    this.define(stateIndex);
    this.reserve(5 + key.length);
    const b = this.buffer;
    b[this.pos] = OP_DELETE;
    b.writeUInt16BE(stateIndex, this.pos + 1);
    b.writeUInt16BE(key.length, this.pos + 3);
    this.pos += 5;
    b.set(key, this.pos);
    this.pos += key.length;
    this.records++;
  }

  /** Writes the trailer and closes the file (not yet fsynced: see {@link sync}). */
  seal(): SealedRecordFile {
    if (this.sealed !== undefined) return this.sealed;
    this.flush();
    const sha = this.hash.digest();
    writeSync(this.fd, sha);
    closeSync(this.fd);
    this.fd = -1;
    this.sealed = { path: this.path, bytes: this.written + TRAILER_BYTES, sha256: sha.toString('hex'), records: this.records };
    return this.sealed;
  }

  /** Closes without a trailer (the file is then unreadable; used when it is thrown away). */
  discard(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private define(stateIndex: number): void {
    if (this.defined.has(stateIndex)) return;
    this.defined.add(stateIndex);
    const name = Buffer.from(this.nameOf(stateIndex), 'utf8');
    this.reserve(5 + name.length);
    const b = this.buffer;
    b[this.pos] = OP_DEFINE;
    b.writeUInt16BE(stateIndex, this.pos + 1);
    b.writeUInt16BE(name.length, this.pos + 3);
    this.pos += 5;
    b.set(name, this.pos);
    this.pos += name.length;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buffer.length) return;
    this.flush();
    if (n > this.buffer.length) throw new FloeError('INVALID_ARGUMENT', `A state entry of ${n} bytes is larger than the 1 MiB record limit of the disk backend`);
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private flush(): void {
    if (this.pos === 0) return;
    const chunk = this.buffer.subarray(0, this.pos);
    this.hash.update(chunk);
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
    this.written += chunk.length;
    this.pos = 0;
  }
}

/** fsyncs a sealed file. */
export function syncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** One record as read back; `value` undefined for a delete. Views into the read buffer: copy to keep. */
export interface KvRecord {
  state: string;
  key: Uint8Array;
  value: Uint8Array | undefined;
}

/**
 * Reads the records of a file in order, in chunks of 4 MiB (memory stays bounded for files far
 * larger than memory). Checks the header and the framing; the sha256 trailer is checked by the
 * checkpoint storage before a restore starts, so a corrupt file is refused before anything is loaded.
 */
export async function* readRecordFile(path: string, expected: RecordFileKind | undefined): AsyncGenerator<KvRecord[]> {
  const handle = await open(path, 'r').catch((cause: NodeJS.ErrnoException) => {
    throw corrupt(path, `it is missing or unreadable (${cause.code ?? cause.message})`, cause);
  });
  try {
    const { size } = await handle.stat();
    const end = size - TRAILER_BYTES;
    const header = Buffer.alloc(11);
    if (end < header.length || (await handle.read(header, 0, header.length, 0)).bytesRead !== header.length) throw corrupt(path, 'it is truncated');
    checkHeader(header, end, path, expected);
    const names = new Map<number, string>();
    let carry: Buffer = Buffer.alloc(0);
    let at = header.length;
    while (at < end) {
      const chunk = Buffer.allocUnsafe(Math.min(4 << 20, end - at));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
      if (bytesRead === 0) throw corrupt(path, 'it is truncated');
      at += bytesRead;
      const buf = carry.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
      const out: KvRecord[] = [];
      const used = parseRecords(buf, names, out, path);
      carry = buf.subarray(used);
      if (out.length > 0) yield out;
    }
    if (carry.length > 0) throw corrupt(path, 'its last record is cut off');
  } finally {
    await handle.close();
  }
}

/** The records of a whole file held in memory (inline snapshots of tests and harnesses). */
export function readRecordBytes(bytes: Buffer, what: string): KvRecord[] {
  const end = bytes.length - TRAILER_BYTES;
  checkHeader(bytes.subarray(0, 11), end, what, undefined);
  const out: KvRecord[] = [];
  const body = bytes.subarray(11, end);
  if (parseRecords(body, new Map(), out, what) !== body.length) throw corrupt(what, 'its last record is cut off');
  return out;
}

function checkHeader(header: Buffer, end: number, path: string, expected: RecordFileKind | undefined): void {
  if (end < 11 || header.length < 11) throw corrupt(path, 'it is truncated');
  if (!header.subarray(0, 4).equals(ENVELOPE_MAGIC) || !header.subarray(6, 8).equals(KV_MAGIC)) throw corrupt(path, 'it is not a Floe state file');
  if (header.readUInt16BE(8) > RECORD_FILE_VERSION) throw corrupt(path, `format version ${header.readUInt16BE(8)} was written by a newer Floe`);
  if (expected !== undefined && header[10] !== KIND_CODES[expected]) throw corrupt(path, `it is not a ${expected} file`);
}

/** Parses whole records from `buf`; returns how many bytes were consumed. */
function parseRecords(buf: Buffer, names: Map<number, string>, out: KvRecord[], path: string): number {
  let p = 0;
  for (;;) {
    if (p + 5 > buf.length) return p;
    const op = buf[p];
    const index = buf.readUInt16BE(p + 1);
    const len = buf.readUInt16BE(p + 3);
    if (op === OP_DEFINE) {
      if (p + 5 + len > buf.length) return p;
      names.set(index, buf.toString('utf8', p + 5, p + 5 + len));
      p += 5 + len;
      continue;
    }
    const state = names.get(index);
    if (state === undefined || (op !== OP_PUT && op !== OP_DELETE)) throw corrupt(path, `bad record at a byte offset near ${p}`);
    if (op === OP_DELETE) {
      if (p + 5 + len > buf.length) return p;
      out.push({ state, key: buf.subarray(p + 5, p + 5 + len), value: undefined });
      p += 5 + len;
      continue;
    }
    if (p + 9 + len > buf.length) return p;
    const valueLength = buf.readUInt32BE(p + 5 + len);
    const valueAt = p + 9 + len;
    if (valueAt + valueLength > buf.length) return p;
    out.push({ state, key: buf.subarray(p + 5, p + 5 + len), value: buf.subarray(valueAt, valueAt + valueLength) });
    p = valueAt + valueLength;
  }
}

function corrupt(path: string, why: string, cause?: unknown): FloeError {
  return new FloeError('CHECKPOINT_INVALID', `State file ${path} cannot be restored: ${why}. Restore an older checkpoint explicitly, or accept the fallback with --allow-fallback-duplicates.`, { cause });
}
