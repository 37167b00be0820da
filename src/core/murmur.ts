// MurmurHash3 (x86, 32-bit) over bytes and over tagged strings, plus Flink's int finalizer that
// turns a key hash into a key group. Pure, no I/O, no allocation.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const INT_MIN = -2147483648;

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixTail(h: number, tail: number): number {
  let k = Math.imul(tail, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return h ^ k;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * MurmurHash3_x86_32 of `bytes[start, end)`, without creating a subarray view; lets callers hash
 * part of a reused buffer.
 *
 * @returns an unsigned 32-bit integer.
 */
export function murmur3x86_32Range(bytes: Uint8Array, start: number, end: number, seed = 0): number {
  let h = seed | 0;
  const length = end - start;
  const blocksEnd = start + (length & ~3);
  let i = start;
  for (; i < blocksEnd; i += 4) {
    h = mixBlock(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  switch (length & 3) {
    case 3:
      h = mixTail(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16));
      break;
    case 2:
      h = mixTail(h, bytes[i] | (bytes[i + 1] << 8));
      break;
    case 1:
      h = mixTail(h, bytes[i]);
      break;
  }
  return fmix32(h ^ length) >>> 0;
}

/**
 * MurmurHash3_x86_32 of exactly 9 bytes given as two little-endian 32-bit blocks and a tail
 * byte: the canonical encoding of a number key ('d' + float64), hashed without a byte loop.
 */
export function murmur3x86_32Of9(block0: number, block1: number, tail: number): number {
  let h = mixBlock(0, block0);
  h = mixBlock(h, block1);
  h = mixTail(h, tail);
  return fmix32(h ^ 9) >>> 0;
}

/**
 * MurmurHash3_x86_32 of `bytes` (blocks read little-endian, as in the reference implementation).
 *
 * @returns an unsigned 32-bit integer.
 * @example murmur3x86_32(new TextEncoder().encode('hello')) // 0x248bfa47
 */
export function murmur3x86_32(bytes: Uint8Array, seed = 0): number {
  return murmur3x86_32Range(bytes, 0, bytes.length, seed);
}

/**
 * MurmurHash3_x86_32 of the byte sequence `[tag, ...UTF-8 bytes of str]`, so a string key can be
 * hashed exactly as its encoding without building that encoding.
 *
 * Cost: one pass, no allocation. ASCII runs are mixed four chars at a time straight from the char
 * codes; from the first block holding a char >= 0x80 on, the UTF-8 bytes are produced and mixed
 * one at a time. Lone surrogates count as U+FFFD (EF BF BD), exactly as `Buffer.from(str, 'utf8')`
 * and `TextEncoder` encode them.
 *
 * @param tag - the leading byte (0..255).
 * @returns an unsigned 32-bit integer equal to `murmur3x86_32(Uint8Array.of(tag, ...utf8(str)), seed)`.
 */
export function murmur3String(str: string, tag: number, seed = 0): number {
  const n = str.length;
  let h = seed | 0;
  // Virtual byte j of the sequence is the tag for j = 0 and char j - 1 while all chars are ASCII,
  // so the first block is the tag plus three chars and later blocks start at chars 3, 7, 11, ...
  if (n < 3) return mixUtf8From(str, 0, h, tag & 0xff, 8, 1);
  const c0 = str.charCodeAt(0);
  const c1 = str.charCodeAt(1);
  const c2 = str.charCodeAt(2);
  if ((c0 | c1 | c2) >= 0x80) return mixUtf8From(str, 0, h, tag & 0xff, 8, 1);
  h = mixBlock(h, (tag & 0xff) | (c0 << 8) | (c1 << 16) | (c2 << 24));
  let i = 3;
  for (const blocksEnd = n - 3; i < blocksEnd; i += 4) {
    const d0 = str.charCodeAt(i);
    const d1 = str.charCodeAt(i + 1);
    const d2 = str.charCodeAt(i + 2);
    const d3 = str.charCodeAt(i + 3);
    if ((d0 | d1 | d2 | d3) >= 0x80) return mixUtf8From(str, i, h, 0, 0, i + 1);
    h = mixBlock(h, d0 | (d1 << 8) | (d2 << 16) | (d3 << 24));
  }
  // The last 0..3 chars form the tail.
  let tail = 0;
  for (let j = i, shift = 0; j < n; j++, shift += 8) {
    const c = str.charCodeAt(j);
    if (c >= 0x80) return mixUtf8From(str, i, h, 0, 0, i + 1);
    tail |= c << shift;
  }
  if (i < n) h = mixTail(h, tail);
  return fmix32(h ^ (n + 1)) >>> 0;
}

/**
 * Continues a murmur3 hash over the UTF-8 bytes of `str` from char `i`: `h` is the state after
 * the full blocks so far, `pending`/`shift` the bytes of the unfinished block, `length` the number
 * of bytes consumed. Always ends the hash.
 */
function mixUtf8From(str: string, i: number, h: number, pending: number, shift: number, length: number): number {
  const n = str.length;
  for (; i < n; i++) {
    let c = str.charCodeAt(i);
    let packed: number;
    let count: number;
    if (c < 0x80) {
      packed = c;
      count = 1;
    } else if (c < 0x800) {
      packed = (0xc0 | (c >>> 6)) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else {
      const next = i + 1 < n ? str.charCodeAt(i + 1) : 0;
      if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = ((c - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
        packed =
          (0xf0 | (cp >>> 18)) |
          ((0x80 | ((cp >>> 12) & 0x3f)) << 8) |
          ((0x80 | ((cp >>> 6) & 0x3f)) << 16) |
          ((0x80 | (cp & 0x3f)) << 24);
        count = 4;
        i++;
      } else {
        if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate, as the UTF-8 encoders do
        packed = (0xe0 | (c >>> 12)) | ((0x80 | ((c >>> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
        count = 3;
      }
    }
    length += count;
    for (let b = 0; b < count; b++, packed >>>= 8) {
      pending |= (packed & 0xff) << shift;
      shift += 8;
      if (shift === 32) {
        h = mixBlock(h, pending);
        pending = 0;
        shift = 0;
      }
    }
  }
  if (shift > 0) h = mixTail(h, pending);
  return fmix32(h ^ length) >>> 0;
}

/**
 * Flink's `MathUtils.murmurHash(int)`: one 4-byte MurmurHash3 block with seed 0, length 4, the
 * fmix32 finalizer, then made non-negative. Key groups are `flinkMurmurHash(hash) % maxParallelism`.
 *
 * @param code - treated as a signed 32-bit int (like a Java `hashCode()`); `code | 0` is applied.
 * @returns a non-negative int in [0, 2^31 - 1]; INT_MIN maps to 0 as in Flink.
 */
export function flinkMurmurHash(code: number): number {
  const h = fmix32(mixBlock(0, code | 0) ^ 4);
  return h >= 0 ? h : h !== INT_MIN ? -h : 0;
}
