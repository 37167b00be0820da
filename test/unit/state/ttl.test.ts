// State TTL on every primitive with every update type and visibility (flink-anchor.md section 7),
// driven by a manual clock.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { KeyGroupRange } from '../../../src/core/key-groups.js';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../../src/state/descriptors.js';
import { HeapStateBackend } from '../../../src/state/heap/heap-state-backend.js';
import { StateTtlConfig, StateVisibility, UpdateType } from '../../../src/state/ttl/state-ttl-config.js';

const TTL = 100;

function setup(_ttl: StateTtlConfig) {
  const clock = new ManualClock(1000);
  const backend = new HeapStateBackend().createKeyedStateBackend({
    operator: 'ttl-op',
    subtask: 0,
    parallelism: 1,
    maxParallelism: 128,
    keyGroupRange: KeyGroupRange.of(0, 127),
    ttlClock: clock,
  });
  backend.setCurrentKey('k');
  return { clock, backend };
}

/** Each primitive reduced to: write one thing, read it (undefined when not visible). */
const primitives = {
  value: (ttl: StateTtlConfig, b: ReturnType<typeof setup>['backend']) => {
    const s = b.getState(new ValueStateDescriptor<string>('s', { ttl }));
    return { write: () => s.update('x'), read: () => s.value(), name: 's' };
  },
  list: (ttl: StateTtlConfig, b: ReturnType<typeof setup>['backend']) => {
    const s = b.getListState(new ListStateDescriptor<string>('s', { ttl }));
    return { write: () => s.add('x'), read: () => s.get()[0], name: 's' };
  },
  map: (ttl: StateTtlConfig, b: ReturnType<typeof setup>['backend']) => {
    const s = b.getMapState(new MapStateDescriptor<string, string>('s', { ttl }));
    return { write: () => s.put('e', 'x'), read: () => s.get('e'), name: 's' };
  },
  reducing: (ttl: StateTtlConfig, b: ReturnType<typeof setup>['backend']) => {
    const s = b.getReducingState(new ReducingStateDescriptor<string>('s', { ttl, reduce: (a, c) => a + c }));
    return { write: () => s.add('x'), read: () => s.get(), name: 's' };
  },
  aggregating: (ttl: StateTtlConfig, b: ReturnType<typeof setup>['backend']) => {
    const s = b.getAggregatingState(
      new AggregatingStateDescriptor<string, string, string>('s', {
        ttl,
        aggregate: { createAccumulator: () => '', add: (v, acc) => acc + v, getResult: (acc) => acc },
      }),
    );
    return { write: () => s.add('x'), read: () => s.get(), name: 's' };
  },
};

const combos = Object.keys(primitives).flatMap((kind) =>
  [UpdateType.OnCreateAndWrite, UpdateType.OnReadAndWrite].flatMap((updateType) =>
    [StateVisibility.NeverReturnExpired, StateVisibility.ReturnExpiredIfNotCleanedUp].map((visibility) => ({
      kind: kind as keyof typeof primitives,
      updateType,
      visibility,
    })),
  ),
);

describe.each(combos)('TTL on $kind state, $updateType, $visibility', ({ kind, updateType, visibility }) => {
  const ttl = new StateTtlConfig({ timeToLiveMs: TTL, updateType, stateVisibility: visibility, incrementalCleanup: false });

  it('is visible before the time to live has passed', () => {
    const { clock, backend } = setup(ttl);
    const s = primitives[kind](ttl, backend);
    s.write();
    clock.advance(TTL - 1);
    expect(s.read()).toBe('x');
  });

  it('expires exactly at last access + time to live, and is removed by that read', () => {
    const { clock, backend } = setup(ttl);
    const s = primitives[kind](ttl, backend);
    s.write();
    clock.advance(TTL);
    expect(s.read()).toBe(visibility === StateVisibility.ReturnExpiredIfNotCleanedUp ? 'x' : undefined);
    expect(s.read()).toBeUndefined(); // the expired value was cleaned up by the first read
    expect(backend.numKeys(s.name)).toBe(0);
  });

  it(`${updateType === UpdateType.OnReadAndWrite ? 'refreshes' : 'does not refresh'} the timestamp on read`, () => {
    const { clock, backend } = setup(ttl);
    const s = primitives[kind](ttl, backend);
    s.write();
    clock.advance(TTL - 10);
    expect(s.read()).toBe('x');
    clock.advance(20); // TTL + 10 after the write, 20 after the read
    const expectedVisible = updateType === UpdateType.OnReadAndWrite || visibility === StateVisibility.ReturnExpiredIfNotCleanedUp;
    expect(s.read()).toBe(expectedVisible ? 'x' : undefined);
  });

  it('refreshes the timestamp on write', () => {
    const { clock, backend } = setup(ttl);
    const s = primitives[kind](ttl, backend);
    s.write();
    clock.advance(TTL - 10);
    s.write();
    clock.advance(20);
    expect(s.read()).toBeDefined();
  });
});

