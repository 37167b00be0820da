// State larger than memory, with real processes: a keyed job keeps 1.1M payloads of 1 KiB
// (~1.05 GiB, more than 4x the 256 MB heap it may use) in the disk state backend, is SIGKILLed
// once a completed checkpoint holds at least 4x the heap limit of live state, and a second run
// restores that checkpoint and finishes. The committed output must be exactly that of a failure-free run (the job checks
// every key's state against a deterministic payload and reports any difference), the checkpoint
// must hold at least 4x the heap limit, and the process's anonymous memory (heap and native
// allocations, as opposed to the LMDB file pages the kernel can drop) must stay bounded.
import { type ChildProcess, spawn } from 'node:child_process';
import { type Dirent, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCheckpointStorage } from '../../src/checkpoint/files/file-checkpoint-storage.js';
import { readCommittedJsonLines } from '../../src/connectors/file/transactional-json-lines-sink.js';
import { decodeTaskSnapshot } from '../../src/runtime/task.js';
import { expectedSamples, type LargeStateRecord } from './jobs/large-state.js';

const root = resolve(import.meta.dirname, '../..');
const job = join(root, 'test/e2e/jobs/large-state.ts');

const HEAP_MB = 256;
const KEYS = 1_100_000;
const PAYLOAD_BYTES = 1024; // ASCII: one byte per character
const SAMPLE = 1000;
/**
 * Records per second of passes 1, 2 and 3 in run 1 (0: as fast as possible). A checkpoint's
 * asynchronous part (materializing the LMDB store into a file) runs on the task's thread, one
 * chunk of 4096 entries per turn of its loop, so while the job runs flat out a 1 GiB
 * materialization takes 30 s or more. Pass 2 (state complete) is paced to leave the loop idle
 * time, so a checkpoint of the whole state completes long before run 1 would end. Run 2 is not paced.
 */
const RUN1_RATES = '0,20000,0';
/** The requirement: state of at least 4 times the heap limit. */
const MIN_STATE_BYTES = 4 * HEAP_MB * 2 ** 20;
/** Keys whose payloads alone make MIN_STATE_BYTES: a checkpoint past this source index holds that much live state. */
const MIN_LIVE_KEYS = Math.ceil(MIN_STATE_BYTES / PAYLOAD_BYTES);
/**
 * Bound on RssAnon (V8 heap + native allocations). The heap may grow to 256 MB old space plus the
 * young generation; Node, tsx and the job's code take ~60 MB; LMDB keeps the dirty pages of its
 * open write transaction (commitEvery = 32768 writes, ~1 page each at worst: 128 MiB) and the
 * change log / restore buffers are a few MiB. 512 MiB is half the state: state held in anonymous
 * memory (heap or native) would exceed it at once.
 */
const MAX_RSS_ANON_BYTES = 512 * 2 ** 20;
/** Disk space the test needs: the LMDB file (grows to ~3-4 GiB) and the checkpoint (~1.1-2.3 GiB). */
const MIN_FREE_DISK_BYTES = 10 * 2 ** 30;

interface MemoryPeaks {
  vmRss: number;
  rssAnon: number;
  rssFile: number;
  samples: number;
}

interface Run {
  child: ChildProcess;
  done: Promise<number | null>;
  peaks: MemoryPeaks;
  stderr: () => string;
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'floe-larger-than-memory-'));
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  if (free < MIN_FREE_DISK_BYTES) throw new Error(`the larger-than-memory test needs ${MIN_FREE_DISK_BYTES / 2 ** 30} GiB free in ${tmpdir()}, found ${(free / 2 ** 30).toFixed(1)} GiB`);
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Starts the job with a 256 MB heap and the disk backend; samples its memory every 100 ms. */
function start(rates: string): Run {
  const child = spawn(
    process.execPath,
    [
      `--max-old-space-size=${HEAP_MB}`,
      join(root, 'bin/floe.mjs'),
      'run',
      job,
      '--state-backend',
      'disk',
      '--state-dir',
      join(dir, 'state'),
      '--checkpoint-dir',
      join(dir, 'chk'),
      '--checkpoint-interval',
      '1000',
      '-q',
      join(dir, 'out'),
      String(KEYS),
      String(PAYLOAD_BYTES),
      String(SAMPLE),
      rates,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-20_000);
  });
  const peaks: MemoryPeaks = { vmRss: 0, rssAnon: 0, rssFile: 0, samples: 0 };
  const sampler = setInterval(() => {
    const m = memoryOf(child.pid!);
    if (m === undefined) return;
    peaks.vmRss = Math.max(peaks.vmRss, m.vmRss);
    peaks.rssAnon = Math.max(peaks.rssAnon, m.rssAnon);
    peaks.rssFile = Math.max(peaks.rssFile, m.rssFile);
    peaks.samples++;
  }, 100);
  const done = new Promise<number | null>((r) =>
    child.on('exit', (code) => {
      clearInterval(sampler);
      r(code);
    }),
  );
  return { child, done, peaks, stderr: () => stderr };
}

