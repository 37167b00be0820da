// The binary layout of one key group's block in a heap snapshot, built for speed: entries go
// into one growable buffer with tags, so common cases (string or number keys, number values)
// are written without allocating per entry. Pure (no I/O).
//
// Format 2 (written now) stores a state or timer-queue index below 255 in one byte and any other
// as 0xff followed by a u32; format 1 (still read) had one byte only, so more than 255 states wrapped.
import { Packr } from 'msgpackr';
import type { KeyId } from '../../core/key-encoding.js';
import type { Namespace } from '../keyed-state-backend.js';
import { MSGPACK_OPTIONS } from '../serde/type-serializer.js';

const packr = new Packr(MSGPACK_OPTIONS);

const NS_VOID = 0;
const NS_STRING = 1;
const NS_NUMBER = 2;
const ID_STRING = 1;
const ID_NUMBER = 2;
const ID_OTHER = 3;
/** Payload tags: a float64 number, or msgpack bytes of the value / payload structure. */
export const PAYLOAD_NUMBER = 1;
export const PAYLOAD_PACKED = 2;
/** Record kinds inside a block. */
const REC_ENTRY = 1;
const REC_TIMER = 2;
/** Format 2: an index byte with this value is followed by the index as a u32. */
const INDEX_WIDE = 0xff;

/** The block format BlockWriter writes (recorded in the snapshot's metadata). */
export const BLOCK_FORMAT = 2;

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

  /** One state entry whose payload was packed already ({@link packPayload}). */
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

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** The bytes `entry` would write for a non-number payload; the result stays valid (msgpackr does not reuse it). */
export function packPayload(payload: unknown): Uint8Array {
  return packr.pack(payload);
}

export interface DecodedBlock {
  entries: Array<[number, Namespace, KeyId, unknown]>;
  timers: Array<[number, number, Namespace, KeyId, number]>;
}

/** Reads a block written by BlockWriter in `format` (1 or 2); throws on bytes it cannot read. */
export function readBlock(bytes: Uint8Array, format: number = BLOCK_FORMAT): DecodedBlock {
  if (format !== 1 && format !== 2) throw new RangeError(`unknown heap snapshot block format ${format} (this version reads 1 and 2)`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > buf.length) throw new RangeError(`snapshot block truncated at byte ${pos}`);
  };
  const u8 = () => {
    need(1);
    return buf[pos++];
  };
  const index = () => {
    const v = u8();
    if (format === 1 || v !== INDEX_WIDE) return v;
    need(4);
    const wide = buf.readUInt32BE(pos);
    pos += 4;
    return wide;
  };
  const f64 = () => {
    need(8);
    const v = buf.readDoubleBE(pos);
    pos += 8;
    return v;
  };
  const len = () => {
    need(4);
    const n = buf.readUInt32BE(pos);
    pos += 4;
    need(n);
    return n;
  };
  const str = () => {
    const n = len();
    const s = buf.toString('utf8', pos, pos + n);
    pos += n;
    return s;
  };
  const bytesOf = () => {
    const n = len();
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const namespace = (): Namespace => {
    const tag = u8();
    if (tag === NS_VOID) return '';
    if (tag === NS_STRING) return str();
    if (tag === NS_NUMBER) return f64();
    throw new RangeError(`unknown namespace tag ${tag} at byte ${pos - 1}`);
  };
  const keyId = (): KeyId => {
    const tag = u8();
    if (tag === ID_STRING) return str();
    if (tag === ID_NUMBER) return f64();
    if (tag === ID_OTHER) return packr.unpack(bytesOf()) as KeyId;
    throw new RangeError(`unknown key tag ${tag} at byte ${pos - 1}`);
  };
  const out: DecodedBlock = { entries: [], timers: [] };
  while (pos < buf.length) {
    const rec = u8();
    if (rec === REC_ENTRY) {
      const state = index();
      const ns = namespace();
      const id = keyId();
      const tag = u8();
      const value = tag === PAYLOAD_NUMBER ? f64() : tag === PAYLOAD_PACKED ? packr.unpack(bytesOf()) : undefined;
      if (tag !== PAYLOAD_NUMBER && tag !== PAYLOAD_PACKED) throw new RangeError(`unknown payload tag ${tag}`);
      out.entries.push([state, ns, id, value]);
    } else if (rec === REC_TIMER) {
      const queue = index();
      const ts = f64();
      const ns = namespace();
      const id = keyId();
      out.timers.push([queue, ts, ns, id, f64()]);
    } else throw new RangeError(`unknown record tag ${rec} at byte ${pos - 1}`);
  }
  return out;
}
