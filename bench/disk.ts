// disk: the disk (LMDB) state backend, three measurements in one process.
// 1. Keyed counting: `--records` records over `--count-keys` string keys `k<n>` through the
//    KeyedStateBackend API (setCurrentKey + value() + update(value + 1) per record, incremental
//    mode, so every write also goes to the change log) against the raw LMDB store doing the same
//    read and write per record: its own environment opened as the backend opens its store, the key
//    string's bytes as the key, getBinaryFast + putSync of an 8-byte double, inside one write
//    transaction committed every 32768 writes. That is exactly the backend's batching (LmdbStore's
//    default commitEvery), so the ratio measures the backend's own overhead (key encoding, key
//    group prefix, serializer, change log), not a different use of LMDB. The cases alternate for
//    `--rounds` rounds; the best of each counts: ratioToRawStore = backend rec/s / raw rec/s.
//    Then the same counting as a job (StreamEnvironment, stateBackend disk): jobRecordsPerSec.
// 2. Incremental checkpoints: `--keys` keys written once, checkpoint 1 (a full materialization),
//    then every 1/`--update-fraction`-th key updated (strided), checkpoint 2 (change log only);
//    incrementalBytesRatio = incrementalBytes(2) / incrementalBytes(1).
// 3. Restore of checkpoint 2 (materialization + change log) into a fresh backend in a fresh
//    directory, then `--sample` keys are checked (fails the run if one is wrong). restoreReadSeconds
//    is the time to only read and parse the chain's files, the rest of restoreSeconds is LMDB puts.
// Progress goes to stderr. Everything is written under one temporary directory, removed at the end.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { KeyGroupRange, type KeyedProcessFunction, type RuntimeContext, StreamEnvironment, systemClock, type ValueState, ValueStateDescriptor } from '../src/index.js';
import { FileCheckpointStorage } from '../src/checkpoint/files/file-checkpoint-storage.js';
import { DiskStateBackend, type DiskKeyedStateBackend } from '../src/state/disk/disk-state-backend.js';
import { readRecordFile } from '../src/state/disk/record-file.js';
import { LMDB_ENV_OPTIONS } from '../src/state/disk/lmdb-store.js';
import { type KeyedSnapshotResult, restoredFromBytes } from '../src/state/keyed-snapshot.js';

/** The backend's default writes per LMDB transaction; the raw store uses the same. */
const COMMIT_EVERY = 32768;

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
}

function progress(line: string): void {
  process.stderr.write(`[disk] ${line}\n`);
}

/** Peak heap seen by {@link sample} (RSS peak comes from the kernel: resourceUsage().maxRSS). */
let heapPeak = 0;
function sample(): void {
  const used = process.memoryUsage().heapUsed;
  if (used > heapPeak) heapPeak = used;
}

/** Bytes a directory takes on disk (as du: allocated blocks, so sparse files count what they use). */
function diskUsage(path: string): number {
  let n = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) n += diskUsage(p);
    else if (entry.isFile()) n += statSync(p).blocks * 512;
  }
  return n;
}

const mb = (bytes: number) => Math.round(bytes / (1 << 20));
const round3 = (x: number) => Number(x.toFixed(3));

function keyedBackend(dir: string, job: string): DiskKeyedStateBackend {
  return new DiskStateBackend({ dir }).createKeyedStateBackend({
    operator: 'count',
    job,
    subtask: 0,
    parallelism: 1,
    maxParallelism: 128,
    keyGroupRange: KeyGroupRange.of(0, 127),
    ttlClock: systemClock,
  }) as DiskKeyedStateBackend;
}

// --- 1. keyed counting -------------------------------------------------------------------------

async function countOnBackend(dir: string, keyNames: string[], pick: (i: number) => number, records: number): Promise<number> {
  const backend = keyedBackend(dir, 'disk-bench-count');
  try {
    const count = backend.getState(new ValueStateDescriptor<number>('count'));
    const t0 = performance.now();
    for (let i = 0; i < records; i++) {
      backend.setCurrentKey(keyNames[pick(i)]);
      count.update((count.value() ?? 0) + 1);
    }
    backend.store.commit();
    const ms = performance.now() - t0;
    sample();
    return ms;
  } finally {
    await backend.dispose();
  }
}