describe('TTL on collections expires each element or entry on its own', () => {
  const ttl = StateTtlConfig.newBuilder(TTL).disableCleanupInBackground().build();

  it('drops expired list elements and keeps younger ones', () => {
    const { clock, backend } = setup(ttl);
    const l = backend.getListState(new ListStateDescriptor<string>('l', { ttl }));
    l.add('old');
    clock.advance(60);
    l.add('young');
    clock.advance(50);
    expect(l.get()).toEqual(['young']);
    clock.advance(100);
    expect(l.get()).toEqual([]);
    expect(backend.numKeys('l')).toBe(0);
  });

  it('drops expired map entries from get, iteration and contains', () => {
    const { clock, backend } = setup(ttl);
    const m = backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl }));
    m.put('old', 1);
    clock.advance(60);
    m.put('young', 2);
    clock.advance(50);
    expect(m.contains('old')).toBe(false);
    expect([...m.entries()]).toEqual([['young', 2]]);
    expect(m.isEmpty()).toBe(false);
    clock.advance(100);
    expect(m.isEmpty()).toBe(true);
  });

  it('ignores an expired accumulator when adding (a new aggregate starts)', () => {
    const { clock, backend } = setup(ttl);
    const r = backend.getReducingState(new ReducingStateDescriptor<number>('r', { ttl, reduce: (a, b) => a + b }));
    r.add(5);
    clock.advance(TTL);
    r.add(1);
    expect(r.get()).toBe(1);
  });

  it('ignores the descriptor default value when TTL is on (as Flink)', () => {
    const { backend } = setup(ttl);
    const v = backend.getState(new ValueStateDescriptor<number>('v', { ttl, defaultValue: 7 }));
    expect(v.value()).toBeUndefined();
  });
});

describe('incremental TTL cleanup', () => {
  function fill(ttl: StateTtlConfig, keys: number) {
    const s = setup(ttl);
    const v = s.backend.getState(new ValueStateDescriptor<number>('v', { ttl }));
    for (let i = 0; i < keys; i++) {
      s.backend.setCurrentKey(`k${i}`);
      v.update(i);
    }
    return { ...s, v };
  }

  it('removes expired entries of keys that are never read again, a few per access', () => {
    const ttl = StateTtlConfig.newBuilder(TTL).cleanupIncrementally(5, false).build();
    const { clock, backend, v } = fill(ttl, 20);
    clock.advance(TTL);
    backend.setCurrentKey('fresh');
    v.update(1); // one access: checks 5 entries
    expect(backend.numKeys('v')).toBe(20 - 5 + 1);
    for (let i = 0; i < 10; i++) v.value();
    expect(backend.entries('v').map((e) => e.key)).toEqual(['fresh']);
  });

  it('also cleans for every processed record when asked', () => {
    const ttl = StateTtlConfig.newBuilder(TTL).cleanupIncrementally(3, true).build();
    const { clock, backend } = fill(ttl, 9);
    clock.advance(TTL);
    backend.onRecordProcessed();
    backend.onRecordProcessed();
    expect(backend.numKeys('v')).toBe(3);
    backend.onRecordProcessed();
    expect(backend.numKeys('v')).toBe(0);
  });

  it('cleans expired list elements and map entries, not only whole values', () => {
    const ttl = StateTtlConfig.newBuilder(TTL).cleanupIncrementally(10, true).build();
    const { clock, backend } = setup(ttl);
    const l = backend.getListState(new ListStateDescriptor<string>('l', { ttl }));
    const m = backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl }));
    l.add('old');
    m.put('old', 1);
    clock.advance(60);
    l.add('young');
    m.put('young', 2);
    clock.advance(50);
    backend.onRecordProcessed();
    expect(backend.entries('l')[0].value).toEqual(['young']);
    expect(backend.entries('m')[0].value).toEqual(new Map([['young', 2]]));
  });

  it('keeps expired entries when background cleanup is disabled', () => {
    const ttl = StateTtlConfig.newBuilder(TTL).disableCleanupInBackground().build();
    const { clock, backend, v } = fill(ttl, 10);
    clock.advance(TTL * 2);
    backend.setCurrentKey('x');
    for (let i = 0; i < 20; i++) v.value();
    backend.onRecordProcessed();
    expect(backend.numKeys('v')).toBe(10);
  });
});

describe('StateTtlConfig', () => {
  it('has Flink defaults and rejects a non-positive time to live', () => {
    const c = StateTtlConfig.newBuilder(1000).build();
    expect(c.updateType).toBe('OnCreateAndWrite');
    expect(c.stateVisibility).toBe('NeverReturnExpired');
    expect(c.incrementalCleanup).toEqual({ cleanupSize: 5, runCleanupForEveryRecord: false });
    expect(() => StateTtlConfig.newBuilder(0).build()).toThrow(/positive/);
  });
});
