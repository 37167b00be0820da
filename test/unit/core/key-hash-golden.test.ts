import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { encodeKey, hashKey } from '../../../src/core/key-encoding.js';
import { assignToKeyGroup } from '../../../src/core/key-groups.js';

// GOLDEN VECTORS — these numbers must never change.
//
// Checkpoints and savepoints store keyed state by key group, and a restored job finds a key's
// state by recomputing assignToKeyGroup(key, maxParallelism). If the encoding, the hash or the
// key-group formula changed, restored keys would land in other key groups (often on other subtasks)
// and their state would silently look empty. A failure here is a breaking change of the state
// format, not a test to update: keep the old behaviour, or version the format and migrate.
//
// Columns: key, hashKey(key), assignToKeyGroup(key, 128), assignToKeyGroup(key, 32768), encodeKey(key) as hex.
const GOLDEN: [unknown, number, number, number, string][] = [
  ['', 0xff4acaf1, 115, 16115, '73'],
  ['a', 0x4ae4dfbe, 37, 14885, '7361'],
  ['user-1', 0xd1a1f24b, 27, 17691, '73757365722d31'],
  ['bidder-4242', 0xf6767396, 16, 7696, '736269646465722d34323432'],
  ['Zürich', 0x0c904f5f, 74, 25290, '735ac3bc72696368'],
  ['🦊', 0x975a147d, 9, 23433, '73f09fa68a'],
  [0, 0xf293345e, 25, 17433, '640000000000000000'],
  [1, 0x9a969c52, 9, 26121, '643ff0000000000000'],
  [-1, 0x9e8a72c4, 69, 21701, '64bff0000000000000'],
  [1.5, 0xef010d55, 53, 9141, '643ff8000000000000'],
  [2 ** 53, 0x46a15806, 27, 6811, '644340000000000000'],
  [Infinity, 0x6cd955b1, 27, 14747, '647ff0000000000000'],
  [-Infinity, 0x85f96254, 122, 7674, '64fff0000000000000'],
  [1n, 0xcd6f3122, 82, 26834, '62000000000101'],
  [-12345678901234567890n, 0xe058a731, 44, 6444, '620100000008ab54a98ceb1f0ad2'],
  [2n ** 64n, 0x331e9bf2, 117, 3061, '620000000009010000000000000000'],
  [true, 0xca87df4d, 107, 3947, '74'],
  [false, 0x2b64883b, 55, 18359, '66'],
  [[1, 'a'], 0xc2598866, 23, 10903, '5b00000002643ff0000000000000730000000161'],
  [
    { user: 'u1', region: 'eu' },
    0x3042023e,
    79,
    29519,
    '7b000000027300000006726567696f6e7300000002657573000000047573657273000000027531',
  ],
];

const label = (key: unknown): string => (typeof key === 'bigint' ? `${key}n` : JSON.stringify(key) ?? String(key));

describe('golden key hashes and key groups', () => {
  it.each(GOLDEN.map((row) => [label(row[0]), ...row] as const))(
    'keeps key %s in the same bytes, hash and key groups',
    (_label, key, hash, keyGroup128, keyGroup32768, bytesHex) => {
      expect(Buffer.from(encodeKey(key)).toString('hex')).toBe(bytesHex);
      expect(hashKey(key)).toBe(hash);
      expect(assignToKeyGroup(key, 128)).toBe(keyGroup128);
      expect(assignToKeyGroup(key, 32768)).toBe(keyGroup32768);
    },
  );

  it('keeps -0 in the key groups of 0', () => {
    expect(hashKey(-0)).toBe(0xf293345e);
    expect(assignToKeyGroup(-0, 128)).toBe(25);
  });

  it('keeps a reordered object in the key groups of the original', () => {
    expect(hashKey({ region: 'eu', user: 'u1' })).toBe(0x3042023e);
    expect(assignToKeyGroup({ region: 'eu', user: 'u1' }, 32768)).toBe(29519);
  });
});
