// Decoding of canonical key bytes (key-encoding.ts has the layout) and of key ids back into
// keys. Accepts only canonical bytes, so encodeKey(decodeKey(b)) equals b whenever it returns. Pure.
import { Buffer } from 'node:buffer';
import { describeValue, FloeError } from './errors.js';
import {
  type KeyId,
  MAX_KEY_DEPTH,
  TAG_ARRAY,
  TAG_BIGINT,
  TAG_FALSE,
  TAG_NUMBER,
  TAG_OBJECT,
  TAG_STRING,
  TAG_TRUE,
  compareCodeUnits,
} from './key-encoding.js';

/**
 * The key named by an id from {@link keyId}: the primitive itself, or for a composite id the
 * decoded plain value (arrays and plain objects; a [KEY_ENCODING] object comes back as the key it
 * declared).
 *
 * @throws FloeError `INVALID_KEY` when `id` cannot have come from {@link keyId}.
 */
export function keyFromId(id: KeyId): unknown {
  switch (typeof id) {
    case 'string':
      if (id.charCodeAt(0) !== 1) return id;
      if (id.charCodeAt(1) === 1) return id.slice(1);
      return decodeCompositeId(id);
    case 'number':
      if (id !== id) break;
      return id === 0 ? 0 : id;
    case 'bigint':
    case 'boolean':
      return id;
  }
  throw new FloeError(
    'INVALID_KEY',
    `Invalid key id: ${typeof id} ${describeValue(id)}. Pass a value returned by keyId().`,
  );
}

function decodeCompositeId(id: string): unknown {
  const tag = id.charCodeAt(1);
  let latin1 = true;
  for (let i = 2; i < id.length && latin1; i++) latin1 = id.charCodeAt(i) <= 0xff;
  if ((tag !== TAG_ARRAY && tag !== TAG_OBJECT) || !latin1) {
    throw new FloeError(
      'INVALID_KEY',
      `Invalid key id ${describeValue(id)}: it starts with U+0001 but is neither an escaped string nor ` +
        'an encoded array/object. Pass a value returned by keyId().',
    );
  }
  return decodeKey(Buffer.from(id.slice(1), 'latin1'));
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The plain value encoded in `bytes` by {@link encodeKey}: strings, numbers, bigints, booleans,
 * arrays and plain objects (`Object.prototype`-based). A [KEY_ENCODING] object decodes to the key
 * it declared.
 *
 * @throws FloeError `INVALID_KEY` when `bytes` are not a canonical key encoding (truncated,
 *   trailing bytes, unknown tag, invalid UTF-8, NaN or -0, a non-minimal bigint, unsorted or
 *   duplicate property names, or nesting deeper than {@link MAX_KEY_DEPTH}); the message names the
 *   problem and its byte offset.
 */
export function decodeKey(bytes: Uint8Array): unknown {
  return new KeyDecoder(bytes).decodeTop();
}

class KeyDecoder {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  decodeTop(): unknown {
    if (this.bytes.length === 0) throw this.corrupt('the input is empty');
    const value = this.decode(false, 0);
    if (this.at !== this.bytes.length) throw this.corrupt(`${this.bytes.length - this.at} trailing bytes`);
    return value;
  }

  private corrupt(problem: string): FloeError {
    return new FloeError(
      'INVALID_KEY',
      `Cannot decode key: ${problem} at byte ${this.at} of ${this.bytes.length}. The bytes are not a canonical ` +
        'Floe key encoding (corrupt, truncated, or written by something else).',
    );
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) throw this.corrupt(`${what} needs ${n} bytes but the input ends`);
  }

  private u32(what: string): number {
    this.need(4, what);
    const n = this.view.getUint32(this.at);
    this.at += 4;
    return n;
  }

  private text(length: number): string {
    this.need(length, 'a string');
    try {
      return utf8.decode(this.bytes.subarray(this.at, this.at + length));
    } catch {
      throw this.corrupt('invalid UTF-8 in a string');
    } finally {
      this.at += length;
    }
  }

  private decode(nested: boolean, depth: number): unknown {
    this.need(1, 'a tag');
    const tag = this.bytes[this.at++];
    switch (tag) {
      case TAG_STRING:
        return this.text(nested ? this.u32('a string length') : this.bytes.length - this.at);
      case TAG_NUMBER: {
        this.need(8, 'a number');
        const n = this.view.getFloat64(this.at);
        if (n !== n || Object.is(n, -0)) throw this.corrupt(`non-canonical number ${n === n ? '-0' : 'NaN'}`);
        this.at += 8;
        return n;
      }
      case TAG_BIGINT:
        return this.bigint();
      case TAG_TRUE:
        return true;
      case TAG_FALSE:
        return false;
      case TAG_ARRAY:
      case TAG_OBJECT:
        return this.composite(tag === TAG_ARRAY, depth);
    }
    this.at--;
    throw this.corrupt(`unknown tag 0x${tag.toString(16).padStart(2, '0')}`);
  }

  private bigint(): bigint {
    this.need(1, 'a bigint sign');
    const sign = this.bytes[this.at];
    if (sign > 1) throw this.corrupt(`bigint sign byte ${sign}`);
    this.at++;
    const length = this.u32('a bigint length');
    this.need(length, 'a bigint magnitude');
    if (length === 0 && sign === 1) throw this.corrupt('negative zero bigint');
    if (length > 0 && this.bytes[this.at] === 0) throw this.corrupt('bigint magnitude with a leading zero byte');
    const hex = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.at, length).toString('hex');
    this.at += length;
    const magnitude = length === 0 ? 0n : BigInt(`0x${hex}`);
    return sign === 1 ? -magnitude : magnitude;
  }

  private composite(isArray: boolean, depth: number): unknown {
    if (depth >= MAX_KEY_DEPTH) throw this.corrupt(`nesting deeper than ${MAX_KEY_DEPTH}`);
    const count = this.u32('an element count');
    // Every element takes at least one byte, so a larger count is corrupt (and must not allocate).
    if (count > this.bytes.length - this.at) throw this.corrupt(`count ${count} exceeds the remaining bytes`);
    if (isArray) {
      const items: unknown[] = new Array(count);
      for (let i = 0; i < count; i++) items[i] = this.decode(true, depth + 1);
      return items;
    }
    const obj: Record<string, unknown> = {};
    let previous: string | undefined;
    for (let i = 0; i < count; i++) {
      this.need(1, 'a property name');
      if (this.bytes[this.at] !== TAG_STRING) throw this.corrupt('a property name that is not a string');
      this.at++;
      const name = this.text(this.u32('a property name length'));
      if (previous !== undefined && compareCodeUnits(previous, name) >= 0)
        throw this.corrupt(`property ${JSON.stringify(name)} out of order or repeated`);
      previous = name;
      const value = this.decode(true, depth + 1);
      // Assigning '__proto__' would set the prototype instead of creating the property.
      if (name === '__proto__') {
        Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
      } else {
        obj[name] = value;
      }
    }
    return obj;
  }
}
