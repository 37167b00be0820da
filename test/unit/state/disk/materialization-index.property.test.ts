// Law: reading a materialization through its key-group index yields exactly the records of the
// key groups asked for that a full read yields (deferred entries included), and reads less of
// the file when the range is a small part of it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { keyGroupOfStoredKey } from '../../../../src/state/disk/key-layout.js';
import { MaterializationIndexBuilder, rangesForKeyGroups } from '../../../../src/state/disk/materialization-index.js';
import { readRecordFile, RecordFileWriter } from '../../../../src/state/disk/record-file.js';

const root = mkdtempSync(join(tmpdir(), 'floe-mat-index-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;

/** A stored key: key group (or 0xffff + key group for a deferred entry), then a few bytes. */
function storedKey(keyGroup: number, deferred: boolean, tail: number[]): Buffer {
  const head = deferred ? [0xff, 0xff, keyGroup >> 8, keyGroup & 0xff] : [keyGroup >> 8, keyGroup & 0xff];
  return Buffer.from([...head, ...tail]);
}

const entry = fc.record({ keyGroup: fc.integer({ min: 0, max: 63 }), deferred: fc.integer({ min: 0, max: 7 }).map((n) => n === 0), tail: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 }), size: fc.integer({ min: 0, max: 40 }) });

async function readAll(path: string, options: Parameters<typeof readRecordFile>[1]): Promise<string[]> {
  const out: string[] = [];
  for await (const records of readRecordFile(path, options)) for (const r of records) out.push(`${r.state}|${Buffer.from(r.key).toString('hex')}|${Buffer.from(r.value!).toString('hex')}`);
  return out;
}

describe('materialization key-group index', () => {
  it('a range read holds exactly the records of its key groups', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(entry, { maxLength: 60 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 16, max: 200 }),
        async (states, a, b, stride) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const names = states.map((_, i) => `state-${i}`);
          const path = join(root, `m-${files++}.kv`);
          const writer = new RecordFileWriter(path, 'materialization', (i) => names[i]);
          const indexer = new MaterializationIndexBuilder(names, stride);
          states.forEach((entries, s) => {
            // Store order: sorted by key bytes, so normal entries by key group, deferred ones last.
            const keys = new Map(entries.map((e) => [storedKey(e.keyGroup, e.deferred, e.tail).toString('hex'), e.size]));
            for (const hex of [...keys.keys()].sort()) {
              const key = Buffer.from(hex, 'hex');
              indexer.add(s, key, writer.size);
              writer.put(s, key, Buffer.alloc(keys.get(hex)!, s + 1));
            }
          });
          const index = indexer.finish(writer.size);
          writer.seal();
          const inRange = (line: string) => {
            const kg = keyGroupOfStoredKey(Buffer.from(line.split('|')[1], 'hex'));
            return kg >= lo && kg <= hi;
          };
          const full = (await readAll(path, { kind: 'materialization' })).filter(inRange);
          const ranges = rangesForKeyGroups(index, lo, hi);
          const partial = (await readAll(path, { kind: 'materialization', ranges, names: index.names })).filter(inRange);
          expect(partial).toEqual(full);
          for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThan(ranges[i - 1][1]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reads about its share of a large file, not all of it', async () => {
    const names = ['big'];
    const path = join(root, `m-${files++}.kv`);
    const writer = new RecordFileWriter(path, 'materialization', (i) => names[i]);
    const indexer = new MaterializationIndexBuilder(names, 4096);
    for (let kg = 0; kg < 128; kg++)
      for (let k = 0; k < 100; k++) {
        const key = storedKey(kg, false, [k >> 8, k & 0xff]);
        indexer.add(0, key, writer.size);
        writer.put(0, key, Buffer.alloc(100));
      }
    const index = indexer.finish(writer.size);
    writer.seal();
    let bytes = 0;
    const lines = await readAll(path, { kind: 'materialization', ranges: rangesForKeyGroups(index, 32, 63), names: index.names, onRead: (n) => (bytes += n) });
    const own = lines.filter((l) => {
      const kg = keyGroupOfStoredKey(Buffer.from(l.split('|')[1], 'hex'));
      return kg >= 32 && kg <= 63;
    });
    expect(own).toHaveLength(32 * 100);
    expect(bytes).toBeLessThan(index.end / 4 + 2 * 4096 + 1200);
  });
});
