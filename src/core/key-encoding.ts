// Canonical, decodable bytes for keys: equal keys give equal bytes in every process and Node
// version, so a key's hash (and key group) survives restarts and rescaling. Pure, no I/O.
//
// Layout (one tag byte per value; tags are ASCII letters or brackets, never 0x01):
//   's' string   top level: 's' + UTF-8 bytes (the end of the input ends the string)
//                nested:    's' + u32 BE byte length + UTF-8 bytes
//                lone surrogates are written as U+FFFD, so '\uD800' and '\uFFFD' are the same key
//   'd' number   'd' + float64 BE; -0 is written as 0; NaN is not a key
//   'b' bigint   'b' + sign byte (0x00 for >= 0, 0x01 for < 0) + u32 BE length + magnitude,
//                big-endian, no leading zero bytes (0n has length 0; "negative zero" is invalid)
//   't' / 'f'    true / false
//   '[' array    '[' + u32 BE count + each element (nested)
//   '{' object   '{' + u32 BE count + per property, sorted by name in UTF-16 code-unit order:
//                name as a nested string, then the value (nested)
// The decoder (key-decoding.ts) accepts only canonical bytes, so encodeKey(decodeKey(b)) equals b.
import { Buffer } from 'node:buffer';
import { describeValue, FloeError } from './errors.js';
import { murmur3String, murmur3x86_32, murmur3x86_32Of9, murmur3x86_32Range } from './murmur.js';

/**
 * A method under this symbol declares an object's key: it returns an allowed key (string, number,
 * bigint, boolean, or an array / plain object of those), and that returned key is what Floe
 * encodes, hashes and hands back from {@link keyFromId}. It must be a pure function of the object.
 *
 * @example
 * class UserId {
 *   constructor(readonly tenant: string, readonly id: number) {}
 *   [KEY_ENCODING]() { return [this.tenant, this.id]; }
 * }
 */
export const KEY_ENCODING: unique symbol = Symbol.for('floe.keyEncoding');

/** An object that declares its key with a {@link KEY_ENCODING} method. */
export interface KeyEncodable {
  [KEY_ENCODING](): unknown;
}

/**
 * A primitive that identifies a key in a JS `Map`: equal canonical keys give the same id, different
 * ones different ids. Strings, numbers, bigints and booleans are their own id (a string starting
 * with U+0001 gets one more U+0001 in front); composite keys are U+0001 + the latin1 text of their
 * encoding.
 */
export type KeyId = string | number | bigint | boolean;

/** Arrays, plain objects and [KEY_ENCODING] indirections nested deeper than this are rejected. */
export const MAX_KEY_DEPTH = 64;

export const TAG_STRING = 0x73; // 's'
export const TAG_NUMBER = 0x64; // 'd'
export const TAG_BIGINT = 0x62; // 'b'
export const TAG_TRUE = 0x74; // 't'
export const TAG_FALSE = 0x66; // 'f'
export const TAG_ARRAY = 0x5b; // '['
export const TAG_OBJECT = 0x7b; // '{'
const ESCAPE = '\u0001';

const HOW_TO_FIX =
  'Return a string, number, bigint, boolean, or an array/plain object of those from the key selector, ' +
  "or give the class a [KEY_ENCODING]() method (Symbol.for('floe.keyEncoding')) that returns one.";

/** A validated key with KEY_ENCODING resolved and object properties sorted; holds no user objects. */
type Canonical = string | number | bigint | boolean | Canonical[] | CanonicalObject;

class CanonicalObject {
  constructor(
    readonly names: string[],
    readonly values: Canonical[],
  ) {}
}

// ---------------------------------------------------------------------------------------------
// Validation

function rejectKey(value: unknown, why: string, root: unknown, path: string): FloeError {
  // A cyclic key fails at the depth limit with a path of 64 steps; its tail is enough to find it.
  const shownPath = path.length > 60 ? `…${path.slice(-60)}` : path;
  const where = path === '' ? '' : ` at ${shownPath} of key ${show(root)}`;
  return new FloeError('INVALID_KEY', `Invalid key: ${describeKeyValue(value)}${where}. ${why} ${HOW_TO_FIX}`);
}

function describeKeyValue(value: unknown): string {
  if (value === undefined || value === null || Number.isNaN(value)) return String(value);
  return `${kindOf(value)} ${show(value)}`;
}

function show(value: unknown): string {
  // describeValue falls back to String(), which renders a cyclic array as ''.
  return describeValue(value, 120) || '(unprintable, probably cyclic)';
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'array';
  const proto: unknown = Object.getPrototypeOf(value);
  const name = (proto as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' ? `${name} object` : 'object';
}

function whyNotObject(value: object): string {
  if (value instanceof Date) return 'Dates are not keys; use date.getTime() or date.toISOString().';
  if (value instanceof Map || value instanceof Set)
    return 'Maps and Sets are not keys; use a sorted array of their entries or a plain object.';
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer)
    return 'Binary data is not a key; use a hex or base64 string, or an array of numbers.';
  return 'Class instances have no canonical encoding; only plain objects and arrays are encoded by structure.';
}

