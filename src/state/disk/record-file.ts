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

/** Which parts of a record file to read (all of it by default). */
export interface RecordFileReadOptions {
  /** The kind the file must be. */
  kind?: RecordFileKind;
  /**
   * Byte ranges [start, end) to read, ascending, each starting at a record (a materialization's
   * index gives them); with `names`, the state names the skipped definitions would have given.
   */
  ranges?: Array<[number, number]>;
  names?: string[];
  /** Told the bytes of each chunk read (progress). */
  onRead?: (bytes: number) => void;
}

/**
 * Walks the whole records of one buffer without allocating: after each `next()` the record is
 * `bytes[keyStart, keyEnd)` and, for a put, `bytes[valueStart, valueEnd)` (a restore copies them
 * into buffers of its own; making a view per record cost more in garbage collection than LMDB's writes).
 */
export class RecordCursor {
  bytes: Buffer = Buffer.alloc(0);
  /** Bytes of whole records consumed so far. */
  pos = 0;
  state = '';
  isPut = false;
  keyStart = 0;
  keyEnd = 0;
  valueStart = 0;
  valueEnd = 0;

  constructor(
    private readonly path: string,
    private readonly names: Map<number, string>,
  ) {}

  reset(bytes: Buffer): void {
    this.bytes = bytes;
    this.pos = 0;
  }

  /** Moves to the next put or delete; false when no whole record is left (`pos` then says where the rest starts). */
  next(): boolean {
    const buf = this.bytes;
    for (;;) {
      const p = this.pos;
      if (p + 5 > buf.length) return false;
      const op = buf[p];
      const index = (buf[p + 1] << 8) | buf[p + 2];
      const len = (buf[p + 3] << 8) | buf[p + 4];
      if (op === OP_DEFINE) {
        if (p + 5 + len > buf.length) return false;
        this.names.set(index, buf.toString('utf8', p + 5, p + 5 + len));
        this.pos = p + 5 + len;
        continue;
      }
      const state = this.names.get(index);
      if (state === undefined || (op !== OP_PUT && op !== OP_DELETE)) throw corrupt(this.path, `bad record at a byte offset near ${p}`);
      this.state = state;
      this.keyStart = p + 5;
      this.keyEnd = p + 5 + len;
      if (op === OP_DELETE) {
        if (this.keyEnd > buf.length) return false;
        this.isPut = false;
        this.pos = this.keyEnd;
        return true;
      }
      if (this.keyEnd + 4 > buf.length) return false;
      this.valueStart = this.keyEnd + 4;
      this.valueEnd = this.valueStart + buf.readUInt32BE(this.keyEnd);
      if (this.valueEnd > buf.length) return false;
      this.isPut = true;
      this.pos = this.valueEnd;
      return true;
    }
  }
}

/**
 * Reads a file in chunks of about 4 MiB (memory stays bounded for files far larger than memory),
 * yielding a cursor over each chunk's whole records; a record cut by the chunk's end starts the
 * next chunk. Checks the header and the framing; the sha256 trailer is checked by the checkpoint
 * storage before a restore starts, so a corrupt file is refused before anything is loaded.
 */
export async function* readRecordChunks(path: string, options: RecordFileReadOptions = {}): AsyncGenerator<RecordCursor> {
  const handle = await open(path, 'r').catch((cause: NodeJS.ErrnoException) => {
    throw corrupt(path, `it is missing or unreadable (${cause.code ?? cause.message})`, cause);
  });
  try {
    const { size } = await handle.stat();
    const end = size - TRAILER_BYTES;
    const header = Buffer.alloc(11);
    if (end < header.length || (await handle.read(header, 0, header.length, 0)).bytesRead !== header.length) throw corrupt(path, 'it is truncated');
    checkHeader(header, end, path, options.kind);
    const cursor = new RecordCursor(path, new Map((options.names ?? []).map((name, i) => [i, name])));
    for (const [from, to] of options.ranges ?? [[header.length, end]]) {
      if (from < header.length || to > end) throw corrupt(path, `its index points outside the file (${from}..${to} of ${end} bytes)`);
      let carry: Buffer = Buffer.alloc(0);
      let at = from;
      while (at < to) {
        // The cut record's bytes first, then the file's next bytes read straight behind them.
        const chunk = Buffer.allocUnsafe(carry.length + Math.min(4 << 20, to - at));
        carry.copy(chunk, 0);
        const { bytesRead } = await handle.read(chunk, carry.length, chunk.length - carry.length, at);
        if (bytesRead === 0) throw corrupt(path, 'it is truncated');
        at += bytesRead;
        options.onRead?.(bytesRead);
        cursor.reset(chunk.subarray(0, carry.length + bytesRead));
        yield cursor;
        carry = cursor.bytes.subarray(cursor.pos);
      }
      if (carry.length > 0) throw corrupt(path, to === end ? 'its last record is cut off' : `a record crosses the end of an indexed range at ${to}`);
    }
  } finally {
    await handle.close();
  }
}

/** The records of a file, chunk by chunk, as objects (tools and tests; a restore walks the cursor). */
export async function* readRecordFile(path: string, options: RecordFileReadOptions = {}): AsyncGenerator<KvRecord[]> {
  for await (const cursor of readRecordChunks(path, options)) {
    const out: KvRecord[] = [];
    while (cursor.next()) out.push(recordAt(cursor));
    yield out;
  }
}

/** A cursor over the records of a whole file held in memory (inline snapshots of tests and harnesses). */
export function* recordBytesCursor(bytes: Buffer, what: string): Generator<RecordCursor> {
  const end = bytes.length - TRAILER_BYTES;
  checkHeader(bytes.subarray(0, 11), end, what, undefined);
  const cursor = new RecordCursor(what, new Map());
  cursor.reset(bytes.subarray(11, end));
  yield cursor;
  if (cursor.pos !== cursor.bytes.length) throw corrupt(what, 'its last record is cut off');
}

function recordAt(c: RecordCursor): KvRecord {
  return { state: c.state, key: c.bytes.subarray(c.keyStart, c.keyEnd), value: c.isPut ? c.bytes.subarray(c.valueStart, c.valueEnd) : undefined };
}

function checkHeader(header: Buffer, end: number, path: string, expected: RecordFileKind | undefined): void {
  if (end < 11 || header.length < 11) throw corrupt(path, 'it is truncated');
  if (!header.subarray(0, 4).equals(ENVELOPE_MAGIC) || !header.subarray(6, 8).equals(KV_MAGIC)) throw corrupt(path, 'it is not a Floe state file');
  if (header.readUInt16BE(8) > RECORD_FILE_VERSION) throw corrupt(path, `format version ${header.readUInt16BE(8)} was written by a newer Floe`);
  if (expected !== undefined && header[10] !== KIND_CODES[expected]) throw corrupt(path, `it is not a ${expected} file`);
}

function corrupt(path: string, why: string, cause?: unknown): FloeError {
  return new FloeError('CHECKPOINT_INVALID', `State file ${path} cannot be restored: ${why}. Restore an older checkpoint explicitly, or accept the fallback with --allow-fallback-duplicates.`, { cause });
}
