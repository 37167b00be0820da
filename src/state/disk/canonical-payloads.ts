// Between the disk backend's stored entries and canonical payloads (layout in
// snapshot-format/block-codec.ts), as bytes: the disk stores serializer bytes (with an 8-byte
// little-endian TTL timestamp in front), which are spliced into payloads and sliced out again, so
// no value is decoded either way. Map user keys are the only thing converted (the disk keys them by
// their canonical key encoding; payloads by KeyId, or by key-serializer bytes). Pure.
import { decodeKey, keyFromId } from '../../core/key-decoding.js';
import { encodeKey, type KeyId, keyId, TAG_NUMBER, TAG_STRING } from '../../core/key-encoding.js';
import type { SnapshotStateMeta } from '../keyed-snapshot.js';
import { unpackPayload } from '../snapshot-format/block-codec.js';
import type { MsgpackReader, MsgpackWriter } from '../snapshot-format/msgpack-bytes.js';
import { inlinesValues } from '../snapshot-format/payload-codec.js';
import type { TypeSerializer } from '../serde/type-serializer.js';
import type { StateKind } from '../state.js';
import { TTL_TIMESTAMP_BYTES } from './disk-state-table.js';

/** How one state's entries look on both sides. */
export interface PayloadShape {
  kind: StateKind;
  ttl: boolean;
  /** Payloads hold msgpack values themselves (see inlinesValues), else serializer bytes. */
  inline: boolean;
  /** The map key serializer, for map state whose payloads hold key-serializer bytes; undefined when not known. */
  keySerializer: TypeSerializer<unknown> | undefined;
}

export function payloadShape(meta: SnapshotStateMeta, keySerializer: TypeSerializer<unknown> | undefined): PayloadShape {
  return { kind: meta.kind, ttl: meta.ttl, inline: inlinesValues(meta), keySerializer };
}

/** True when converting this state's map user keys needs a key serializer that is not known. */
export function needsKeySerializer(shape: PayloadShape): boolean {
  return shape.kind === 'map' && !shape.inline && shape.keySerializer === undefined;
}

// --- disk -> payload ---------------------------------------------------------------------------

/** The payload of one value, reducing or aggregating entry. */
export function writeSinglePayload(w: MsgpackWriter, shape: PayloadShape, stored: Buffer): void {
  writeElement(w, shape, stored);
}

/** The payload of one key's list: its stored elements in list order. */
export function writeListPayload(w: MsgpackWriter, shape: PayloadShape, elements: Buffer[]): void {
  w.arrayHeader(elements.length);
  for (const e of elements) writeElement(w, shape, e);
}

/** The payload of one key's map: user keys as their canonical key encoding, and the stored values. */
export function writeMapPayload(w: MsgpackWriter, shape: PayloadShape, userKeys: Buffer[], stored: Buffer[]): void {
  w.arrayHeader(userKeys.length);
  for (let i = 0; i < userKeys.length; i++) {
    if (shape.inline) {
      w.arrayHeader(2);
      writeKeyId(w, userKeys[i]);
      writeElement(w, shape, stored[i]);
      continue;
    }
    const keyBytes = shape.keySerializer!.serialize(decodeKey(userKeys[i]));
    const value = stored[i];
    w.arrayHeader(shape.ttl ? 3 : 2);
    w.bin(keyBytes);
    if (!shape.ttl) {
      w.bin(value);
      continue;
    }
    w.bin(value.subarray(TTL_TIMESTAMP_BYTES));
    w.float64(value.readDoubleLE(0));
  }
}

/** One stored value as a payload element: the value (inlined or as bin), or its TTL form. */
function writeElement(w: MsgpackWriter, shape: PayloadShape, stored: Buffer): void {
  if (!shape.ttl) {
    if (shape.inline) w.raw(stored);
    else w.bin(stored);
    return;
  }
  const t = stored.readDoubleLE(0);
  const v = stored.subarray(TTL_TIMESTAMP_BYTES);
  if (shape.inline) {
    w.ttlValueStart();
    w.raw(v);
    w.ttlValueEnd(t);
  } else {
    w.arrayHeader(2);
    w.bin(v);
    w.float64(t);
  }
}

/** The KeyId of a user key given by its canonical encoding, as msgpack (what the heap's Map holds). */
function writeKeyId(w: MsgpackWriter, encoded: Buffer): void {
  const tag = encoded[0];
  if (tag === TAG_STRING) {
    // A string is its own id; one starting with U+0001 gets another in front (keyId's escape).
    if (encoded.length > 1 && encoded[1] === 0x01) w.strFromUtf8(encoded.subarray(1), 0x01);
    else w.strFromUtf8(encoded.subarray(1));
  } else if (tag === TAG_NUMBER) w.float64(encoded.readDoubleBE(1));
  else w.value(keyId(decodeKey(encoded)));
}

