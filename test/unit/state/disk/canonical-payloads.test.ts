// The disk backend's stored entries and canonical payloads convert both ways without decoding a
// value: for every state kind, inlined or serializer bytes, with or without TTL, disk -> payload ->
// disk gives the same bytes, and the payload is the structure the heap writes and reads.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { encodeKey, keyId } from '../../../../src/core/key-encoding.js';
import { type PayloadShape, readPayload, writeListPayload, writeMapPayload, writeSinglePayload } from '../../../../src/state/disk/canonical-payloads.js';
import { MSGPACK_OPTIONS, type TypeSerializer } from '../../../../src/state/serde/type-serializer.js';
import { MsgpackReader, MsgpackWriter } from '../../../../src/state/snapshot-format/msgpack-bytes.js';
import type { StateKind } from '../../../../src/state/state.js';

const packr = new Packr(MSGPACK_OPTIONS);
/** Serializer bytes that are not msgpack of the value (a marker byte first), for the non-inlined form. */
const marked: TypeSerializer<unknown> = {
  id: 'marked',
  version: 1,
  serialize: (v) => Buffer.concat([Buffer.from([0x42]), packr.pack(v)]),
  deserialize: (b) => packr.unpack(b.subarray(1)),
};

const valueArb = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.array(fc.integer(), { maxLength: 3 }), fc.record({ a: fc.integer() }));
const userKeyArb = fc.oneof(fc.string({ maxLength: 5 }), fc.integer({ min: -1000, max: 1000 }), fc.tuple(fc.constant('t'), fc.nat(9)), fc.constantFrom<unknown>('\u0001esc', 3n, false));
const shapeArb = fc.record({
  kind: fc.constantFrom<StateKind>('value', 'list', 'map', 'reducing', 'aggregating'),
  ttl: fc.boolean(),
  inline: fc.boolean(),
});

/** What the disk stores for one value: serializer bytes, with the TTL timestamp (f64 LE) in front. */
function stored(shape: PayloadShape, value: unknown, time: number): Buffer {
  const bytes = Buffer.from(shape.inline ? packr.pack(value) : marked.serialize(value));
  if (!shape.ttl) return bytes;
  const out = Buffer.alloc(8 + bytes.length);
  out.writeDoubleLE(time, 0);
  bytes.copy(out, 8);
  return out;
}

describe('canonical payloads of the disk backend', () => {
  it('convert stored entries to payloads and back to the same bytes, for every kind and form (property)', () => {
    fc.assert(
      fc.property(shapeArb, fc.uniqueArray(fc.tuple(userKeyArb, valueArb, fc.integer({ min: 0, max: 2 ** 40 })), { minLength: 1, maxLength: 20, selector: ([k]) => keyId(k) }), (s, items) => {
        const shape: PayloadShape = { ...s, keySerializer: s.inline ? undefined : marked };
        const values = items.map(([, v, t]) => stored(shape, v, t));
        const userKeys = items.map(([k]) => Buffer.from(encodeKey(k)));
        const w = new MsgpackWriter();
        if (shape.kind === 'list') writeListPayload(w, shape, values);
        else if (shape.kind === 'map') writeMapPayload(w, shape, userKeys, values);
        else writeSinglePayload(w, shape, values[0]);
        const payload = Buffer.from(w.bytes());

        const got = { values: [] as Buffer[], elements: [] as Buffer[], entries: [] as Array<[Buffer, Buffer]> };
        readPayload(
          shape,
          new MsgpackReader(payload, 0, payload.length),
          {
            value: (b) => got.values.push(Buffer.from(b)),
            element: (b) => got.elements.push(Buffer.from(b)),
            mapEntry: (k, b) => got.entries.push([Buffer.from(k), Buffer.from(b)]),
          },
          (n) => Buffer.alloc(n),
        );
        if (shape.kind === 'list') expect(got.elements).toEqual(values);
        else if (shape.kind === 'map') expect(got.entries).toEqual(userKeys.map((k, i) => [k, values[i]]));
        else expect(got.values).toEqual([values[0]]);

        // The heap's payload structure (heap/heap-snapshot.ts writes these shapes for its stored values).
        const element = ([, v, t]: (typeof items)[number]) => {
          const inner = shape.inline ? v : marked.serialize(v);
          return shape.ttl ? (shape.inline ? { v: inner, t } : [inner, t]) : inner;
        };
        const heapPayload =
          shape.kind === 'list'
            ? items.map(element)
            : shape.kind === 'map'
              ? items.map((item) => {
                  const [k, v, t] = item;
                  if (shape.inline) return [keyId(k), element(item)];
                  return shape.ttl ? [marked.serialize(k), marked.serialize(v), t] : [marked.serialize(k), marked.serialize(v)];
                })
              : element(items[0]);
        const normalize = (x: unknown) => JSON.parse(JSON.stringify(x, (_, y) => (typeof y === 'bigint' ? `${y}n` : y instanceof Uint8Array ? [...y] : y)));
        expect(normalize(packr.unpack(payload))).toEqual(normalize(heapPayload));
      }),
      { numRuns: 400 },
    );
  });
});
