// How the disk backend lays out keys (pure): key group (u16, big-endian) first, so a key-group
// range is one contiguous scan; then the key and the namespace, each length-prefixed; then a
// suffix per kind (nothing for values, a sequence number per list element, the user key per map entry).
import { FloeError, describeValue } from '../../core/errors.js';
import { decodeKey } from '../../core/key-decoding.js';
import { encodeKey } from '../../core/key-encoding.js';
import type { Namespace } from '../keyed-state-backend.js';

/** LMDB's key limit is 1978 bytes; the suffix of a map entry needs room too. */
export const MAX_KEY_PART_BYTES = 1024;

/** `[keyGroup u16][key length u16][key bytes]`: the start of every entry of one key. */
export function keyPart(keyGroup: number, keyBytes: Uint8Array, place: () => string, key: unknown): Buffer {
  if (keyBytes.length > MAX_KEY_PART_BYTES)
    throw new FloeError(
      'INVALID_KEY',
      `${place()}: the key ${describeValue(key, 60)} encodes to ${keyBytes.length} bytes; the disk backend takes keys up to ${MAX_KEY_PART_BYTES} bytes. Key by a shorter value (an id, or a hash of this one).`,
    );
  const out = Buffer.allocUnsafe(4 + keyBytes.length);
  out.writeUInt16BE(keyGroup, 0);
  out.writeUInt16BE(keyBytes.length, 2);
  out.set(keyBytes, 4);
  return out;
}

/** `[namespace length u16][namespace bytes]`. */
export function namespacePart(namespace: Namespace): Buffer {
  const bytes = encodeKey(namespace);
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  out.set(bytes, 2);
  return out;
}

/**
 * Keys under this prefix hold deferred entries: the canonical payload (snapshot-format/) of one
 * (key, namespace) of map state whose user keys need the state's key serializer to be stored,
 * restored before a descriptor claimed the state; the key continues with the usual
 * `[keyGroup][len][key][len][namespace]`. 0xffff is no key group (there are at most 32768), so
 * these sort after every entry, and claiming the state converts them (disk-canonical-restore.ts).
 */
export const DEFERRED_PREFIX: Buffer = Buffer.from([0xff, 0xff]);

/** The key group of the stored key at `at` in `bytes` (a key, or a record in a read buffer), deferred entries included. */
export function keyGroupOfStoredKey(bytes: Uint8Array, at = 0): number {
  const first = (bytes[at] << 8) | bytes[at + 1];
  return first === 0xffff ? (bytes[at + 2] << 8) | bytes[at + 3] : first;
}

/** The key group prefix of a key-group range scan: `[keyGroup u16]`. */
export function keyGroupPrefix(keyGroup: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out.writeUInt16BE(keyGroup, 0);
  return out;
}

/** The key one past every key that starts with `prefix` and continues with a byte below 0xff (every suffix used here). */
export function upperBound(prefix: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + 1);
  out.set(prefix, 0);
  out[prefix.length] = 0xff;
  return out;
}

/** A list element's suffix: the 8-byte big-endian sequence number, so elements sort in append order. */
export function sequenceSuffix(seq: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 0);
  out.writeUInt32BE(seq >>> 0, 4);
  return out;
}

/** The parts of a stored key. */
export interface ParsedKey {
  keyGroup: number;
  /** Bytes of `[keyGroup][len][key]` (the key's prefix). */
  keyPartEnd: number;
  /** End of the namespace part: where the suffix starts. */
  prefixEnd: number;
}

export function parseKey(key: Uint8Array): ParsedKey {
  const view = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const keyLength = view.readUInt16BE(2);
  const keyPartEnd = 4 + keyLength;
  const nsLength = view.readUInt16BE(keyPartEnd);
  return { keyGroup: view.readUInt16BE(0), keyPartEnd, prefixEnd: keyPartEnd + 2 + nsLength };
}

/** The user's key of a stored key. */
export function decodeStoredKey(key: Uint8Array, parsed: ParsedKey = parseKey(key)): unknown {
  return decodeKey(key.subarray(4, parsed.keyPartEnd));
}

/** The namespace of a stored key. */
export function decodeStoredNamespace(key: Uint8Array, parsed: ParsedKey = parseKey(key)): Namespace {
  return decodeKey(key.subarray(parsed.keyPartEnd + 2, parsed.prefixEnd)) as Namespace;
}

/** The map user key of a stored map-entry key. */
export function decodeUserKey(key: Uint8Array, parsed: ParsedKey = parseKey(key)): unknown {
  return decodeKey(key.subarray(parsed.prefixEnd));
}