/** VmRSS, RssAnon and RssFile of a process in bytes (undefined once it is gone). */
function memoryOf(pid: number): { vmRss: number; rssAnon: number; rssFile: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  const m = { vmRss: kb('VmRSS'), rssAnon: kb('RssAnon'), rssFile: kb('RssFile') };
  return Number.isNaN(m.vmRss) ? undefined : m; // a zombie has no VmRSS line
}

/** What a completed checkpoint holds: the source's next index and the bytes of its shared (keyed state) files. */
interface CheckpointInfo {
  id: number;
  sourceNext: number;
  sharedBytes: number;
  sharedFiles: number;
}

async function inspectCheckpoint(storage: FileCheckpointStorage, id: number): Promise<CheckpointInfo> {
  const envelope = await storage.readMetadata(id);
  const shared = envelope.files.filter((f) => f.name.startsWith('shared/'));
  let sourceNext: number | undefined;
  for (const task of Object.values(envelope.metadata.tasks as Record<string, { file: { name: string; size: number; sha256: string } }>)) {
    const source = decodeTaskSnapshot(await storage.readFile(id, task.file)).source as { splits: Array<{ next: number }> } | undefined;
    if (source !== undefined) sourceNext = source.splits[0]?.next ?? Number.POSITIVE_INFINITY; // no split left: every index was read
  }
  if (sourceNext === undefined) throw new Error(`checkpoint ${id} has no source position`);
  return { id, sourceNext, sharedBytes: shared.reduce((n, f) => n + f.size, 0), sharedFiles: shared.length };
}

/** Bytes on disk under a directory (allocated blocks, so sparse files count what they use). */
function diskUsage(path: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(path, e.name);
    try {
      total += e.isDirectory() ? diskUsage(p) : statSync(p).blocks * 512;
    } catch {
      // deleted meanwhile
    }
  }
  return total;
}

