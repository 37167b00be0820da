// The byte-level msgpack reader and writer the disk backend splices payloads with: skipping lands
// exactly after every kind of value msgpackr writes, numbers and bytes read back in every format,
// and what the writer writes is what msgpackr reads.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MSGPACK_OPTIONS } from '../../../../src/state/serde/type-serializer.js';
import { MsgpackReader, MsgpackWriter } from '../../../../src/state/snapshot-format/msgpack-bytes.js';

const packr = new Packr(MSGPACK_OPTIONS);

const valueArb = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
    fc.string({ maxLength: 300 }),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.uint8Array({ maxLength: 40 }),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 5 }), tie('value'), { maxKeys: 20 }),
  ),
})).value;

describe('msgpack bytes', () => {
  it('skip every value msgpackr writes, nested ones included, to exactly its end', () => {
    fc.assert(
      fc.property(valueArb, valueArb, (a, b) => {
        const bytes = packr.pack([a, b]);
        const reader = new MsgpackReader(bytes, 0, bytes.length);
        expect(reader.arrayLength()).toBe(2);
        const start = reader.pos;
        const end = reader.skip();
        expect(packr.unpack(bytes.subarray(start, end))).toEqual(packr.unpack(packr.pack(a)));
        expect(reader.skip()).toBe(bytes.length);
      }),
      { numRuns: 300 },
    );
  });

  it('read numbers in every integer and float format', () => {
    const numbers = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), 1.5, -2.25, 1e300, Number.MAX_SAFE_INTEGER];
    for (const n of numbers) expect(new MsgpackReader(packr.pack(n), 0, packr.pack(n).length).number()).toBe(n);
    const float32 = Buffer.from([0xca, 0x3f, 0xc0, 0x00, 0x00]);
    expect(new MsgpackReader(float32, 0, 5).number()).toBe(1.5);
    const uint64 = Buffer.from([0xcf, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(new MsgpackReader(uint64, 0, 9).number()).toBe(256);
  });

  it('read serializer bytes from a msgpack bin and from a Uint8Array in msgpackr\'s extension', () => {
    for (const bytes of [Buffer.from([1, 2, 3]), new Uint8Array([4, 5]), Buffer.alloc(70_000, 7)]) {
      const packed = packr.pack(bytes);
      const read = new MsgpackReader(packed, 0, packed.length).bytes();
      expect(Buffer.from(read).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('write headers, strings, bins, floats and TTL values that msgpackr reads back', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 70_000 }), fc.string(), fc.uint8Array({ maxLength: 70_000 }), fc.double(), (items, text, bin, time) => {
        const w = new MsgpackWriter();
        w.arrayHeader(5);
        w.arrayHeader(items.length);
        for (const item of items) w.value(item);
        w.strFromUtf8(Buffer.from(text, 'utf8'));
        w.strFromUtf8(Buffer.from(text, 'utf8'), 0x01);
        w.bin(bin);
        w.ttlValueStart();
        w.raw(packr.pack(text));
        w.ttlValueEnd(time);
        const [readItems, readText, escaped, readBin, ttlValue] = packr.unpack(w.bytes()) as [number[], string, string, Uint8Array, { v: string; t: number }];
        expect(readItems).toEqual(items);
        expect(readText).toBe(text);
        expect(escaped).toBe(`\u0001${text}`);
        expect(Buffer.from(readBin).equals(Buffer.from(bin))).toBe(true);
        expect(ttlValue).toEqual({ v: text, t: time });
      }),
      { numRuns: 50 },
    );
  });

  it('refuse truncated and mistyped payloads with the byte they stopped at', () => {
    const packed = packr.pack([1, 'abc']);
    expect(() => new MsgpackReader(packed, 0, packed.length - 1).skip()).toThrow(/truncated at byte/);
    expect(() => new MsgpackReader(packed, 0, packed.length).mapLength()).toThrow(/expected a map.*0x92 at byte 0/);
  });
});
