import { describe, expect, it } from 'vitest';
import { StreamEnvironment } from '../../../src/index.js';

describe('cancelling during a restart delay', () => {
  it('ends the job at once with JOB_CANCELLED instead of waiting out the delay', async () => {
    const clients: Array<ReturnType<StreamEnvironment['executeAsync']>> = [];
    const logs: string[] = [];
    const env = StreamEnvironment.create({
      restartStrategy: { type: 'fixed-delay', attempts: 5, delayMs: 10 * 60_000 },
      log: (m) => {
        logs.push(m);
        // The first restart is scheduled: cancel while the job waits 10 minutes for it.
        if (m.startsWith('[restart]')) queueMicrotask(() => clients[0].cancel());
      },
    });
    env
      .fromElements(1, 2, 3)
      .map((x) => {
        if (x === 2) throw new Error('flaky dependency');
        return x;
      })
      .addSink(() => {});
    const client = env.executeAsync('restart-delay');
    clients.push(client);
    await expect(client.result).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
    expect(logs.filter((m) => m.startsWith('[restart]'))).toHaveLength(1);
  });
});