const MiB = (n: number) => Math.round(n / 2 ** 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('state larger than memory (disk backend)', () => {
  it(`keeps ${KEYS} keys x ${PAYLOAD_BYTES} B in a ${HEAP_MB} MB heap, survives kill -9 after a checkpoint of over 4x the heap, and restores exactly`, async () => {
    const t0 = Date.now();
    const storage = new FileCheckpointStorage(join(dir, 'chk'));
    const timeline: Array<CheckpointInfo & { atMs: number }> = [];

    // Run 1: killed once a completed checkpoint holds at least 4x the heap limit of live state.
    const first = start(RUN1_RATES);
    let exited = false;
    void first.done.then(() => (exited = true));
    let killedAfter: CheckpointInfo | undefined;
    let stateDirPeak = 0;
    let lastSeen = 0;
    for (let polls = 0; killedAfter === undefined && !exited; polls++) {
      await sleep(100);
      if (polls % 20 === 0) stateDirPeak = Math.max(stateDirPeak, diskUsage(join(dir, 'state')));
      const ids = await storage.listCompleted();
      const newest = ids.at(-1);
      if (newest === undefined || newest === lastSeen) continue;
      let info: CheckpointInfo;
      try {
        info = await inspectCheckpoint(storage, newest);
      } catch (error) {
        // Discarded while being read (a newer one completed): look again. Anything else fails.
        if (!(await storage.listCompleted()).includes(newest)) continue;
        throw error;
      }
      lastSeen = newest;
      timeline.push({ ...info, atMs: Date.now() - t0 });
      if (info.sourceNext >= MIN_LIVE_KEYS && info.sharedBytes >= MIN_STATE_BYTES) {
        first.child.kill('SIGKILL');
        killedAfter = info;
      }
    }
    const firstExit = await first.done;
    const firstMs = Date.now() - t0;
    const peaksOf = (r: Run, ms: number) => ({ ms, vmRssMiB: MiB(r.peaks.vmRss), rssAnonMiB: MiB(r.peaks.rssAnon), rssFileMiB: MiB(r.peaks.rssFile), samples: r.peaks.samples });
    // Logged before any assertion, so a failure shows the timeline too.
    console.log(
      JSON.stringify({
        test: 'larger-than-memory run 1',
        exit: firstExit,
        stateDirPeakMiB: MiB(stateDirPeak),
        checkpointsSeen: timeline.map((c) => ({ id: c.id, atMs: c.atMs, sourceNext: c.sourceNext, sharedFiles: c.sharedFiles, sharedMiB: MiB(c.sharedBytes) })),
        run1: peaksOf(first, firstMs),
      }),
    );
    expect(killedAfter, `run 1 ended (exit ${firstExit}) before a checkpoint of ${MIN_LIVE_KEYS} keys completed\n${first.stderr()}`).toBeDefined();
    expect(firstExit).toBe(null); // killed, not finished

    // The checkpoint the second run restores: the newest completed one (normally the one seen above).
    const restored = await inspectCheckpoint(storage, (await storage.listCompleted()).at(-1)!);
    const liveStateBytes = Math.min(restored.sourceNext, KEYS) * PAYLOAD_BYTES;
    const checkpointDirBytes = diskUsage(join(dir, 'chk'));

    // Run 2: resumes from the checkpoint directory and finishes.
    const t1 = Date.now();
    const second = start('0,0,0');
    const secondExit = await second.done;
    const secondMs = Date.now() - t1;
    const committed = secondExit === 0 ? await readCommittedJsonLines<LargeStateRecord>(join(dir, 'out')) : [];
    const errors = committed.filter((r) => r.error !== undefined);
    console.log(
      JSON.stringify({
        test: 'larger-than-memory',
        heapLimitMiB: HEAP_MB,
        keys: KEYS,
        payloadBytes: PAYLOAD_BYTES,
        liveStateMiB: MiB(liveStateBytes),
        restoredCheckpoint: { id: restored.id, sourceNext: restored.sourceNext, sharedFiles: restored.sharedFiles, sharedMiB: MiB(restored.sharedBytes) },
        checkpointDirMiBAtKill: MiB(checkpointDirBytes),
        committedRecords: committed.length,
        errorRecords: errors.length,
        run1: peaksOf(first, firstMs),
        run2: peaksOf(second, secondMs),
        totalMs: Date.now() - t0,
      }),
    );

    // The restored checkpoint's barrier was late in pass 1 or in pass 2: at least MIN_LIVE_KEYS
    // payloads live (4x the heap limit), and pass 3 (all after the restore) checks every key's state.
    expect(restored.sourceNext).toBeGreaterThanOrEqual(MIN_LIVE_KEYS);
    expect(restored.sourceNext).toBeLessThan(2 * KEYS);
    expect(liveStateBytes).toBeGreaterThanOrEqual(MIN_STATE_BYTES);
    expect(restored.sharedBytes).toBeGreaterThanOrEqual(MIN_STATE_BYTES);

    expect(secondExit, second.stderr()).toBe(0);
    expect(second.stderr()).toMatch(/Keyed state at the end: 0 keys, 0 entries/);

    // Exactly once: every sampled record committed once, no record reporting wrong state.
    expect(errors.slice(0, 10)).toEqual([]);
    committed.sort((a, b) => a.i - b.i);
    expect(committed).toEqual(expectedSamples(KEYS, SAMPLE));

    // Memory: sampled every 100 ms in both runs; the anonymous part stays bounded.
    expect(first.peaks.samples).toBeGreaterThan(10);
    expect(second.peaks.samples).toBeGreaterThan(10);
    expect(first.peaks.rssAnon).toBeLessThan(MAX_RSS_ANON_BYTES);
    expect(second.peaks.rssAnon).toBeLessThan(MAX_RSS_ANON_BYTES);
  }, 300_000);
});
