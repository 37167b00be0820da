// savepoint-restore: a canonical snapshot (what a savepoint holds) restored into the disk backend.
// `--keys` value-state entries (string keys `k<n>`, number values) are written into a `--from`
// backend (disk, the default, or heap), which takes a canonical snapshot; the snapshot is then
// restored `--rounds` times into a fresh disk backend (each in a fresh directory), and `--sample`
// keys are checked after each (fails the run if one is wrong). Baseline: the backend's LMDB store
// appending the same keys and values, already encoded and sorted, with the store's batching,
// so restoreToRawStore = restore entries/s / raw puts/s (what decoding the blocks costs); the raw
// load takes at most `--raw-keys` keys (default 2M: it holds them as JS objects). Progress goes to
// stderr; everything is written under one temporary directory, removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyGroupRange, systemClock, ValueStateDescriptor } from '../src/index.js';
import { DiskStateBackend } from '../src/state/disk/disk-state-backend.js';
import { keyPart, namespacePart } from '../src/state/disk/key-layout.js';
import { LmdbStore } from '../src/state/disk/lmdb-store.js';
import { HeapStateBackend } from '../src/state/heap/heap-state-backend.js';
import { concatChunks, restoredFromBytes } from '../src/state/keyed-snapshot.js';
import type { KeyedStateBackend } from '../src/state/keyed-state-backend.js';
import { defaultSerializer } from '../src/state/serde/type-serializer.js';
import { encodeKey } from '../src/core/key-encoding.js';
import { assignToKeyGroup } from '../src/core/key-groups.js';

const MAX_PARALLELISM = 128;
/** Puts per LMDB transaction (LmdbStore's default commitEvery). */
const COMMIT_EVERY = 32768;

function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
}

function progress(line: string): void {
  process.stderr.write(`[savepoint-restore] ${line}\n`);
}

function backendOf(kind: string, dir: string, job: string): KeyedStateBackend {
  const options = { operator: 'count', job, subtask: 0, parallelism: 1, maxParallelism: MAX_PARALLELISM, keyGroupRange: KeyGroupRange.of(0, MAX_PARALLELISM - 1), ttlClock: systemClock };
  return kind === 'heap' ? new HeapStateBackend().createKeyedStateBackend(options) : new DiskStateBackend({ dir }).createKeyedStateBackend(options);
}

const count = new ValueStateDescriptor<number>('count');

/**
 * The store loading the same entries, encoded and in store order, the cheapest way LMDB allows:
 * appends, one write transaction per 32768 (what the restore does with a snapshot in store order).
 */
async function rawLoad(dir: string, keys: number): Promise<number> {
  const ns = namespacePart('');
  const entries: Array<[Buffer, Buffer]> = [];
  for (let i = 0; i < keys; i++) {
    const key = `k${i}`;
    entries.push([Buffer.concat([keyPart(assignToKeyGroup(key, MAX_PARALLELISM), encodeKey(key), () => 'bench', key), ns]), Buffer.from(defaultSerializer.serialize(i))]);
  }
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  // Laid out again in store order, so the puts read memory in order as the restore reads its blocks.
  const packed = Buffer.concat(entries.flat());
  let at = 0;
  for (const entry of entries) {
    const [key, value] = entry;
    entry[0] = packed.subarray(at, (at += key.length));
    entry[1] = packed.subarray(at, (at += value.length));
  }
  const store = new LmdbStore({ path: join(dir, 'raw'), commitEvery: COMMIT_EVERY, place: 'raw store' });
  const db = store.db('count');
  const t0 = performance.now();
  for (const [key, value] of entries) store.append(db, key, value);
  store.commit();
  const ms = performance.now() - t0;
  await store.close();
  return ms;
}

export async function savepointRestoreBenchmark(args: string[]): Promise<Record<string, unknown>> {
  const keys = Number(option(args, '--keys', '1000000'));
  const from = option(args, '--from', 'disk');
  const rounds = Number(option(args, '--rounds', '3'));
  const samples = Number(option(args, '--sample', '10000'));
  const root = mkdtempSync(join(tmpdir(), 'floe-savepoint-bench-'));
  try {
    const source = backendOf(from, join(root, 'source'), 'savepoint-bench-source');
    let t0 = performance.now();
    const c = source.getState(count);
    for (let i = 0; i < keys; i++) {
      source.setCurrentKey(`k${i}`);
      c.update(i);
    }
    progress(`${keys} keys written into the ${from} backend in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
    const snapshot = await source.snapshot({ checkpointId: 1, canonical: true }).write();
    const snapshotMs = performance.now() - t0;
    await source.dispose();
    progress(`canonical snapshot: ${snapshot.bytes} bytes in ${(snapshotMs / 1000).toFixed(1)} s`);
    const restored = restoredFromBytes(snapshot.meta, concatChunks(snapshot.data));
    snapshot.data.length = 0;

    const rates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const target = backendOf('disk', join(root, `target-${round}`), `savepoint-bench-target-${round}`);
      try {
        t0 = performance.now();
        await target.restore([restored]);
        const ms = performance.now() - t0;
        rates.push(Math.round((keys / ms) * 1000));
        progress(`round ${round + 1}: restored in ${(ms / 1000).toFixed(2)} s (${rates[rates.length - 1]} entries/s)`);
        const v = target.getState(count);
        const step = Math.max(1, Math.floor(keys / samples));
        for (let i = 0; i < keys; i += step) {
          target.setCurrentKey(`k${i}`);
          if (v.value() !== i) throw new Error(`key k${i} restored as ${v.value()}, expected ${i}`);
        }
      } finally {
        await target.dispose();
      }
    }
    // The baseline holds its entries as JS objects: past a few million keys it would measure the heap, not LMDB.
    const rawKeys = Math.min(keys, Number(option(args, '--raw-keys', '2000000')));
    const rawPerSec = Math.round((rawKeys / (await rawLoad(root, rawKeys))) * 1000);
    progress(`raw store: ${rawPerSec} puts/s`);
    const sorted = [...rates].sort((a, b) => a - b);
    return {
      keys,
      from,
      snapshotEntriesPerSec: Math.round((keys / snapshotMs) * 1000),
      savepointBytes: snapshot.bytes,
      restoreEntriesPerSec: sorted[sorted.length - 1],
      restoreEntriesPerSecMedian: sorted[Math.floor(sorted.length / 2)],
      rawStorePutsPerSec: rawPerSec,
      restoreToRawStore: Number((sorted[sorted.length - 1] / rawPerSec).toFixed(3)),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
