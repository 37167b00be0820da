import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FloeError } from '../../../src/core/errors.js';
import {
  encodeKey,
  hashKey,
  KEY_ENCODING,
  keyId,
  MAX_KEY_DEPTH,
} from '../../../src/core/key-encoding.js';
import { decodeKey, keyFromId } from '../../../src/core/key-decoding.js';
import { murmur3x86_32 } from '../../../src/core/murmur.js';

/** A class that declares its key, as user code would. */
class Declared {
  constructor(readonly key: unknown) {}
  [KEY_ENCODING](): unknown {
    return this.key;
  }
}

const wellFormed = (s: string): string => (s as string & { toWellFormed(): string }).toWellFormed();

/** What a key is expected to decode to: KEY_ENCODING resolved, -0 as 0, lone surrogates as U+FFFD. */
function normalise(key: unknown): unknown {
  if (typeof key === 'string') return wellFormed(key);
  if (typeof key === 'number') return key === 0 ? 0 : key;
  if (key instanceof Declared) return normalise(key.key);
  if (Array.isArray(key)) return key.map(normalise);
  if (typeof key === 'object' && key !== null) {
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(key)) {
      Object.defineProperty(out, wellFormed(name), {
        value: normalise((key as Record<string, unknown>)[name]),
        enumerable: true,
      });
    }
    return out;
  }
  return key;
}

const leaf = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'binary-ascii', maxLength: 12 }),
  fc.double({ noNaN: true }),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
  fc.constantFrom(2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n), 0n, -1n, 255n, 256n),
  fc.boolean(),
  fc.constantFrom(0, -0, Infinity, -Infinity, '', '\u0001', '\u0001\u0001', '\u0001[', '__proto__', '\uFEFF'),
);

const { key: anyKey } = fc.letrec<{ key: unknown; array: unknown[]; object: Record<string, unknown>; declared: Declared }>(
  (tie) => ({
    key: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object'), tie('declared')),
    array: fc.array(tie('key'), { maxLength: 4 }),
    // Names are made well-formed first so that two names never become one in the encoding.
    object: fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }).map(wellFormed), tie('key'), { maxKeys: 4 }),
    declared: tie('key').map((k) => new Declared(k)),
  }),
);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function expectInvalidKey(run: () => unknown, messagePart?: string | RegExp): FloeError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FloeError);
  const error = caught as FloeError;
  expect(error.code).toBe('INVALID_KEY');
  if (messagePart !== undefined) expect(error.message).toMatch(messagePart);
  return error;
}

