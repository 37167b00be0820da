// The canonical keyed-snapshot format: one block of records per key group, the same bytes from
// every backend, so a savepoint restores into any backend at any parallelism. Built for speed:
// records go into one growable buffer with tags, so common cases (string or number keys, number
// values) are written without allocating per entry. Pure (no I/O).
//
// SNAPSHOT. Metadata (`KeyedSnapshotMeta`, JSON in the checkpoint's _metadata) plus a data file:
// the blocks of the key groups that hold state or timers, concatenated. `meta.keyGroups` lists
// `[keyGroup, offset, length]` per block, ascending, so a restore reads only the groups it owns.
// `meta.backend` is 'canonical' (a savepoint, written by any backend) or 'heap' (a heap
// checkpoint: the same bytes); `meta.format` is the block format below (2; 1 is still read).
// `meta.states[i]` names state index i (name, kind, serializer identities, ttl); `meta.timerQueues[q]`
// names timer queue q; `meta.entries` counts entry records.
//
// BLOCK. Records back to back, nothing before, between or after them; numbers big-endian:
//   entry   0x01  index  namespace  key  payload       one per (state, namespace, key) with state
//   timer   0x02  index  timestamp:f64  namespace  key  order:f64
//   index      format 2: u8 below 0xff, else 0xff + u32; format 1: u8 (more than 255 states wrapped)
//   namespace  0x00 (the void namespace '') | 0x01 u32 length + UTF-8 | 0x02 f64
//   key        the key's KeyId (core/key-encoding.ts): 0x01 u32 length + UTF-8 of a string id (a
//              string key, one more U+0001 in front when it starts with U+0001; an array or object
//              key is U+0001 + the latin1 text of its canonical encoding) | 0x02 f64 (number key)
//              | 0x03 u32 length + msgpack (bigint and boolean keys)
//   payload    0x01 f64 (a number value of an inlined value/reducing/aggregating state without
//              TTL; it may also come as 0x02) | 0x02 u32 length + msgpack of the payload structure below
// Every record of a block belongs to that block's key group. Writers put entries first and timers
// last; readers accept any order. Entries with nothing left (an empty list or map) are not written.
//
// PAYLOAD per state kind. "msgpack" is msgpackr with MSGPACK_OPTIONS (serde/type-serializer.ts);
// readers accept any valid msgpack encoding of the structure (writers differ: the heap packs
// objects, the disk backend splices the bytes it stores). `t` is the last access time in TTL
// clock milliseconds, present exactly when the state's meta says `ttl: true`.
//   Inlined (the state's serializer, and for map state its key serializer, are both msgpack@1):
//   values are written as themselves, no byte array per value.
//     value, reducing, aggregating   v                  TTL: {v, t} (a map with keys "v" and "t")
//     list                           [e1, e2, ...]      TTL: [{v: e1, t1}, ...]   (list order)
//     map                            [[id, v], ...]     TTL: [[id, {v, t}], ...]  (id: the user key's KeyId)
//   Serializer bytes (any other serializer): b(x) is the state serializer's bytes of x as msgpack
//   bin (a Uint8Array is also read in msgpackr's typed-array extension), kb(k) the map key
//   serializer's bytes of user key k.
//     value, reducing, aggregating   b(v)               TTL: [b(v), t]
//     list                           [b(e1), ...]       TTL: [[b(e1), t1], ...]
//     map                            [[kb(k), b(v)], ...]   TTL: [[kb(k), b(v), t], ...]
// TTL cleanup on full snapshot (StateTtlConfig.cleanupFullSnapshot) leaves out values, elements and
// entries that had expired at the barrier. Restored states no descriptor claimed are written as read.
//
// TIMERS. `order` is the timer's position in its queue's firing order at the barrier; a restore
// re-adds each queue's timers by ascending order, so timers with equal timestamps keep their order.
import { Packr } from 'msgpackr';
import type { KeyId } from '../../core/key-encoding.js';
import type { Namespace } from '../keyed-state-backend.js';
import { MSGPACK_OPTIONS } from '../serde/type-serializer.js';

const packr = new Packr(MSGPACK_OPTIONS);

/** Namespace tags. */
export const NS_VOID = 0;
export const NS_STRING = 1;
export const NS_NUMBER = 2;
/** Key tags. */
export const ID_STRING = 1;
export const ID_NUMBER = 2;
export const ID_OTHER = 3;
/** Payload tags: a float64 number, or msgpack bytes of the value / payload structure. */
export const PAYLOAD_NUMBER = 1;
export const PAYLOAD_PACKED = 2;
/** Record kinds inside a block. */
export const REC_ENTRY = 1;
export const REC_TIMER = 2;
/** Format 2: an index byte with this value is followed by the index as a u32. */
const INDEX_WIDE = 0xff;

/** The block format BlockWriter writes (recorded in the snapshot's metadata). */
export const BLOCK_FORMAT = 2;
/** Block formats this version reads. */
export const READABLE_BLOCK_FORMATS: readonly number[] = [1, 2];