// --- payload -> disk ---------------------------------------------------------------------------

/** Receives the disk entries of one payload. Byte arguments stay valid (`userKey` only during the call). */
export interface DiskEntrySink {
  /** The stored bytes of a value, reducing or aggregating entry. */
  value(stored: Uint8Array): void;
  /** The stored bytes of the next list element (list order). */
  element(stored: Uint8Array): void;
  /** A map entry: the user key's canonical encoding, and the stored bytes. */
  mapEntry(userKey: Uint8Array, stored: Uint8Array): void;
}

/** Stored bytes that must outlive the payload they came from (TTL values get a timestamp prefix). */
export type Allocate = (bytes: number) => Buffer;

/** Reads one PAYLOAD_PACKED payload (`reader` spans it) into disk entries. Throws RangeError on a payload of another shape. */
export function readPayload(shape: PayloadShape, reader: MsgpackReader, sink: DiskEntrySink, allocate: Allocate): void {
  switch (shape.kind) {
    case 'list': {
      const n = reader.arrayLength();
      for (let i = 0; i < n; i++) sink.element(readElement(shape, reader, allocate));
      return;
    }
    case 'map': {
      const n = reader.arrayLength();
      for (let i = 0; i < n; i++) {
        const parts = reader.arrayLength();
        if (shape.inline) {
          if (parts !== 2) throw new RangeError(`a map entry of ${parts} parts, expected [key id, value]`);
          const userKey = readKeyIdAsKey(reader);
          sink.mapEntry(userKey, readElement(shape, reader, allocate));
          continue;
        }
        if (parts !== (shape.ttl ? 3 : 2)) throw new RangeError(`a map entry of ${parts} parts, expected ${shape.ttl ? 3 : 2}`);
        const userKey = encodeKey(shape.keySerializer!.deserialize(reader.bytes()));
        const value = reader.bytes();
        sink.mapEntry(userKey, shape.ttl ? stamped(value, reader.number(), allocate) : value);
      }
      return;
    }
    default:
      sink.value(readElement(shape, reader, allocate));
  }
}

/** One payload element as the disk stores it. */
function readElement(shape: PayloadShape, reader: MsgpackReader, allocate: Allocate): Uint8Array {
  if (!shape.ttl) {
    if (!shape.inline) return reader.bytes();
    const start = reader.pos;
    return reader.buf.subarray(start, reader.skip());
  }
  if (!shape.inline) {
    const parts = reader.arrayLength();
    if (parts !== 2) throw new RangeError(`a TTL value of ${parts} parts, expected [bytes, time]`);
    const value = reader.bytes();
    return stamped(value, reader.number(), allocate);
  }
  // {v, t} in any key order
  const n = reader.mapLength();
  let v: Uint8Array | undefined;
  let t: number | undefined;
  for (let i = 0; i < n; i++) {
    const key = reader.str();
    if (key === 'v') {
      const start = reader.pos;
      v = reader.buf.subarray(start, reader.skip());
    } else if (key === 't') t = reader.number();
    else reader.skip();
  }
  if (v === undefined || t === undefined) throw new RangeError('a TTL value without "v" or "t"');
  return stamped(v, t, allocate);
}

/** `[time f64 LE][value]`: a TTL state's stored bytes. */
function stamped(value: Uint8Array, time: number, allocate: Allocate): Buffer {
  const out = allocate(TTL_TIMESTAMP_BYTES + value.length);
  out.writeDoubleLE(time, 0);
  out.set(value, TTL_TIMESTAMP_BYTES);
  return out;
}

const numberKey = Buffer.alloc(9);
numberKey[0] = TAG_NUMBER;

/** A map entry's KeyId (msgpack) as the canonical encoding of the user key it names. */
function readKeyIdAsKey(reader: MsgpackReader): Uint8Array {
  const range = reader.strRange();
  if (range !== undefined) {
    const [start, end] = range;
    // A plain string id is the key itself: 's' + its UTF-8.
    if (end === start || reader.buf[start] !== 0x01) {
      const out = Buffer.allocUnsafe(1 + end - start);
      out[0] = TAG_STRING;
      reader.buf.copy(out, 1, start, end);
      return out;
    }
    return encodeKey(keyFromId(reader.buf.toString('utf8', start, end)));
  }
  const tag = reader.buf[reader.pos];
  // Numbers (msgpackr writes bigints as uint64/int64, 0xcf/0xd3, and reads them back as bigints).
  if (tag <= 0x7f || tag >= 0xe0 || (tag >= 0xca && tag <= 0xd2 && tag !== 0xcf)) {
    numberKey.writeDoubleBE(reader.number() || 0, 1);
    return numberKey;
  }
  // bigint and boolean ids
  const start = reader.pos;
  return encodeKey(keyFromId(unpackPayload(reader.buf.subarray(start, reader.skip())) as KeyId));
}
