// Savepoints through the API: taken while the job runs (nothing committed by them), stop with a
// savepoint (sinks commit, the job ends), restored at another parallelism into a job that starts
// from them; the savepoint directory is never modified by the jobs restored from it.
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ListState, ListStateDescriptor, type RuntimeContext, StreamEnvironment } from '../../../src/index.js';
import { TransactionalJsonLinesSink, readCommittedJsonLines } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { type CountedEvent, RunningCount, countsPerKey } from '../../fixtures/running-count.js';
import { treeHash } from '../../fixtures/checkpoint-dirs.js';
import { rekeySavepoint } from '../../../src/checkpoint/savepoint-rekey.js';

const EVENTS = 20_000;
const KEYS = 200;
const keyOf = (i: number) => `k${(i * 7919) % KEYS}`;

function countingJob(options: { parallelism: number; checkpoints: string; out: string; fromSavepoint?: string; eventsPerSecond?: number; stateBackend?: 'heap' | 'disk'; maxParallelism?: number }) {
  const env = StreamEnvironment.create({
    parallelism: options.parallelism,
    maxParallelism: options.maxParallelism,
    checkpointing: { directory: options.checkpoints, intervalMs: 100 },
    fromSavepoint: options.fromSavepoint,
    stateBackend: options.stateBackend,
    log: () => {},
  });
  env
    .fromGenerator((i) => ({ key: keyOf(i), i }), { count: EVENTS, ...(options.eventsPerSecond === undefined ? {} : { eventsPerSecond: options.eventsPerSecond }) })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(new TransactionalJsonLinesSink<CountedEvent>(options.out))
    .uid('sink');
  return env;
}


/** Per key, how many events the whole stream has. */
const totals = new Map<string, number>();
for (let i = 0; i < EVENTS; i++) totals.set(keyOf(i), (totals.get(keyOf(i)) ?? 0) + 1);