/** Replaces lone surrogates with U+FFFD, as the UTF-8 encoder does, so ids agree with bytes. */
function wellFormed(s: string): string {
  // String#isWellFormed/toWellFormed exist from Node 20 but are typed only in lib ES2024.
  const w = s as string & { isWellFormed(): boolean; toWellFormed(): string };
  return w.isWellFormed() ? s : w.toWellFormed();
}

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Validates `value` and returns its canonical form; user code (KEY_ENCODING, getters) runs only here. */
function canonicalize(value: unknown, root: unknown, path: string, depth: number): Canonical {
  switch (typeof value) {
    case 'string':
    case 'bigint':
    case 'boolean':
      return value;
    case 'number':
      if (value !== value) throw rejectKey(value, 'NaN is not equal to itself, so it cannot name a key.', root, path);
      return value === 0 ? 0 : value;
    case 'undefined':
      throw rejectKey(value, 'undefined is not a key (does the key selector return on every path?).', root, path);
    case 'function':
    case 'symbol':
      throw rejectKey(value, `A ${typeof value} has no stable byte encoding.`, root, path);
  }
  if (value === null) throw rejectKey(value, 'null is not a key.', root, path);
  const obj = value as Record<PropertyKey, unknown>;
  if (depth >= MAX_KEY_DEPTH)
    throw rejectKey(value, `It is nested deeper than ${MAX_KEY_DEPTH} levels (is it cyclic?).`, root, path);
  const declare = obj[KEY_ENCODING];
  if (declare !== undefined) {
    if (typeof declare !== 'function') throw rejectKey(value, '[KEY_ENCODING] must be a method.', root, path);
    return canonicalize(declare.call(obj), root, `${path}[KEY_ENCODING]()`, depth + 1);
  }
  if (Array.isArray(value)) {
    const out: Canonical[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = canonicalize(value[i], root, `${path}[${i}]`, depth + 1);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw rejectKey(value, whyNotObject(obj), root, path);
  // Only own enumerable string-named properties are part of the key, as with JSON.
  const entries: [string, Canonical][] = Object.keys(obj).map((name) => [
    wellFormed(name),
    canonicalize(obj[name], root, `${path}.${name}`, depth + 1),
  ]);
  entries.sort((a, b) => compareCodeUnits(a[0], b[0]));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i][0] === entries[i - 1][0])
      throw rejectKey(value, 'Two property names are equal once lone surrogates become U+FFFD.', root, path);
  }
  return new CanonicalObject(
    entries.map((e) => e[0]),
    entries.map((e) => e[1]),
  );
}

function canonicalizeKey(key: unknown): Canonical {
  return canonicalize(key, key, '', 0);
}

// ---------------------------------------------------------------------------------------------
// Encoding into a reused buffer (safe: no user code runs while it is being written)

const INITIAL_BUFFER = 256;
const MAX_RETAINED_BUFFER = 64 * 1024;
let out = Buffer.allocUnsafe(INITIAL_BUFFER);
let pos = 0;

function ensure(extra: number): void {
  if (pos + extra <= out.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + extra));
  out.copy(bigger, 0, 0, pos);
  out = bigger;
}

function writeString(s: string, nested: boolean): void {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit (a surrogate pair is 2 units -> 4 bytes).
  ensure(5 + 3 * s.length);
  out[pos] = TAG_STRING;
  if (!nested) {
    pos += 1 + out.write(s, pos + 1, 'utf8');
    return;
  }
  const written = out.write(s, pos + 5, 'utf8');
  out.writeUInt32BE(written, pos + 1);
  pos += 5 + written;
}

function writeBigint(n: bigint): void {
  const negative = n < 0n;
  let hex = (negative ? -n : n).toString(16);
  if (hex === '0') hex = '';
  else if (hex.length % 2 === 1) hex = `0${hex}`;
  ensure(6 + hex.length / 2);
  out[pos] = TAG_BIGINT;
  out[pos + 1] = negative ? 1 : 0;
  out.writeUInt32BE(hex.length / 2, pos + 2);
  pos += 6 + out.write(hex, pos + 6, 'hex');
}

function writeCanonical(c: Canonical, nested: boolean): void {
  switch (typeof c) {
    case 'string':
      writeString(c, nested);
      return;
    case 'number':
      ensure(9);
      out[pos] = TAG_NUMBER;
      out.writeDoubleBE(c, pos + 1);
      pos += 9;
      return;
    case 'bigint':
      writeBigint(c);
      return;
    case 'boolean':
      ensure(1);
      out[pos++] = c ? TAG_TRUE : TAG_FALSE;
      return;
  }
  const items = Array.isArray(c) ? c : c.values;
  ensure(5);
  out[pos] = Array.isArray(c) ? TAG_ARRAY : TAG_OBJECT;
  out.writeUInt32BE(items.length, pos + 1);
  pos += 5;
  for (let i = 0; i < items.length; i++) {
    if (!Array.isArray(c)) writeString(c.names[i], true);
    writeCanonical(items[i], true);
  }
}