describe('encodeKey / decodeKey', () => {
  it('round-trips every allowed key shape to its normalised plain value', () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        expect(decodeKey(encodeKey(key))).toEqual(normalise(key));
      }),
      { numRuns: 1000 },
    );
  });

  it('re-encodes a decoded key to the same bytes', () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        const bytes = encodeKey(key);
        expect(hex(encodeKey(decodeKey(bytes)))).toBe(hex(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('writes the documented layout', () => {
    expect(hex(encodeKey('ab'))).toBe('736162');
    expect(hex(encodeKey(''))).toBe('73');
    expect(hex(encodeKey(1))).toBe('643ff0000000000000');
    expect(hex(encodeKey(-0))).toBe('640000000000000000');
    expect(hex(encodeKey(true))).toBe('74');
    expect(hex(encodeKey(false))).toBe('66');
    expect(hex(encodeKey(0n))).toBe('620000000000');
    expect(hex(encodeKey(255n))).toBe('620000000001ff');
    expect(hex(encodeKey(-256n))).toBe('6201000000020100');
    expect(hex(encodeKey(['a']))).toBe('5b00000001' + '730000000161');
    expect(hex(encodeKey({ b: false, a: true }))).toBe('7b00000002' + '730000000161' + '74' + '730000000162' + '66');
  });

  it('returns a fresh array each time', () => {
    const a = encodeKey([1]);
    const b = encodeKey([1]);
    expect(a).not.toBe(b);
    a[0] = 0;
    expect(encodeKey([1])[0]).toBe(0x5b);
  });

  it('decodes a __proto__ property as an own property, not a prototype', () => {
    const key = JSON.parse('{"__proto__": 1, "a": 2}') as Record<string, unknown>;
    const decoded = decodeKey(encodeKey(key)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toBe(1);
  });

  it('keeps a leading byte order mark in a string', () => {
    expect(decodeKey(encodeKey('\uFEFFx'))).toBe('\uFEFFx');
    expect(decodeKey(encodeKey(['\uFEFF']))).toEqual(['\uFEFF']);
  });

  it.each([
    ['empty input', '', /empty/],
    ['an unknown tag', '01', /unknown tag 0x01/],
    ['a truncated number', '643ff0', /number needs 8 bytes/],
    ['trailing bytes', '7400', /1 trailing bytes/],
    ['-0', '648000000000000000', /-0/],
    ['NaN', '647ff8000000000000', /NaN/],
    ['invalid UTF-8', '73c3', /invalid UTF-8/],
    ['a nested string longer than the input', '5b00000001730000000961', /string needs 9 bytes/],
    ['a bigint with a leading zero byte', '620000000002007f', /leading zero/],
    ['a negative zero bigint', '620100000000', /negative zero/],
    ['a bad bigint sign', '620200000000', /sign byte 2/],
    ['unsorted property names', '7b000000027300000001627473000000016174', /out of order/],
    ['repeated property names', '7b000000027300000001617473000000016174', /out of order or repeated/],
    ['a property name that is not a string', '7b000000016474', /property name that is not a string/],
    ['an element count larger than the input', '5bffffffff74', /count 4294967295 exceeds/],
  ])('rejects %s with INVALID_KEY', (_name, bytesHex, message) => {
    expectInvalidKey(() => decodeKey(new Uint8Array(Buffer.from(bytesHex, 'hex'))), message);
  });

  it('rejects encodings nested deeper than the limit', () => {
    const deep = new Uint8Array(Buffer.from(`${'5b00000001'.repeat(MAX_KEY_DEPTH + 1)}74`, 'hex'));
    expectInvalidKey(() => decodeKey(deep), /nesting deeper/);
    const ok = new Uint8Array(Buffer.from(`${'5b00000001'.repeat(MAX_KEY_DEPTH)}74`, 'hex'));
    expect(hex(encodeKey(decodeKey(ok)))).toBe(hex(ok));
  });

  it('either rejects corrupted bytes with INVALID_KEY or decodes them to a key with exactly those bytes', () => {
    const corrupted = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      fc.tuple(anyKey, fc.nat(), fc.nat({ max: 255 })).map(([key, at, byte]) => {
        const bytes = encodeKey(key);
        if (bytes.length > 0) bytes[at % bytes.length] = byte;
        return bytes;
      }),
      fc.tuple(anyKey, fc.nat()).map(([key, cut]) => {
        const bytes = encodeKey(key);
        return bytes.slice(0, cut % (bytes.length + 1));
      }),
    );
    fc.assert(
      fc.property(corrupted, (bytes) => {
        let decoded: unknown;
        try {
          decoded = decodeKey(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(FloeError);
          expect((e as FloeError).code).toBe('INVALID_KEY');
          return;
        }
        expect(hex(encodeKey(decoded))).toBe(hex(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('keyId / keyFromId', () => {
  it('round-trips every allowed key shape to its normalised plain value', () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        expect(keyFromId(keyId(key))).toEqual(normalise(key));
      }),
      { numRuns: 1000 },
    );
  });

  it('gives equal ids exactly when the encodings are equal', () => {
    fc.assert(
      fc.property(anyKey, anyKey, (a, b) => {
        expect(keyId(a) === keyId(b)).toBe(hex(encodeKey(a)) === hex(encodeKey(b)));
        expect(keyId(a)).toBe(keyId(decodeKey(encodeKey(a))));
      }),
      { numRuns: 1000 },
    );
  });

  it('returns common primitives as themselves', () => {
    expect(keyId('user-1')).toBe('user-1');
    expect(keyId('')).toBe('');
    expect(keyId(42)).toBe(42);
    expect(keyId(-1.5)).toBe(-1.5);
    expect(keyId(Infinity)).toBe(Infinity);
    expect(keyId(7n)).toBe(7n);
    expect(keyId(false)).toBe(false);
  });

  it('escapes strings that start with U+0001 so they never collide with composite keys', () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        const id = keyId(key);
        if (typeof id !== 'string') return;
        // The id text itself, used as a key, must be a different key from the one it names...
        if (id.charCodeAt(0) === 1) expect(keyId(id)).not.toBe(id);
        // ...and must come back unchanged.
        expect(keyFromId(keyId(id))).toBe(id);
      }),
      { numRuns: 500 },
    );
    expect(keyId('\u0001')).toBe('\u0001\u0001');
    expect(keyFromId('\u0001\u0001')).toBe('\u0001');
    const composite = keyId([]);
    expect(composite).toBe('\u0001[\u0000\u0000\u0000\u0000');
    expect(keyId('[\u0000\u0000\u0000\u0000')).not.toBe(composite);
  });

  it('rejects ids that keyId cannot have produced', () => {
    expectInvalidKey(() => keyFromId('\u0001'), /neither an escaped string nor/);
    expectInvalidKey(() => keyFromId('\u0001s'), /neither an escaped string nor/);
    expectInvalidKey(() => keyFromId('\u0001[\u0100'), /neither an escaped string nor/);
    expectInvalidKey(() => keyFromId('\u0001[\u0000'), /Cannot decode key/);
    expectInvalidKey(() => keyFromId(Number.NaN), /Invalid key id/);
    expectInvalidKey(() => keyFromId({} as unknown as string), /Invalid key id/);
  });
});

describe('canonical keys', () => {
  it('treats objects with the same properties in another order as the same key', () => {
    const a = { a: 1, b: 2 };
    const b = { b: 2, a: 1 };
    expect(keyId(a)).toBe(keyId(b));
    expect(hex(encodeKey(a))).toBe(hex(encodeKey(b)));
    expect(hashKey(a)).toBe(hashKey(b));
    expect(keyId(Object.assign(Object.create(null), b))).toBe(keyId(a));
  });

  it('keeps 1, "1", 1n, [1], {0: 1} and true apart', () => {
    const keys = [1, '1', 1n, [1], { 0: 1 }, true, ['1'], [[1]]];
    expect(new Set(keys.map(keyId)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => hex(encodeKey(k)))).size).toBe(keys.length);
    expect(new Set(keys.map(hashKey)).size).toBe(keys.length);
  });

  it('treats -0 and 0 as the same key, also inside composites', () => {
    expect(keyId(-0)).toBe(0);
    expect(Object.is(keyId(-0), 0)).toBe(true);
    expect(hashKey(-0)).toBe(hashKey(0));
    expect(keyId([-0])).toBe(keyId([0]));
    expect(Object.is((decodeKey(encodeKey([-0])) as number[])[0], 0)).toBe(true);
  });

  it('treats a lone surrogate as U+FFFD, as UTF-8 does', () => {
    expect(keyId('a\uD800')).toBe('a\uFFFD');
    expect(hex(encodeKey('a\uD800'))).toBe(hex(encodeKey('a\uFFFD')));
    expect(hashKey('a\uD800')).toBe(hashKey('a\uFFFD'));
    expect(keyId({ '\uDC00': 1 })).toBe(keyId({ '\uFFFD': 1 }));
  });

  it('sorts property names by UTF-16 code units', () => {
    // U+FF5E sorts before U+1F600 by code point, but after its surrogate pair (D83D DE00) by code unit.
    const decoded = decodeKey(encodeKey({ '😀': 1, '～': 2, a: 3 })) as Record<string, number>;
    expect(Object.keys(decoded)).toEqual(['a', '😀', '～']);
  });

  it('hashes every key to murmur3x86_32 of its encoding', () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        expect(hashKey(key)).toBe(murmur3x86_32(encodeKey(key)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('KEY_ENCODING', () => {
  class UserId {
    constructor(
      readonly tenant: string,
      readonly id: number,
    ) {}
    [KEY_ENCODING](): unknown {
      return [this.tenant, this.id];
    }
  }

  it('is the registered symbol floe.keyEncoding', () => {
    expect(KEY_ENCODING).toBe(Symbol.for('floe.keyEncoding'));
  });

  it('encodes, hashes and identifies a class instance as the key it declares', () => {
    const user = new UserId('acme', 7);
    expect(keyId(user)).toBe(keyId(['acme', 7]));
    expect(hex(encodeKey(user))).toBe(hex(encodeKey(['acme', 7])));
    expect(hashKey(user)).toBe(hashKey(['acme', 7]));
    expect(keyFromId(keyId(user))).toEqual(['acme', 7]);
    expect(decodeKey(encodeKey(user))).toEqual(['acme', 7]);
  });

  it('gives a declared primitive key the same id as the primitive itself', () => {
    expect(keyId(new Declared('u1'))).toBe('u1');
    expect(keyId(new Declared(-0))).toBe(0);
    expect(hashKey(new Declared('u1'))).toBe(hashKey('u1'));
    expect(keyId([new Declared(new Declared(3n))])).toBe(keyId([3n]));
  });

  it('works inside composites and on plain objects', () => {
    expect(keyId({ user: new UserId('acme', 1) })).toBe(keyId({ user: ['acme', 1] }));
    expect(keyId({ [KEY_ENCODING]: () => 'x', ignored: 1 })).toBe('x');
  });
});

describe('rejected keys', () => {
  class Plain {
    x = 1;
  }
  const cyclicArray: unknown[] = [];
  cyclicArray.push(cyclicArray);
  const cyclicObject: Record<string, unknown> = {};
  cyclicObject.self = cyclicObject;
  const selfDeclaring = { [KEY_ENCODING]: (): unknown => selfDeclaring };
  const sparse: number[] = [1];
  sparse[2] = 2;
  let deep: unknown = 1;
  for (let i = 0; i <= MAX_KEY_DEPTH; i++) deep = [deep];

  const rejected: [string, unknown, RegExp][] = [
    ['undefined', undefined, /Invalid key: undefined\. undefined is not a key/],
    ['null', null, /null is not a key/],
    ['NaN', Number.NaN, /NaN is not equal to itself/],
    ['a function', () => 1, /function .*no stable byte encoding/],
    ['a symbol', Symbol('k'), /symbol .*no stable byte encoding/],
    ['a Map', new Map([[1, 2]]), /Map object .*Maps and Sets are not keys/],
    ['a Set', new Set([1]), /Set object .*Maps and Sets/],
    ['a Date', new Date(0), /Date object .*getTime/],
    ['a Uint8Array', new Uint8Array(2), /Uint8Array object .*Binary data/],
    ['a Buffer', Buffer.from('ab'), /Buffer object .*Binary data/],
    ['a class instance', new Plain(), /Plain object .*Class instances/],
    ['a boxed number', Object(1), /Number object/],
    ['an object with a non-plain prototype', Object.create({ inherited: 1 }), /Class instances/],
    ['a regular expression', /x/, /RegExp object/],
    ['an array holding undefined', [1, undefined], /undefined at \[1\] of key/],
    ['a sparse array', sparse, /undefined at \[1\]/],
    ['an object holding undefined', { a: undefined }, /undefined at \.a of key/],
    ['NaN inside an array', [[Number.NaN]], /NaN at \[0\]\[0\]/],
    ['a cyclic array', cyclicArray, /nested deeper than 64 levels \(is it cyclic\?\)/],
    ['a cyclic object', cyclicObject, /nested deeper than 64 levels/],
    ['a key that declares itself', selfDeclaring, /nested deeper than 64 levels/],
    ['arrays nested deeper than the limit', deep, /nested deeper than 64 levels/],
    ['a non-function KEY_ENCODING', { [KEY_ENCODING]: 'x' }, /\[KEY_ENCODING\] must be a method/],
    ['a KEY_ENCODING that returns undefined', new Declared(undefined), /undefined at \[KEY_ENCODING\]\(\)/],
    ['a KEY_ENCODING that returns a Map', new Declared(new Map()), /Map object .* at \[KEY_ENCODING\]\(\)/],
  ];

  it.each(rejected)('rejects %s from encodeKey, hashKey and keyId with INVALID_KEY', (_name, key, message) => {
    const error = expectInvalidKey(() => encodeKey(key), message);
    expect(error.message).toContain('[KEY_ENCODING]()');
    expect(error.message).toContain('Return a string, number, bigint, boolean, or an array/plain object');
    expectInvalidKey(() => hashKey(key), message);
    expectInvalidKey(() => keyId(key), message);
  });

  it('accepts nesting right at the limit', () => {
    let atLimit: unknown = 1;
    for (let i = 0; i < MAX_KEY_DEPTH; i++) atLimit = [atLimit];
    expect(keyFromId(keyId(atLimit))).toEqual(atLimit);
  });

  it('rejects two property names that become equal once lone surrogates are replaced', () => {
    expectInvalidKey(() => keyId({ '\uD800': 1, '\uFFFD': 2 }), /Two property names are equal/);
  });

  it('accepts objects with a null prototype', () => {
    const key = Object.assign(Object.create(null) as object, { a: 1 });
    expect(decodeKey(encodeKey(key))).toEqual({ a: 1 });
  });
});