describe('savepoints', () => {
  const dirs: string[] = [];
  const scratch = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'floe-savepoint-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('stops a job with a savepoint and resumes it from there at another parallelism: every record committed once, counts continue', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    const client = countingJob({ parallelism: 2, checkpoints: join(dir, 'chk-a'), out, eventsPerSecond: 10_000 }).executeAsync('savepoint-counts');
    await new Promise((r) => setTimeout(r, 600));
    const intermediate = await client.triggerSavepoint(join(dir, 'savepoints'));
    const final = await client.stopWithSavepoint(join(dir, 'savepoints'));
    const first = await client.result;
    expect(first.stoppedWithSavepoint).toBe(final);
    expect(first.savepoints).toEqual([intermediate, final]);
    for (const sp of [intermediate, final]) {
      expect(sp.startsWith(join(dir, 'savepoints', 'savepoint-savepoint-counts-'))).toBe(true);
      const envelope = JSON.parse(readFileSync(join(sp, '_metadata'), 'utf8').split('\n').slice(1).join('\n'));
      expect(envelope.kind).toBe('savepoint');
      expect(envelope.files.every((f: { name: string }) => !f.name.includes('/'))).toBe(true); // self-contained
    }
    const before = treeHash(final);
    const committedBefore = (await readCommittedJsonLines<CountedEvent>(out)).length;
    expect(committedBefore).toBeGreaterThan(0);
    expect(committedBefore).toBeLessThan(EVENTS);

    await countingJob({ parallelism: 3, checkpoints: join(dir, 'chk-b'), out, fromSavepoint: final }).execute('savepoint-counts');
    const committed = await readCommittedJsonLines<CountedEvent>(out);
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    for (const [key, ns] of countsPerKey(committed)) expect(ns, key).toEqual(Array.from({ length: totals.get(key)! }, (_, j) => j + 1));
    expect(treeHash(final)).toBe(before);
  }, 60_000);

  it.each([512, 16])('rewrites a savepoint into %i key groups (floe savepoint rekey) and restores it with that max parallelism, exactly once', async (maxParallelism) => {
    const dir = scratch();
    const out = join(dir, 'out');
    const client = countingJob({ parallelism: 2, checkpoints: join(dir, 'chk-a'), out, eventsPerSecond: 10_000 }).executeAsync('savepoint-counts');
    await new Promise((r) => setTimeout(r, 500));
    const savepoint = await client.stopWithSavepoint(join(dir, 'savepoints'));
    await client.result;
    const before = treeHash(savepoint);
    const rekeyed = join(dir, 'rekeyed');
    const result = await rekeySavepoint({ from: savepoint, to: rekeyed, maxParallelism });
    expect(result.operators).toEqual([expect.objectContaining({ uid: 'count', from: 128, to: maxParallelism })]);
    expect(result.operators[0].entries).toBe(KEYS);
    expect(treeHash(savepoint)).toBe(before);
    await countingJob({ parallelism: 3, maxParallelism, checkpoints: join(dir, 'chk-b'), out, fromSavepoint: rekeyed }).execute('savepoint-counts');
    const committed = await readCommittedJsonLines<CountedEvent>(out);
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    for (const [key, ns] of countsPerKey(committed)) expect(ns, key).toEqual(Array.from({ length: totals.get(key)! }, (_, j) => j + 1));
    await expect(rekeySavepoint({ from: savepoint, to: rekeyed, maxParallelism })).rejects.toThrow(/EEXIST|exists/);
  }, 60_000);

  it('is self-contained and relocatable: a disk-backend savepoint moved elsewhere restores into the heap backend, exactly once', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    const client = countingJob({ parallelism: 2, checkpoints: join(dir, 'chk-a'), out, eventsPerSecond: 10_000, stateBackend: 'disk' }).executeAsync('savepoint-counts');
    await new Promise((r) => setTimeout(r, 500));
    const savepoint = await client.stopWithSavepoint(join(dir, 'savepoints'));
    await client.result;
    const moved = join(dir, 'elsewhere', 'copy');
    cpSync(savepoint, moved, { recursive: true });
    rmSync(join(dir, 'savepoints'), { recursive: true });
    rmSync(join(dir, 'chk-a'), { recursive: true }); // nothing of the old job is left but its output
    await countingJob({ parallelism: 3, checkpoints: join(dir, 'chk-b'), out, fromSavepoint: moved, stateBackend: 'heap' }).execute('savepoint-counts');
    const committed = await readCommittedJsonLines<CountedEvent>(out);
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    for (const [key, ns] of countsPerKey(committed)) expect(ns, key).toEqual(Array.from({ length: totals.get(key)! }, (_, j) => j + 1));
  }, 60_000);

  it('restores an intermediate savepoint (which committed nothing) into a new job at parallelism 1', async () => {
    const dir = scratch();
    const client = countingJob({ parallelism: 2, checkpoints: join(dir, 'chk-a'), out: join(dir, 'out-a'), eventsPerSecond: 10_000 }).executeAsync('savepoint-counts');
    await new Promise((r) => setTimeout(r, 500));
    const savepoint = await client.triggerSavepoint(join(dir, 'savepoints'));
    client.cancel();
    await expect(client.result).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
    const before = treeHash(savepoint);

    const out = join(dir, 'out-b');
    await countingJob({ parallelism: 1, checkpoints: join(dir, 'chk-b'), out, fromSavepoint: savepoint }).execute('savepoint-counts');
    const committed = await readCommittedJsonLines<CountedEvent>(out);
    expect(committed.length).toBeGreaterThan(0);
    expect(committed.length).toBeLessThan(EVENTS);
    // The records after the savepoint's position, each once, and every key's count continues up to its total.
    const is = committed.map((r) => r.i);
    expect(new Set(is).size).toBe(is.length);
    for (const [key, ns] of countsPerKey(committed)) {
      expect(ns.at(-1), key).toBe(totals.get(key));
      expect(ns, key).toEqual(Array.from({ length: ns.length }, (_, j) => ns[0] + j));
    }
    expect(treeHash(savepoint)).toBe(before);
  }, 60_000);

  it('refuses a savepoint that was interrupted while it was written, and a directory that does not exist', async () => {
    const dir = scratch();
    const client = countingJob({ parallelism: 1, checkpoints: join(dir, 'chk-a'), out: join(dir, 'out-a'), eventsPerSecond: 10_000 }).executeAsync('savepoint-counts');
    await new Promise((r) => setTimeout(r, 300));
    const savepoint = await client.triggerSavepoint(join(dir, 'savepoints'));
    client.cancel();
    await client.result.catch(() => {});
    rmSync(join(savepoint, '_metadata')); // what a kill -9 during the write leaves: data files, no _metadata
    const partial = countingJob({ parallelism: 1, checkpoints: join(dir, 'chk-b'), out: join(dir, 'out-b'), fromSavepoint: savepoint });
    await expect(partial.execute('savepoint-counts')).rejects.toThrow(/not a complete savepoint/);
    const missing = countingJob({ parallelism: 1, checkpoints: join(dir, 'chk-c'), out: join(dir, 'out-c'), fromSavepoint: join(dir, 'nope') });
    await expect(missing.execute('savepoint-counts')).rejects.toThrow(/does not exist/);
    expect(existsSync(join(dir, 'out-b'))).toBe(false);
  }, 60_000);

  it('needs checkpointing to take a savepoint', async () => {
    const env = StreamEnvironment.create({ log: () => {} });
    env.fromGenerator((i) => i, { count: 1_000_000, eventsPerSecond: 1000 }).addSink(() => {});
    const client = env.executeAsync('no-checkpoints');
    await expect(client.triggerSavepoint(scratch())).rejects.toThrow(/savepoints need it/);
    client.cancel();
    await client.result.catch(() => {});
  });
});

