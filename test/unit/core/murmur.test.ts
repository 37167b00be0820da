import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flinkMurmurHash, murmur3String, murmur3x86_32, murmur3x86_32Of9, murmur3x86_32Range } from '../../../src/core/murmur.js';

// An independent MurmurHash3_x86_32 written from the algorithm description with BigInt
// arithmetic (no Math.imul, no shared helpers), to check both the implementation and the vectors.
const M32 = 0xffffffffn;
const mul = (a: bigint, b: bigint): bigint => (a * b) & M32;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (32n - r))) & M32;
const scramble = (k: bigint): bigint => mul(rotl(mul(k, 0xcc9e2d51n), 15n), 0x1b873593n);

function referenceMurmur3(bytes: Uint8Array, seed = 0): number {
  let h = BigInt(seed >>> 0);
  const blocks = Math.floor(bytes.length / 4);
  for (let b = 0; b < blocks; b++) {
    let k = 0n;
    for (let j = 3; j >= 0; j--) k = (k << 8n) | BigInt(bytes[4 * b + j]);
    h ^= scramble(k);
    h = (mul(rotl(h, 13n), 5n) + 0xe6546b64n) & M32;
  }
  let k = 0n;
  for (let j = bytes.length - 1; j >= blocks * 4; j--) k = (k << 8n) | BigInt(bytes[j]);
  if (bytes.length % 4 !== 0) h ^= scramble(k);
  h ^= BigInt(bytes.length);
  h ^= h >> 16n;
  h = mul(h, 0x85ebca6bn);
  h ^= h >> 13n;
  h = mul(h, 0xc2b2ae35n);
  h ^= h >> 16n;
  return Number(h);
}

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const tagged = (tag: number, s: string): Uint8Array => Uint8Array.of(tag, ...Buffer.from(s, 'utf8'));

// Published MurmurHash3_x86_32 vectors (SMHasher-derived lists, Wikipedia, Guava tests).
const VECTORS: [string, Uint8Array, number, number][] = [
  ['empty input, seed 0', new Uint8Array(0), 0, 0],
  ['empty input, seed 1', new Uint8Array(0), 1, 0x514e28b7],
  ['empty input, seed 0xffffffff', new Uint8Array(0), 0xffffffff, 0x81f16f39],
  ['four zero bytes', new Uint8Array(4), 0, 0x2362f9de],
  ['four 0xff bytes', Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0, 0x76293b50],
  ['21 43 65 87', Uint8Array.of(0x21, 0x43, 0x65, 0x87), 0, 0xf55b516b],
  ['21 43 65', Uint8Array.of(0x21, 0x43, 0x65), 0, 0x7e4a8634],
  ['21 43', Uint8Array.of(0x21, 0x43), 0, 0xa0f7b07a],
  ['21', Uint8Array.of(0x21), 0, 0x72661cf4],
  ['"hello"', utf8('hello'), 0, 0x248bfa47],
  ['"aaaa", seed 0x9747b28c', utf8('aaaa'), 0x9747b28c, 0x5a97808a],
  ['"Hello, world!", seed 0x9747b28c', utf8('Hello, world!'), 0x9747b28c, 0x24884cba],
  ['the quick brown fox, seed 0', utf8('The quick brown fox jumps over the lazy dog'), 0, 0x2e4ff723],
  ['the quick brown fox, seed 0x9747b28c', utf8('The quick brown fox jumps over the lazy dog'), 0x9747b28c, 0x2fa826cd],
];

describe('murmur3x86_32', () => {
  it.each(VECTORS)('hashes %s to the published value', (_name, bytes, seed, expected) => {
    expect(referenceMurmur3(bytes, seed)).toBe(expected);
    expect(murmur3x86_32(bytes, seed)).toBe(expected);
  });

  it('agrees with the BigInt reference on arbitrary bytes and seeds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 0xffffffff }), (bytes, seed) => {
        expect(murmur3x86_32(bytes, seed)).toBe(referenceMurmur3(bytes, seed));
      }),
    );
  });

  it('hashes a range exactly as the same bytes on their own', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
        expect(murmur3x86_32Range(bytes, start, end)).toBe(referenceMurmur3(bytes.slice(start, end)));
      }),
    );
  });

  it('always returns an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        const h = murmur3x86_32(bytes);
        expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
      }),
    );
  });
});

describe('murmur3String', () => {
  it('hashes the tag followed by the UTF-8 bytes for fixed ASCII and non-ASCII strings', () => {
    for (const s of ['', 'a', 'ab', 'abc', 'abcd', 'abcdefg', 'user-0000042', 'Zürich', 'x😀y', '\uD800', 'a\uDC00b\uD83D']) {
      for (const tag of [0, 0x73, 0xff]) expect(murmur3String(s, tag)).toBe(referenceMurmur3(tagged(tag, s)));
    }
  });

  it('equals murmur3x86_32 of [tag, ...utf8(s)] for arbitrary unicode strings, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat({ max: 255 }), fc.nat({ max: 0xffffffff }), (s, tag, seed) => {
        expect(murmur3String(s, tag, seed)).toBe(murmur3x86_32(tagged(tag, s), seed));
      }),
      { numRuns: 2000 },
    );
  });

  it('switches from the ASCII path to UTF-8 at every alignment', () => {
    // ASCII runs of every length with one multi-byte char between them put the switch at each of
    // the four block offsets and in the tail.
    const special = fc.constantFrom('\u0080', 'ü', '\u07ff', '\u0800', '€', '\uffff', '😀', '\uD800', '\uDFFF', '\u007f');
    const pieces = fc.array(fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 9 }), special), { maxLength: 8 });
    fc.assert(
      fc.property(pieces, fc.nat({ max: 255 }), (parts, tag) => {
        const s = parts.join('');
        expect(murmur3String(s, tag)).toBe(murmur3x86_32(tagged(tag, s)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('flinkMurmurHash', () => {
  const nonNegative = (h: number): number => (h >= 0 ? h : h !== -2147483648 ? -h : 0);

  it('is the one-block murmur3 of the int (little-endian bytes, seed 0) made non-negative', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), (code) => {
        const bytes = new Uint8Array(4);
        new DataView(bytes.buffer).setInt32(0, code, true);
        expect(flinkMurmurHash(code)).toBe(nonNegative(referenceMurmur3(bytes) | 0));
        expect(flinkMurmurHash(code)).toBe(nonNegative(murmur3x86_32(bytes) | 0));
      }),
      { numRuns: 2000 },
    );
  });

  it('treats its argument as a signed 32-bit int, like a Java hashCode', () => {
    expect(flinkMurmurHash(0xffffffff)).toBe(flinkMurmurHash(-1));
    expect(flinkMurmurHash(2 ** 32 + 5)).toBe(flinkMurmurHash(5));
  });

  it('returns a non-negative int for the edge values', () => {
    for (const code of [0, 1, -1, 2147483647, -2147483648]) {
      const h = flinkMurmurHash(code);
      expect(Number.isInteger(h) && h >= 0 && h <= 2147483647).toBe(true);
    }
  });
});

describe('murmur3x86_32Of9', () => {
  it('equals the byte-wise hash of the same 9 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 9, maxLength: 9 }), (bytes) => {
        const view = new DataView(bytes.buffer, bytes.byteOffset, 9);
        expect(murmur3x86_32Of9(view.getInt32(0, true), view.getInt32(4, true), bytes[8])).toBe(murmur3x86_32(bytes));
      }),
    );
  });
});