/** Appends entries and timers of one key group to a growable buffer. */
export class BlockWriter {
  private buf: Buffer;
  // DataView writes of numbers are inlined by the JIT; Buffer's writeDoubleBE is not.
  private view: DataView;
  private pos = 0;

  constructor(initialBytes = 4096) {
    this.buf = Buffer.allocUnsafe(initialBytes);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.pos;
  }

  /** Bytes the buffer holds (written or not). */
  get capacity(): number {
    return this.buf.length;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  private u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  /** A state or timer-queue index: one byte below 255, else 0xff and a u32. */
  private index(v: number): void {
    if (v < INDEX_WIDE) return this.u8(v);
    this.ensure(5);
    this.buf[this.pos] = INDEX_WIDE;
    this.view.setUint32(this.pos + 1, v);
    this.pos += 5;
  }

  private f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  private str(s: string): void {
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.pos + 4, 'utf8');
    this.view.setUint32(this.pos, n);
    this.pos += 4 + n;
  }

  private bytes(b: Uint8Array): void {
    this.ensure(4 + b.length);
    this.view.setUint32(this.pos, b.length);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
  }

  private namespace(ns: Namespace): void {
    if (ns === '') this.u8(NS_VOID);
    else if (typeof ns === 'string') {
      this.u8(NS_STRING);
      this.str(ns);
    } else {
      this.u8(NS_NUMBER);
      this.f64(ns);
    }
  }

  private keyId(id: KeyId): void {
    if (typeof id === 'string') {
      this.u8(ID_STRING);
      this.str(id);
    } else if (typeof id === 'number') {
      this.u8(ID_NUMBER);
      this.f64(id);
    } else {
      this.u8(ID_OTHER);
      this.bytes(packr.pack(id));
    }
  }

  /** One state entry; `value` is a number (PAYLOAD_NUMBER) or anything msgpack encodes. */
  entry(state: number, ns: Namespace, id: KeyId, value: unknown): void {
    if (ns === '' && typeof id === 'number' && typeof value === 'number' && state < INDEX_WIDE) {
      // The common case (number key, number value, no namespace) in one bounds check.
      this.ensure(21);
      const buf = this.buf;
      const view = this.view;
      let pos = this.pos;
      buf[pos++] = REC_ENTRY;
      buf[pos++] = state;
      buf[pos++] = NS_VOID;
      buf[pos++] = ID_NUMBER;
      view.setFloat64(pos, id);
      pos += 8;
      buf[pos++] = PAYLOAD_NUMBER;
      view.setFloat64(pos, value);
      this.pos = pos + 8;
      return;
    }
    this.u8(REC_ENTRY);
    this.index(state);
    this.namespace(ns);
    this.keyId(id);
    if (typeof value === 'number') {
      this.u8(PAYLOAD_NUMBER);
      this.f64(value);
    } else {
      this.u8(PAYLOAD_PACKED);
      this.bytes(packr.pack(value));
    }
  }

  /** One state entry whose payload is msgpack bytes already ({@link packPayload}, or spliced by a backend). */
  packedEntry(state: number, ns: Namespace, id: KeyId, packed: Uint8Array): void {
    this.u8(REC_ENTRY);
    this.index(state);
    this.namespace(ns);
    this.keyId(id);
    this.u8(PAYLOAD_PACKED);
    this.bytes(packed);
  }

  timer(queue: number, timestamp: number, ns: Namespace, id: KeyId, order: number): void {
    this.u8(REC_TIMER);
    this.index(queue);
    this.f64(timestamp);
    this.namespace(ns);
    this.keyId(id);
    this.f64(order);
  }

