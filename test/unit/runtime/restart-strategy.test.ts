import { describe, expect, it } from 'vitest';
import { createRestartStrategy, defaultRestartStrategy } from '../../../src/runtime/restart-strategy.js';

describe('restart strategies', () => {
  it('none never restarts', () => {
    expect(createRestartStrategy({ type: 'none' }).onFailure(0)).toBeUndefined();
  });

  it('fixed delay restarts a fixed number of times with the same delay (Flink default: 1 attempt, 1 s)', () => {
    const s = createRestartStrategy({ type: 'fixed-delay' });
    expect(s.onFailure(0)).toBe(1000);
    expect(s.onFailure(1)).toBeUndefined();
    const three = createRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 5 });
    expect([three.onFailure(0), three.onFailure(0), three.onFailure(0), three.onFailure(0)]).toEqual([5, 5, 5, undefined]);
  });

  it('exponential delay grows by the multiplier up to the maximum and resets after a quiet period', () => {
    const s = createRestartStrategy({ type: 'exponential-delay', jitterFactor: 0 });
    const delays = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((t) => s.onFailure(t));
    expect(delays.slice(0, 4)).toEqual([1000, 1500, 2250, 3375]);
    expect(Math.max(...(delays as number[]))).toBe(60_000);
    expect(s.onFailure(11 + 3_600_000)).toBe(1000);
  });

  it('exponential delay jitters within the jitter factor', () => {
    const low = createRestartStrategy({ type: 'exponential-delay' }, () => 0);
    const high = createRestartStrategy({ type: 'exponential-delay' }, () => 1);
    expect(low.onFailure(0)).toBe(900);
    expect(high.onFailure(0)).toBe(1100);
  });

  it('failure rate gives up when too many failures fall into the interval', () => {
    const s = createRestartStrategy({ type: 'failure-rate', maxFailuresPerInterval: 2, failureRateIntervalMs: 1000, delayMs: 7 });
    expect(s.onFailure(0)).toBe(7);
    expect(s.onFailure(500)).toBe(7);
    expect(s.onFailure(900)).toBeUndefined();
    const t = createRestartStrategy({ type: 'failure-rate', maxFailuresPerInterval: 2, failureRateIntervalMs: 1000, delayMs: 7 });
    expect([t.onFailure(0), t.onFailure(500), t.onFailure(1600)]).toEqual([7, 7, 7]);
  });

  it('defaults to exponential delay with checkpointing and to none without (Flink 1.19+)', () => {
    expect(defaultRestartStrategy(true).type).toBe('exponential-delay');
    expect(defaultRestartStrategy(false).type).toBe('none');
  });
});