/** The raw store, opened as LmdbStore opens its environment, with the same long-transaction trick. */
class RawStore {
  readonly env: RootDatabase;
  readonly db: Database<Buffer, Buffer>;
  private finish: ((value: unknown) => unknown) | undefined;
  private writes = 0;

  constructor(path: string) {
    this.env = open({ path, ...LMDB_ENV_OPTIONS }) as RootDatabase;
    this.db = this.env.openDB({ name: 'count', keyEncoding: 'binary', encoding: 'binary', cache: false }) as unknown as Database<Buffer, Buffer>;
  }

  put(key: Buffer, value: Buffer): void {
    if (this.finish === undefined)
      void this.env.transactionSync(() => ({
        then: (onCommit: (value: unknown) => unknown) => {
          this.finish = onCommit;
        },
      }));
    this.db.putSync(key, value);
    if (++this.writes >= COMMIT_EVERY) this.commit();
  }

  commit(): void {
    const finish = this.finish;
    if (finish === undefined) return;
    this.finish = undefined;
    this.writes = 0;
    finish(undefined);
  }
}

async function countOnRawStore(dir: string, keyNames: string[], pick: (i: number) => number, records: number): Promise<number> {
  const store = new RawStore(join(dir, 'store'));
  try {
    const db = store.db;
    const out = Buffer.alloc(8); // putSync copies the value, so one buffer serves every write
    const t0 = performance.now();
    for (let i = 0; i < records; i++) {
      const key = Buffer.from(keyNames[pick(i)]);
      const v = db.getBinaryFast(key);
      out.writeDoubleLE((v === undefined || v === null ? 0 : v.readDoubleLE(0)) + 1, 0);
      store.put(key, out);
    }
    store.commit();
    const ms = performance.now() - t0;
    sample();
    return ms;
  } finally {
    await store.env.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Click {
  user: string;
  n: number;
}

class CountPerKey implements KeyedProcessFunction<string, Click, never> {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(): void {
    this.count.update((this.count.value() ?? 0) + 1);
  }
}

async function countAsJob(dir: string, keyNames: string[], pick: (i: number) => number, records: number): Promise<{ ms: number; keys: number }> {
  const env = StreamEnvironment.create({ parallelism: 1, stateBackend: { kind: 'disk', dir } });
  env
    .fromGenerator((i): Click => ({ user: keyNames[pick(i)], n: i }), { count: records })
    .keyBy((c) => c.user)
    .process(new CountPerKey())
    .uid('count')
    .addSink(() => {});
  const t0 = performance.now();
  const result = await env.execute('disk-bench-job');
  const ms = performance.now() - t0;
  sample();
  rmSync(dir, { recursive: true, force: true });
  return { ms, keys: result.metrics.distinctKeys };
}

// --- 2. and 3. incremental checkpoint and restore -------------------------------------------------

/** The value key `i` holds after the update pass. */
const expected = (i: number, stride: number) => i + (i % stride === 0 ? 1 : 0);

async function snapshot(backend: DiskKeyedStateBackend, storage: FileCheckpointStorage, checkpointId: number): Promise<{ result: KeyedSnapshotResult; ms: number }> {
  const t0 = performance.now();
  const result = await backend.snapshot({ checkpointId, shared: { put: (path, file) => storage.putShared(path, file) } }).write();
  return { result, ms: performance.now() - t0 };
}

async function incrementalAndRestore(root: string, keys: number, stride: number, samples: number) {
  const storage = new FileCheckpointStorage(join(root, 'checkpoints'));
  const backend = keyedBackend(join(root, 'source'), 'disk-bench-incremental');
  let restored: DiskKeyedStateBackend | undefined;
  try {
    const count = backend.getState(new ValueStateDescriptor<number>('count'));
    const step = Math.max(1, Math.floor(keys / 10));
    let t0 = performance.now();
    for (let i = 0; i < keys; i++) {
      backend.setCurrentKey(`k${i}`);
      count.update(i);
      if ((i + 1) % step === 0) {
        sample();
        progress(`loaded ${i + 1}/${keys} keys, ${Math.round((i + 1) / ((performance.now() - t0) / 1000))} puts/s`);
      }
    }
    backend.store.commit();
    const loadMs = performance.now() - t0;
    const storeBytes = diskUsage(join(backend.config.dir, 'store'));
    const workDirBytes = diskUsage(join(root, 'source')); // the store + the open change-log segment
    const entries = backend.estimatedNumKeys('count');
    if (entries !== keys) throw new Error(`disk bench: the store holds ${entries} entries after writing ${keys} keys`);

    progress('checkpoint 1 (materialization)');
    const cp1 = await snapshot(backend, storage, 1);
    sample();

    let updated = 0;
    t0 = performance.now();
    for (let i = 0; i < keys; i += stride) {
      backend.setCurrentKey(`k${i}`);
      count.update((count.value() ?? 0) + 1);
      updated++;
    }
    backend.store.commit();
    const updateMs = performance.now() - t0;
    progress(`updated ${updated} keys; checkpoint 2 (incremental)`);
    const cp2 = await snapshot(backend, storage, 2);
    sample();
    await backend.dispose();

    const chain = cp2.result.meta.disk?.chain ?? [];
    progress(`restoring checkpoint 2: ${chain.map((f) => `${f.kind} ${mb(f.size)} MB`).join(' + ')}`);
    t0 = performance.now();
    let readRecords = 0;
    for (const file of chain) for await (const records of readRecordFile(join(storage.directory, file.name), { kind: file.kind })) readRecords += records.length;
    const readMs = performance.now() - t0;

    restored = keyedBackend(join(root, 'restored'), 'disk-bench-restore');
    const snapshotState = restoredFromBytes(cp2.result.meta, Buffer.concat(cp2.result.data));
    snapshotState.resolveFile = (name) => join(storage.directory, name);
    t0 = performance.now();
    await restored.restore([snapshotState]);
    const restoreMs = performance.now() - t0;
    sample();
    const restoredBytes = diskUsage(join(restored.config.dir, 'store'));

    // Check a spread of keys, and every sampled key's neighbour that was updated.
    const restoredCount = restored.getState(new ValueStateDescriptor<number>('count'));
    const wrong: string[] = [];
    const check = (i: number) => {
      restored!.setCurrentKey(`k${i}`);
      const v = restoredCount.value();
      if (v !== expected(i, stride) && wrong.length < 5) wrong.push(`k${i} = ${v}, expected ${expected(i, stride)}`);
    };
    const n = Math.min(samples, keys);
    for (let s = 0; s < n; s++) {
      const i = Math.floor(((s + 0.5) * keys) / n);
      check(i);
      check(i - (i % stride));
    }
    check(keys - 1);
    const restoredEntries = restored.estimatedNumKeys('count');
    if (wrong.length > 0 || restoredEntries !== keys)
      throw new Error(`disk bench: the restored state is wrong (${restoredEntries} entries for ${keys} keys): ${wrong.join('; ')}`);
    progress(`restore verified on ${2 * n + 1} keys`);

    return {
      keys,
      updatedKeys: updated,
      loadPutsPerSec: Math.round(keys / (loadMs / 1000)),
      updatesPerSec: Math.round(updated / (updateMs / 1000)),
      storeMb: mb(storeBytes),
      workDirMb: mb(workDirBytes),
      checkpoint1Bytes: cp1.result.incrementalBytes ?? cp1.result.bytes,
      checkpoint1Seconds: round3(cp1.ms / 1000),
      checkpoint2Bytes: cp2.result.incrementalBytes ?? cp2.result.bytes,
      checkpoint2Seconds: round3(cp2.ms / 1000),
      checkpoint2ChainBytes: chain.reduce((s, f) => s + f.size, 0),
      checkpointDirMb: mb(diskUsage(storage.directory)),
      incrementalBytesRatio: Number(((cp2.result.incrementalBytes ?? Number.NaN) / (cp1.result.incrementalBytes ?? Number.NaN)).toFixed(4)),
      restoreSeconds: round3(restoreMs / 1000),
      restoreReadSeconds: round3(readMs / 1000),
      restoreRecords: readRecords,
      restoredStoreMb: mb(restoredBytes),
    };
  } finally {
    await backend.dispose();
    await restored?.dispose();
  }
}

export async function diskBenchmark(args: string[]): Promise<Record<string, unknown>> {
  const records = option(args, '--records', 1_000_000);
  const countKeys = option(args, '--count-keys', 100_000);
  const rounds = option(args, '--rounds', 3);
  const jobRecords = option(args, '--job-records', records); // 0 skips the job
  const keys = option(args, '--keys', 10_000_000);
  const stride = Math.max(1, Math.round(1 / option(args, '--update-fraction', 0.01)));
  const samples = option(args, '--sample', 10_000);
  const root = mkdtempSync(join(tmpdir(), 'floe-bench-disk-'));
  try {
    const keyNames = Array.from({ length: countKeys }, (_, i) => `k${i}`);
    // Both sides see the same stream: a scrambled index picks the key, so keys interleave.
    const pick = (i: number) => (Math.imul(i, 0x9e3779b1) >>> 0) % countKeys;
    let dirs = 0;
    const fresh = () => join(root, `count-${dirs++}`);

    progress(`keyed counting: ${records} records over ${countKeys} keys, ${rounds} rounds`);
    const warm = Math.min(records, 200_000);
    await countOnBackend(fresh(), keyNames, pick, warm); // JIT warm-up of both paths
    await countOnRawStore(fresh(), keyNames, pick, warm);
    const backendMs: number[] = [];
    const rawMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate the two cases so that machine noise and JIT state hit both alike.
      backendMs.push(await countOnBackend(fresh(), keyNames, pick, records));
      rawMs.push(await countOnRawStore(fresh(), keyNames, pick, records));
      progress(`round ${r + 1}: backend ${Math.round(records / (backendMs[r] / 1000))} rec/s, raw ${Math.round(records / (rawMs[r] / 1000))} rec/s`);
    }
    const recordsPerSec = Math.round(records / (Math.min(...backendMs) / 1000));
    const rawRecordsPerSec = Math.round(records / (Math.min(...rawMs) / 1000));

    let job: Record<string, number> = {};
    if (jobRecords > 0) {
      await countAsJob(fresh(), keyNames, pick, Math.min(jobRecords, 200_000));
      const run = await countAsJob(fresh(), keyNames, pick, jobRecords);
      if (run.keys !== Math.min(countKeys, jobRecords)) throw new Error(`disk bench: the job saw ${run.keys} keys, expected ${Math.min(countKeys, jobRecords)}`);
      const jobRecordsPerSec = Math.round(jobRecords / (run.ms / 1000));
      job = { jobRecords, jobRecordsPerSec, jobRatioToRawStore: round3(jobRecordsPerSec / rawRecordsPerSec) };
      progress(`job: ${jobRecordsPerSec} rec/s`);
    }

    progress(`incremental checkpoints and restore: ${keys} keys, every ${stride}th updated`);
    const incremental = await incrementalAndRestore(join(root, 'incremental'), keys, stride, samples);
    sample();

    return {
      benchmark: 'disk',
      records,
      countKeys,
      rounds,
      recordsPerSec,
      rawRecordsPerSec,
      ratioToRawStore: round3(recordsPerSec / rawRecordsPerSec),
      roundRatios: backendMs.map((ms, r) => round3(rawMs[r] / ms)),
      ...job,
      ...incremental,
      rssPeakMb: Math.round(process.resourceUsage().maxRSS / 1024),
      heapUsedPeakMb: mb(heapPeak),
      node: process.version,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