  /** The block (a view of this writer's buffer: write nothing more after it). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** The bytes `entry` would write for a non-number payload; the result stays valid (msgpackr does not reuse it). */
export function packPayload(payload: unknown): Uint8Array {
  return packr.pack(payload);
}

/** Decodes a payload's msgpack bytes. */
export function unpackPayload(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/**
 * Reads a block record by record without decoding what the caller does not ask for: after `next()`
 * the fields describe the current record (byte ranges into `bytes` for strings and payloads), so a
 * backend can copy key and payload bytes without building strings or values. Throws RangeError on
 * bytes it cannot read (truncated, unknown tag), naming the byte offset.
 */
export class BlockCursor {
  readonly bytes: Buffer;
  private readonly view: DataView;
  private readonly wide: boolean;
  private pos = 0;
  /** REC_ENTRY or REC_TIMER. */
  record = 0;
  /** The state (entries) or timer queue (timers) index. */
  index = 0;
  nsTag = 0;
  /** UTF-8 range of a NS_STRING namespace. */
  nsStart = 0;
  nsEnd = 0;
  nsNumber = 0;
  idTag = 0;
  /** Byte range of an ID_STRING (UTF-8) or ID_OTHER (msgpack) key. */
  idStart = 0;
  idEnd = 0;
  idNumber = 0;
  payloadTag = 0;
  /** Byte range of a PAYLOAD_PACKED payload's msgpack. */
  payloadStart = 0;
  payloadEnd = 0;
  payloadNumber = 0;
  /** Timers: when it fires, and its position in its queue's firing order. */
  timestamp = 0;
  order = 0;

  constructor(bytes: Uint8Array, format: number = BLOCK_FORMAT) {
    if (!READABLE_BLOCK_FORMATS.includes(format)) throw new RangeError(`unknown snapshot block format ${format} (this version reads ${READABLE_BLOCK_FORMATS.join(' and ')})`);
    this.bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.wide = format >= 2;
  }

  /**
   * Moves to the next record; false at the end of the block. Reads optimistically and checks the
   * bounds once per record (a read past the end gives undefined or a DataView RangeError).
   */
  next(): boolean {
    const buf = this.bytes;
    const view = this.view;
    const start = this.pos;
    if (start >= buf.length) return false;
    let pos = start;
    try {
      const rec = buf[pos++];
      if (rec !== REC_ENTRY && rec !== REC_TIMER) throw new RangeError(`unknown record tag ${rec}`);
      let index = buf[pos++];
      if (this.wide && index === INDEX_WIDE) {
        index = view.getUint32(pos);
        pos += 4;
      }
      this.record = rec;
      this.index = index;
      if (rec === REC_TIMER) {
        this.timestamp = view.getFloat64(pos);
        pos += 8;
      }
      const ns = buf[pos++];
      this.nsTag = ns;
      if (ns === NS_STRING) {
        const n = view.getUint32(pos);
        this.nsStart = pos += 4;
        this.nsEnd = pos += n;
      } else if (ns === NS_NUMBER) {
        this.nsNumber = view.getFloat64(pos);
        pos += 8;
      } else if (ns !== NS_VOID) throw new RangeError(`unknown namespace tag ${ns}`);
      const id = buf[pos++];
      this.idTag = id;
      if (id === ID_NUMBER) {
        this.idNumber = view.getFloat64(pos);
        pos += 8;
      } else if (id === ID_STRING || id === ID_OTHER) {
        const n = view.getUint32(pos);
        this.idStart = pos += 4;
        this.idEnd = pos += n;
      } else throw new RangeError(`unknown key tag ${id}`);
      if (rec === REC_TIMER) {
        this.order = view.getFloat64(pos);
        pos += 8;
      } else {
        const tag = buf[pos++];
        this.payloadTag = tag;
        if (tag === PAYLOAD_NUMBER) {
          this.payloadNumber = view.getFloat64(pos);
          pos += 8;
        } else if (tag === PAYLOAD_PACKED) {
          const n = view.getUint32(pos);
          this.payloadStart = pos += 4;
          this.payloadEnd = pos += n;
        } else throw new RangeError(`unknown payload tag ${tag}`);
      }
    } catch (cause) {
      if (pos > buf.length || !(cause instanceof RangeError) || cause.message.startsWith('Offset'))
        throw new RangeError(`snapshot block truncated in the record at byte ${start}`, { cause });
      throw new RangeError(`${cause.message} in the record at byte ${start}`, { cause });
    }
    if (pos > buf.length) throw new RangeError(`snapshot block truncated in the record at byte ${start}`);
    this.pos = pos;
    return true;
  }

  /** The current record's namespace. */
  namespace(): Namespace {
    if (this.nsTag === NS_VOID) return '';
    if (this.nsTag === NS_STRING) return this.bytes.toString('utf8', this.nsStart, this.nsEnd);
    return this.nsNumber;
  }

  /** The current record's key id. */
  keyId(): KeyId {
    if (this.idTag === ID_STRING) return this.bytes.toString('utf8', this.idStart, this.idEnd);
    if (this.idTag === ID_NUMBER) return this.idNumber;
    return packr.unpack(this.bytes.subarray(this.idStart, this.idEnd)) as KeyId;
  }

  /** The current entry's payload, decoded: a number, or the unpacked msgpack structure. */
  payload(): unknown {
    return this.payloadTag === PAYLOAD_NUMBER ? this.payloadNumber : packr.unpack(this.bytes.subarray(this.payloadStart, this.payloadEnd));
  }
}

export interface DecodedBlock {
  entries: Array<[number, Namespace, KeyId, unknown]>;
  timers: Array<[number, number, Namespace, KeyId, number]>;
}

/** Reads a whole block written in `format` (1 or 2) into arrays; throws RangeError on bytes it cannot read. */
export function readBlock(bytes: Uint8Array, format: number = BLOCK_FORMAT): DecodedBlock {
  const cursor = new BlockCursor(bytes, format);
  const out: DecodedBlock = { entries: [], timers: [] };
  while (cursor.next()) {
    if (cursor.record === REC_ENTRY) out.entries.push([cursor.index, cursor.namespace(), cursor.keyId(), cursor.payload()]);
    else out.timers.push([cursor.index, cursor.timestamp, cursor.namespace(), cursor.keyId(), cursor.order]);
  }
  return out;
}
