import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../../src/index.js';
import { awaitOperation, callJob } from '../../../src/control/control-client.js';
import { startControlServer, type ControlOperation } from '../../../src/control/control-server.js';
import { findJob, listJobs, registerJob, type RegisteredJob } from '../../../src/control/job-registry.js';

describe('the control endpoint', () => {
  const dirs: string[] = [];
  const scratch = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'floe-control-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    delete process.env.FLOE_HOME;
  });

  async function runningJob() {
    const dir = scratch();
    const env = StreamEnvironment.create({ checkpointing: { directory: join(dir, 'chk'), intervalMs: 60_000 }, log: () => {} });
    env
      .fromGenerator((i) => ({ k: i % 10, i }), { count: 10_000_000, eventsPerSecond: 20_000 })
      .uid('gen')
      .keyBy((e) => e.k)
      .reduce((a, b) => ({ k: a.k, i: a.i + b.i }))
      .uid('sum')
      .addSink(() => {});
    const client = env.executeAsync('control-test');
    const server = await startControlServer(client, { jobId: 'abcd1234', savepointDirectory: join(dir, 'savepoints'), startedAt: new Date().toISOString() });
    const job: RegisteredJob = { id: 'abcd1234', name: 'control-test', pid: process.pid, port: server.port, token: server.token, startedAt: '', savepointDirectory: undefined };
    return { client, server, job, dir };
  }

  it('answers only requests that carry the token, on 127.0.0.1', async () => {
    const { client, server, job } = await runningJob();
    await expect(callJob({ ...job, token: 'wrong' }, 'GET', '/v1/job')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const info = await callJob<{ id: string; name: string; pid: number; metrics: { sourceRecords: number } }>(job, 'GET', '/v1/job');
    expect(info).toMatchObject({ id: 'abcd1234', name: 'control-test', pid: process.pid });
    await expect(callJob(job, 'GET', '/v1/nothing')).rejects.toThrow(/No route GET \/v1\/nothing/);
    client.cancel();
    await client.result.catch(() => {});
    await server.close();
  });

  it('takes a savepoint into the default directory, then stops the job with one', async () => {
    const { client, server, job, dir } = await runningJob();
    const op = await callJob<ControlOperation>(job, 'POST', '/v1/savepoints', {});
    expect(op).toMatchObject({ kind: 'savepoint', status: 'in-progress' });
    const done = await awaitOperation(job, op, () => {}, 20);
    expect(done.directory?.startsWith(join(dir, 'savepoints', 'savepoint-control-test-'))).toBe(true);
    const stop = await callJob<ControlOperation>(job, 'POST', '/v1/stop', { savepoint: true });
    const stopped = await awaitOperation(job, stop, () => {}, 20);
    const result = await client.result;
    expect(result.stoppedWithSavepoint).toBe(stopped.directory);
    await server.close(1000);
  });

  it('keeps a registry of running jobs and finds one by id prefix or name', () => {
    process.env.FLOE_HOME = scratch();
    const base = { port: 1, token: 't', startedAt: new Date().toISOString(), savepointDirectory: undefined };
    const removeA = registerJob({ ...base, id: 'aaaa1111', name: '/jobs/orders.ts', pid: process.pid });
    const removeB = registerJob({ ...base, id: 'bbbb2222', name: 'payments', pid: process.pid });
    registerJob({ ...base, id: 'dead0000', name: 'gone', pid: 2 ** 22 + 12345 }); // no such process: stale
    expect(listJobs().map((j) => j.id).sort()).toEqual(['aaaa1111', 'bbbb2222']);
    expect(findJob('aaaa').id).toBe('aaaa1111');
    expect(findJob('orders').id).toBe('aaaa1111');
    expect(findJob('payments').id).toBe('bbbb2222');
    expect(() => findJob('gone')).toThrow(/No running job is named 'gone'; running: /);
    removeA();
    removeB();
    expect(() => findJob('orders')).toThrow(/no Floe job runs on this machine/);
  });
});