/** Writes `c` into the shared buffer as `out[0, pos)`; read the bytes before the next call. */
function writeTop(c: Canonical): void {
  if (out.length > MAX_RETAINED_BUFFER) out = Buffer.allocUnsafe(INITIAL_BUFFER);
  pos = 0;
  writeCanonical(c, false);
}

/**
 * The canonical bytes of `key` (layout in this module's header). Equal keys give equal bytes in
 * every process; `{a: 1, b: 2}` and `{b: 2, a: 1}` encode the same, `1`, `'1'`, `1n` and `[1]` do not.
 *
 * @returns a fresh `Uint8Array` the caller owns.
 * @throws FloeError `INVALID_KEY` when `key` is not an allowed key (the message says why and what to do).
 */
export function encodeKey(key: unknown): Uint8Array {
  writeTop(canonicalizeKey(key));
  return new Uint8Array(out.subarray(0, pos));
}

// ---------------------------------------------------------------------------------------------
// Hashing

const numberScratch = new Uint8Array(9);
const numberView = new DataView(numberScratch.buffer);
numberScratch[0] = TAG_NUMBER;
// Holds 'b', sign, u32 length and up to 8 magnitude bytes; the header is slid up to the first
// non-zero magnitude byte so no slice is needed.
const bigintScratch = new Uint8Array(14);
const bigintView = new DataView(bigintScratch.buffer);
const HASH_TRUE = murmur3x86_32(Uint8Array.of(TAG_TRUE));
const HASH_FALSE = murmur3x86_32(Uint8Array.of(TAG_FALSE));
const TWO_POW_64 = 1n << 64n;

function hashNumber(n: number): number {
  numberView.setFloat64(1, n === 0 ? 0 : n);
  return murmur3x86_32Of9(numberView.getInt32(0, true), numberView.getInt32(4, true), numberScratch[8]);
}

function hashBigint(n: bigint): number {
  const negative = n < 0n;
  const magnitude = negative ? -n : n;
  if (magnitude >= TWO_POW_64) {
    writeTop(n);
    return murmur3x86_32Range(out, 0, pos);
  }
  bigintView.setBigUint64(6, magnitude);
  let start = 0;
  while (start < 8 && bigintScratch[6 + start] === 0) start++;
  bigintScratch[start] = TAG_BIGINT;
  bigintScratch[start + 1] = negative ? 1 : 0;
  bigintView.setUint32(start + 2, 8 - start);
  return murmur3x86_32Range(bigintScratch, start, 14);
}

function hashCanonical(c: Canonical): number {
  switch (typeof c) {
    case 'string':
      return murmur3String(c, TAG_STRING);
    case 'number':
      return hashNumber(c);
    case 'bigint':
      return hashBigint(c);
    case 'boolean':
      return c ? HASH_TRUE : HASH_FALSE;
  }
  writeTop(c);
  return murmur3x86_32Range(out, 0, pos);
}

/**
 * The stable 32-bit hash of a key: always `murmur3x86_32(encodeKey(key))`, the input to
 * key-group assignment. Strings (ASCII or not), numbers and booleans are hashed without
 * allocating; bigints below 2^64 in magnitude without building their encoding; composite keys and
 * [KEY_ENCODING] objects are validated into a canonical copy and encoded into a reused buffer.
 *
 * @returns an unsigned 32-bit integer.
 * @throws FloeError `INVALID_KEY` when `key` is not an allowed key.
 */
export function hashKey(key: unknown): number {
  switch (typeof key) {
    case 'string':
      return murmur3String(key, TAG_STRING);
    case 'number':
      if (key !== key) break;
      return hashNumber(key);
    case 'boolean':
      return key ? HASH_TRUE : HASH_FALSE;
  }
  return hashCanonical(canonicalizeKey(key));
}

// ---------------------------------------------------------------------------------------------
// Map identity

function primitiveId(c: string | number | bigint | boolean): KeyId {
  if (typeof c !== 'string') return c;
  const s = wellFormed(c);
  return s.charCodeAt(0) === 1 ? ESCAPE + s : s;
}

/**
 * A primitive identifying `key` in a JS `Map` (see {@link KeyId}): `keyId(a) === keyId(b)` exactly
 * when `encodeKey(a)` and `encodeKey(b)` are equal. O(1) for numbers, bigints and booleans and
 * for strings without lone surrogates that do not start with U+0001; composite keys pay for
 * an encoding and a latin1 string of it.
 *
 * @throws FloeError `INVALID_KEY` when `key` is not an allowed key.
 */
export function keyId(key: unknown): KeyId {
  switch (typeof key) {
    case 'string':
      return primitiveId(key);
    case 'number':
      if (key !== key) break;
      return key === 0 ? 0 : key;
    case 'bigint':
    case 'boolean':
      return key;
  }
  const c = canonicalizeKey(key);
  if (typeof c !== 'object') return primitiveId(c);
  writeTop(c);
  return ESCAPE + out.toString('latin1', 0, pos);
}
