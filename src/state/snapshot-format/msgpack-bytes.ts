// Just enough msgpack to take canonical payloads apart and put them together as bytes: a backend
// that stores serialized values (disk) splices them into payloads and slices them out again
// without decoding a value. Covers the whole msgpack format for skipping; decodes only headers,
// numbers, strings and binary. Pure.
import { Packr } from 'msgpackr';
import { MSGPACK_OPTIONS } from '../serde/type-serializer.js';

const packr = new Packr(MSGPACK_OPTIONS);

/** A cursor over msgpack bytes in `buf[pos, end)`; every read throws RangeError on bytes it cannot read. */
export class MsgpackReader {
  private view: DataView;

  constructor(
    public buf: Buffer,
    public pos: number,
    public end: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Points the reader at other bytes (reuse without allocating). */
  reset(buf: Buffer, pos: number, end: number): void {
    if (buf !== this.buf) {
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = pos;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new RangeError(`msgpack payload truncated at byte ${this.pos}`);
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** The element count of an array; throws when the next value is not an array. */
  arrayLength(): number {
    const tag = this.u8();
    if (tag >= 0x90 && tag <= 0x9f) return tag & 0x0f;
    if (tag === 0xdc) return this.u16();
    if (tag === 0xdd) return this.u32();
    throw this.unexpected(tag, 'an array');
  }

  /** The entry count of a map; throws when the next value is not a map. */
  mapLength(): number {
    const tag = this.u8();
    if (tag >= 0x80 && tag <= 0x8f) return tag & 0x0f;
    if (tag === 0xde) return this.u16();
    if (tag === 0xdf) return this.u32();
    throw this.unexpected(tag, 'a map');
  }

  /** The next value as a number (any integer or float format). */
  number(): number {
    const tag = this.u8();
    if (tag <= 0x7f) return tag;
    if (tag >= 0xe0) return tag - 0x100;
    let v: number;
    switch (tag) {
      case 0xca:
        this.need(4);
        v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      case 0xcb:
        this.need(8);
        v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        this.need(8);
        v = Number(this.view.getBigUint64(this.pos));
        this.pos += 8;
        return v;
      case 0xd0:
        this.need(1);
        return this.view.getInt8(this.pos++);
      case 0xd1:
        this.need(2);
        v = this.view.getInt16(this.pos);
        this.pos += 2;
        return v;
      case 0xd2:
        this.need(4);
        v = this.view.getInt32(this.pos);
        this.pos += 4;
        return v;
      case 0xd3:
        this.need(8);
        v = Number(this.view.getBigInt64(this.pos));
        this.pos += 8;
        return v;
    }
    throw this.unexpected(tag, 'a number');
  }

  /** The byte range of the next string's UTF-8, and moves past it; undefined (and no move) when the next value is not a string. */
  strRange(): [number, number] | undefined {
    const at = this.pos;
    const tag = this.u8();
    let n: number;
    if (tag >= 0xa0 && tag <= 0xbf) n = tag & 0x1f;
    else if (tag === 0xd9) n = this.u8();
    else if (tag === 0xda) n = this.u16();
    else if (tag === 0xdb) n = this.u32();
    else {
      this.pos = at;
      return undefined;
    }
    this.need(n);
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }

  /** The next value as a string. */
  str(): string {
    const range = this.strRange();
    if (range === undefined) throw this.unexpected(this.buf[this.pos], 'a string');
    return this.buf.toString('utf8', range[0], range[1]);
  }

  /**
   * The next value as bytes: the content of a msgpack bin (a view, no copy), or a Uint8Array
   * msgpackr wrote in its typed-array extension (serializers that return a plain Uint8Array).
   */
  bytes(): Uint8Array {
    const at = this.pos;
    const tag = this.u8();
    let n = -1;
    if (tag === 0xc4) n = this.u8();
    else if (tag === 0xc5) n = this.u16();
    else if (tag === 0xc6) n = this.u32();
    if (n >= 0) {
      this.need(n);
      this.pos += n;
      return this.buf.subarray(this.pos - n, this.pos);
    }
    this.pos = at;
    const value = packr.unpack(this.buf.subarray(at, this.skip()));
    if (value instanceof Uint8Array) return value;
    throw this.unexpected(tag, 'serialized bytes', at);
  }

  /** Moves past the next value (nested ones included); returns where it ended. */
  skip(): number {
    let remaining = 1;
    while (remaining > 0) {
      remaining--;
      const tag = this.u8();
      if (tag <= 0x7f || tag >= 0xe0 || tag === 0xc0 || tag === 0xc2 || tag === 0xc3) continue;
      if (tag <= 0x8f) remaining += 2 * (tag & 0x0f);
      else if (tag <= 0x9f) remaining += tag & 0x0f;
      else if (tag <= 0xbf) this.advance(tag & 0x1f);
      else
        switch (tag) {
          case 0xc4:
          case 0xd9:
            this.advance(this.u8());
            break;
          case 0xc5:
          case 0xda:
            this.advance(this.u16());
            break;
          case 0xc6:
          case 0xdb:
            this.advance(this.u32());
            break;
          case 0xc7:
            this.advance(this.u8() + 1);
            break;
          case 0xc8:
            this.advance(this.u16() + 1);
            break;
          case 0xc9:
            this.advance(this.u32() + 1);
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            this.advance(4);
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            this.advance(8);
            break;
          case 0xcc:
          case 0xd0:
            this.advance(1);
            break;
          case 0xcd:
          case 0xd1:
            this.advance(2);
            break;
          case 0xd4:
            this.advance(2);
            break;
          case 0xd5:
            this.advance(3);
            break;
          case 0xd6:
            this.advance(5);
            break;
          case 0xd7:
            this.advance(9);
            break;
          case 0xd8:
            this.advance(17);
            break;
          case 0xdc:
            remaining += this.u16();
            break;
          case 0xdd:
            remaining += this.u32();
            break;
          case 0xde:
            remaining += 2 * this.u16();
            break;
          case 0xdf:
            remaining += 2 * this.u32();
            break;
          default:
            throw this.unexpected(tag, 'a msgpack value');
        }
    }
    return this.pos;
  }

  private advance(n: number): void {
    this.need(n);
    this.pos += n;
  }

  private unexpected(tag: number, wanted: string, at = this.pos - 1): RangeError {
    return new RangeError(`expected ${wanted} in a snapshot payload, found msgpack tag 0x${tag.toString(16).padStart(2, '0')} at byte ${at}`);
  }
}

/** Appends msgpack to a growable buffer that is reused between payloads (`reset`); read `bytes()` before the next reset. */
export class MsgpackWriter {
  private buf = Buffer.allocUnsafe(1024);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;

  reset(): void {
    this.pos = 0;
  }

  /** The bytes written since the last reset (a view of the reused buffer). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  arrayHeader(n: number): void {
    this.ensure(5);
    if (n < 16) this.buf[this.pos++] = 0x90 | n;
    else if (n < 0x10000) {
      this.buf[this.pos] = 0xdc;
      this.view.setUint16(this.pos + 1, n);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xdd;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
  }

  /** `{v: <value>, t: <time>}` is written as header, "v", value, "t", time: this is the header and "v". */
  ttlValueStart(): void {
    this.ensure(3);
    this.buf[this.pos++] = 0x82;
    this.buf[this.pos++] = 0xa1;
    this.buf[this.pos++] = 0x76; // 'v'
  }

  /** The `"t": time` that ends a TTL value started with {@link ttlValueStart}. */
  ttlValueEnd(time: number): void {
    this.ensure(2);
    this.buf[this.pos++] = 0xa1;
    this.buf[this.pos++] = 0x74; // 't'
    this.float64(time);
  }

  float64(n: number): void {
    this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.view.setFloat64(this.pos + 1, n);
    this.pos += 9;
  }

  /** A string from its UTF-8 bytes (`prefix` is written before them, inside the string). */
  strFromUtf8(utf8: Uint8Array, prefix?: number): void {
    const n = utf8.length + (prefix === undefined ? 0 : 1);
    this.ensure(5 + n);
    if (n < 32) this.buf[this.pos++] = 0xa0 | n;
    else if (n < 0x100) {
      this.buf[this.pos++] = 0xd9;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos] = 0xda;
      this.view.setUint16(this.pos + 1, n);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xdb;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
    if (prefix !== undefined) this.buf[this.pos++] = prefix;
    this.buf.set(utf8, this.pos);
    this.pos += utf8.length;
  }

  bin(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(5 + n);
    if (n < 0x100) {
      this.buf[this.pos++] = 0xc4;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos] = 0xc5;
      this.view.setUint16(this.pos + 1, n);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xc6;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }

  /** Bytes that are msgpack already (a serialized value, spliced in as it is). */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Any value, encoded by msgpackr with MSGPACK_OPTIONS. */
  value(value: unknown): void {
    this.raw(packr.pack(value));
  }
}