describe('restoring a bad savepoint', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** A savepoint of the counting job (p=2), taken by stopping it. */
  async function takeSavepoint(): Promise<{ dir: string; savepoint: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'floe-bad-savepoint-'));
    dirs.push(dir);
    const client = countingJob({ parallelism: 2, checkpoints: join(dir, 'chk-a'), out: join(dir, 'out-a'), eventsPerSecond: 20_000 }).executeAsync('savepoint-counts');
    await new Promise((r) => setTimeout(r, 300));
    const savepoint = await client.stopWithSavepoint(join(dir, 'savepoints'));
    await client.result;
    return { dir, savepoint };
  }

  /** Restores `savepoint` into `build`'s job and expects `error`; the savepoint is not modified. */
  async function expectRefused(savepoint: string, build: (env: StreamEnvironment) => void, error: RegExp, options: { maxParallelism?: number } = {}): Promise<void> {
    const before = treeHash(savepoint);
    const scratch = mkdtempSync(join(tmpdir(), 'floe-bad-savepoint-run-'));
    dirs.push(scratch);
    const env = StreamEnvironment.create({ checkpointing: { directory: join(scratch, 'chk'), intervalMs: 100 }, fromSavepoint: savepoint, log: () => {}, restartStrategy: { type: 'none' }, ...options });
    build(env);
    await expect(env.execute('savepoint-counts')).rejects.toThrow(error);
    expect(treeHash(savepoint)).toBe(before);
  }

  const sameJob = (env: StreamEnvironment, out: string) =>
    env
      .fromGenerator((i) => ({ key: keyOf(i), i }), { count: EVENTS })
      .uid('events')
      .keyBy((e) => e.key)
      .map(new RunningCount())
      .uid('count')
      .addSink(new TransactionalJsonLinesSink<CountedEvent>(out))
      .uid('sink');

  it('refuses each kind of bad input with an error that says what is wrong, and modifies nothing', async () => {
    const { dir, savepoint } = await takeSavepoint();
    const copy = (name: string): string => {
      const target = join(dir, name);
      cpSync(savepoint, target, { recursive: true });
      return target;
    };
    // A savepoint of another job: none of its operators are here.
    await expectRefused(savepoint, (env) => env.fromElements(1, 2).uid('other-source').map((x) => x).uid('other-map').addSink(() => {}), /None of its state belongs to an operator of this job/);
    // An unknown format version.
    const newer = copy('newer');
    const metadata = readFileSync(join(newer, '_metadata'), 'utf8');
    writeFileSync(join(newer, '_metadata'), metadata.replace(/^FLOE-CHECKPOINT 1 /, 'FLOE-CHECKPOINT 9 '));
    await expectRefused(newer, (env) => sameJob(env, join(dir, 'o1')), /format version 9 was written by a newer Floe/);
    // A missing and a corrupt data file, named.
    const missing = copy('missing');
    const stateFile = readdirSync(missing).find((n) => n.startsWith('count') || n.endsWith('.state'))!;
    rmSync(join(missing, stateFile));
    await expectRefused(missing, (env) => sameJob(env, join(dir, 'o2')), new RegExp(`${stateFile}: it is missing`));
    const corrupt = copy('corrupt');
    const bytes = readFileSync(join(corrupt, stateFile));
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(join(corrupt, stateFile), bytes);
    await expectRefused(corrupt, (env) => sameJob(env, join(dir, 'o3')), new RegExp(`${stateFile}: checksum mismatch`));
    // Another max parallelism, set explicitly.
    await expectRefused(savepoint, (env) => sameJob(env, join(dir, 'o4')), /operator 'count' has max parallelism 256, but the checkpoint or savepoint being restored was taken with max parallelism 128[\s\S]*floe savepoint rekey/, { maxParallelism: 256 });
    // A state that changed kind (value -> list).
    await expectRefused(
      savepoint,
      (env) =>
        env
          .fromGenerator((i) => ({ key: keyOf(i), i }), { count: EVENTS })
          .uid('events')
          .keyBy((e) => e.key)
          .map({
            count: undefined as unknown as ListState<number>,
            open(ctx: RuntimeContext) {
              this.count = ctx.getListState(new ListStateDescriptor<number>('count'));
            },
            map(e: { key: string; i: number }) {
              this.count.add(e.i);
              return e;
            },
          })
          .uid('count')
          .addSink(() => {})
          .uid('sink'),
      /'count'[\s\S]*value[\s\S]*list|list[\s\S]*value/,
    );
  }, 60_000);
});
