import { describe, expect, it } from 'vitest';
import { LocalChannel } from '../../../src/runtime/channel.js';

const batch = { kind: 'records' as const, values: [1], keys: undefined, timestamps: undefined };

describe('LocalChannel', () => {
  it('makes a producer wait while full and wakes it when the consumer takes an element', async () => {
    const channel = new LocalChannel(1, 'a -> b');
    channel.push(batch);
    let woken = false;
    const waiting = channel.whenWritable().then(() => (woken = true));
    await new Promise((r) => setImmediate(r));
    expect(woken).toBe(false);
    channel.poll();
    await waiting;
    expect(woken).toBe(true);
  });

  it('once released (cancellation), never lets a producer wait again, also one that asks only afterwards', async () => {
    const channel = new LocalChannel(1, 'a -> b');
    channel.push(batch);
    const before = channel.whenWritable();
    channel.releaseWaiters();
    await before;
    // The producer was busy (a checkpoint) when it was cancelled and asks for room now: its consumer is gone.
    channel.push(batch);
    await expect(Promise.race([channel.whenWritable().then(() => 'resolved'), new Promise((r) => setTimeout(() => r('hung'), 50))])).resolves.toBe('resolved');
  });
});
