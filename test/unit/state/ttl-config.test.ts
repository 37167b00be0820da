// StateTtlConfig: Flink's defaults and argument checks (pure).
import { describe, expect, it } from 'vitest';
import { StateTtlConfig } from '../../../src/state/ttl/state-ttl-config.js';

describe('StateTtlConfig', () => {
  it('has Flink defaults and rejects a non-positive time to live', () => {
    const c = StateTtlConfig.newBuilder(1000).build();
    expect(c.updateType).toBe('OnCreateAndWrite');
    expect(c.stateVisibility).toBe('NeverReturnExpired');
    expect(c.incrementalCleanup).toEqual({ cleanupSize: 5, runCleanupForEveryRecord: false });
    expect(() => StateTtlConfig.newBuilder(0).build()).toThrow(/positive/);
  });
});
