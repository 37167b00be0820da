// A checkpoint directory belongs to one running job, and a job that starts removes what no kept
// checkpoint needs: abandoned attempts, checkpoints beyond `retained`, unreferenced shared files.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileCheckpointStorage } from '../../../src/checkpoint/files/file-checkpoint-storage.js';
import { isRetriable } from '../../../src/core/errors.js';
import { TransactionalJsonLinesSink, readCommittedJsonLines } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { StreamEnvironment } from '../../../src/index.js';
import { RunningCount } from '../../fixtures/running-count.js';


function job(dir: string, options: { backend: 'heap' | 'disk'; events?: number; rate?: number; checkpointing?: boolean }) {
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    parallelism: 2,
    stateBackend: options.backend === 'disk' ? { kind: 'disk', dir: join(dir, 'state') } : 'heap',
    checkpointing: options.checkpointing === false ? undefined : { directory: join(dir, 'chk'), intervalMs: 30 },
    restore: options.checkpointing === false ? undefined : 'latest',
    log: (m) => logs.push(m),
  });
  env
    .fromGenerator((i) => ({ key: `k${(i * 7919) % 31}`, i }), { count: options.events ?? 3000, eventsPerSecond: options.rate })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(new TransactionalJsonLinesSink(join(dir, 'out')))
    .uid('sink');
  return { env, logs };
}

const chkIds = (chk: string) =>
  readdirSync(chk)
    .filter((n) => /^chk-\d+$/.test(n))
    .map((n) => Number(n.slice(4)))
    .sort((a, b) => a - b);

describe.each(['heap', 'disk'] as const)('the checkpoint directory at start (%s state backend)', (backend) => {
  it('removes abandoned attempts, checkpoints beyond retained and shared files no kept checkpoint lists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-chk-gc-'));
    const chk = join(dir, 'chk');
    await job(dir, { backend, rate: 2000 }).env.execute('first'); // about 1.5 s: enough checkpoints to have ids below the retained ones
    const [older, newest] = chkIds(chk);
    expect(older).toBeGreaterThan(4);
    // What kills leave behind: completed checkpoints that piled up, an attempt without _metadata
    // (killed while writing it, or while deleting a subsumed one), and an orphan shared file.
    for (const id of [1, 2, 3]) cpSync(join(chk, `chk-${older}`), join(chk, `chk-${id}`), { recursive: true });
    mkdirSync(join(chk, 'chk-4'));
    writeFileSync(join(chk, 'chk-4', 'count_0.state'), 'half written');
    mkdirSync(join(chk, 'shared'), { recursive: true });
    writeFileSync(join(chk, 'shared', 'count-0-deadbeef-4-0.changelog.kv'), 'orphan');
    const abandoned = newest + 7;
    mkdirSync(join(chk, `chk-${abandoned}`));
    writeFileSync(join(chk, `chk-${abandoned}`, 'count_1.state'), 'never completed');

    const second = job(dir, { backend });
    await second.env.execute('second');
    expect(second.logs.join('\n')).toMatch(/removed \d+ checkpoint directories \(chk-1, chk-2, chk-3, chk-4, .*chk-\d+\) and \d+ shared file/);
    const left = chkIds(chk);
    expect(left.length).toBe(2); // retained: 2
    const created = left.filter((id) => id !== newest);
    expect(created.length).toBeGreaterThan(0);
    expect(created.every((id) => id > abandoned)).toBe(true); // new ids continue after the abandoned attempt
    expect(existsSync(join(chk, 'shared', 'count-0-deadbeef-4-0.changelog.kv'))).toBe(false);
    // Every shared file left is listed by a kept checkpoint.
    const storage = new FileCheckpointStorage(chk);
    const listed = new Set<string>();
    for (const id of left) for (const f of (await storage.readMetadata(id)).files) listed.add(f.name);
    const shared = existsSync(join(chk, 'shared')) ? readdirSync(join(chk, 'shared')).map((n) => `shared/${n}`) : [];
    expect(shared.filter((n) => !listed.has(n))).toEqual([]);
  });

  it('refuses a second job on the same checkpoint directory while the first runs, naming the holder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-chk-lock-'));
    const first = job(dir, { backend, events: 1_000_000, rate: 2000 }).env.executeAsync('first');
    const other = mkdtempSync(join(tmpdir(), 'floe-chk-lock-other-'));
    const second = StreamEnvironment.create({ checkpointing: { directory: join(dir, 'chk'), intervalMs: 30 }, restore: 'latest' });
    second.fromElements(1, 2, 3).addSink(new TransactionalJsonLinesSink(join(other, 'out')));
    const error = await second.execute('second').catch((e) => e);
    expect(error.code).toBe('CHECKPOINT_DIR_IN_USE');
    expect(error.message).toContain(`The checkpoint directory ${join(dir, 'chk')} is in use by process ${process.pid}`);
    expect(error.message).toContain('--checkpoint-dir');
    expect(existsSync(join(other, 'out'))).toBe(false);
    first.cancel();
    await first.result.catch(() => undefined);
    // Released when the first job ends: the directory can be used again.
    const third = job(dir, { backend, events: 100 });
    await third.env.execute('third');
  });
});

describe('the transactional sink without checkpointing', () => {
  it('fails at once, without restarts, when its output directory cannot be used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-2pc-proc-'));
    const logs: string[] = [];
    const env = StreamEnvironment.create({ checkpointing: { directory: join(dir, 'chk'), intervalMs: 30 }, log: (m) => logs.push(m) });
    env.fromElements(1, 2, 3).addSink(new TransactionalJsonLinesSink('/proc/floe-x/out'));
    const error = await env.execute('proc-sink').catch((e) => e);
    expect(isRetriable(error)).toBe(false);
    expect(error.message).toContain('The output directory of the transactional sink /proc/floe-x/out cannot be used');
    expect(logs.filter((l) => /restart \d+ in/.test(l))).toEqual([]);
  });


  it('commits everything at the end of a bounded input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-2pc-no-chk-'));
    const { env } = job(dir, { backend: 'heap', checkpointing: false });
    await env.execute('no-checkpoints');
    const committed = await readCommittedJsonLines<{ i: number }>(join(dir, 'out'));
    expect(committed.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(readdirSync(join(dir, 'out')).filter((n) => n.endsWith('.inprogress'))).toEqual([]);
  });
});
