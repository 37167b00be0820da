// State TTL on every primitive with every update type and visibility (flink-anchor.md section 7),
// driven by a manual clock: a contract every keyed backend runs unchanged.
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { KeyGroupRange } from '../../src/core/key-groups.js';
import { concatChunks, restoredFromBytes, type KeyedSnapshotRunner } from '../../src/state/keyed-snapshot.js';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/state/descriptors.js';
import { StateTtlConfig, StateVisibility, UpdateType } from '../../src/state/ttl/state-ttl-config.js';

const TTL = 100;

export type TtlBackendFactory = (options: { clock: ManualClock; maxParallelism: number; keyGroupRange: KeyGroupRange }) => KeyedStateBackend;

/** Set by describeTtlContract before its tests run (vitest collects describe blocks synchronously). */
let create: TtlBackendFactory;

function setup() {
  const clock = new ManualClock(1000);
  const backend = create({ clock, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127) });
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

/** Writes a taken snapshot and restores it into a fresh backend on the same clock. */
async function restoreInto(runner: KeyedSnapshotRunner, clock: ManualClock): Promise<KeyedStateBackend> {
  const result = await runner.write();
  runner.release();
  const target = create({ clock, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127) });
  await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
  target.setCurrentKey('k');
  return target;
}

export function describeTtlContract(name: string, factory: TtlBackendFactory): void {
  describe(`${name} state backend TTL`, () => {
    beforeAll(() => {
      create = factory;
    });
    describe.each(combos)('TTL on $kind state, $updateType, $visibility', ({ kind, updateType, visibility }) => {
      const ttl = new StateTtlConfig({ timeToLiveMs: TTL, updateType, stateVisibility: visibility, incrementalCleanup: false });

      it('is visible before the time to live has passed', () => {
        const { clock, backend } = setup();
        const s = primitives[kind](ttl, backend);
        s.write();
        clock.advance(TTL - 1);
        expect(s.read()).toBe('x');
      });

      it('expires exactly at last access + time to live, and is removed by that read', () => {
        const { clock, backend } = setup();
        const s = primitives[kind](ttl, backend);
        s.write();
        clock.advance(TTL);
        expect(s.read()).toBe(visibility === StateVisibility.ReturnExpiredIfNotCleanedUp ? 'x' : undefined);
        expect(s.read()).toBeUndefined(); // the expired value was cleaned up by the first read
        expect(backend.numKeys(s.name)).toBe(0);
      });

      it(`${updateType === UpdateType.OnReadAndWrite ? 'refreshes' : 'does not refresh'} the timestamp on read`, () => {
        const { clock, backend } = setup();
        const s = primitives[kind](ttl, backend);
        s.write();
        clock.advance(TTL - 10);
        expect(s.read()).toBe('x');
        clock.advance(20); // TTL + 10 after the write, 20 after the read
        const expectedVisible = updateType === UpdateType.OnReadAndWrite || visibility === StateVisibility.ReturnExpiredIfNotCleanedUp;
        expect(s.read()).toBe(expectedVisible ? 'x' : undefined);
      });

      it(`records the last access time${updateType === UpdateType.OnReadAndWrite ? ', refreshed by reads' : ', not changed by reads'}`, () => {
        const { clock, backend } = setup();
        const s = primitives[kind](ttl, backend);
        s.write();
        clock.advance(30);
        s.read();
        expect(backend.entries(s.name)[0].lastAccessTime).toBe(updateType === UpdateType.OnReadAndWrite ? 1030 : 1000);
      });

      it('refreshes the timestamp on write', () => {
        const { clock, backend } = setup();
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
        const { clock, backend } = setup();
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
        const { clock, backend } = setup();
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
        const { clock, backend } = setup();
        const r = backend.getReducingState(new ReducingStateDescriptor<number>('r', { ttl, reduce: (a, b) => a + b }));
        r.add(5);
        clock.advance(TTL);
        r.add(1);
        expect(r.get()).toBe(1);
      });

      it('ignores the descriptor default value when TTL is on (as Flink)', () => {
        const { backend } = setup();
        const v = backend.getState(new ValueStateDescriptor<number>('v', { ttl, defaultValue: 7 }));
        expect(v.value()).toBeUndefined();
      });
    });

    describe('TTL visibility on collections and accumulators', () => {
      const ttl = StateTtlConfig.newBuilder(TTL).returnExpiredIfNotCleanedUp().disableCleanupInBackground().build();

      it('returns expired list elements once when not cleaned up, then only the live ones', () => {
        const { clock, backend } = setup();
        const l = backend.getListState(new ListStateDescriptor<string>('l', { ttl }));
        l.add('old');
        clock.advance(60);
        l.addAll(['young', 'younger']);
        clock.advance(50);
        expect(l.get()).toEqual(['old', 'young', 'younger']);
        expect(l.get()).toEqual(['young', 'younger']);
      });

      it('returns expired map entries once from iteration, get and contains', () => {
        const { clock, backend } = setup();
        const m = backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl }));
        m.putAll([
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ]);
        clock.advance(60);
        m.put('d', 4);
        clock.advance(50);
        expect([...m.keys()]).toEqual(['a', 'b', 'c', 'd']);
        expect([...m.keys()]).toEqual(['d']);
        clock.advance(60);
        expect(m.get('d')).toBe(4);
        expect(m.contains('d')).toBe(false);
        expect(backend.numKeys('m')).toBe(0);
      });

      it('folds an expired accumulator that is still stored into the next add, as Flink', () => {
        const { clock, backend } = setup();
        const r = backend.getReducingState(new ReducingStateDescriptor<number>('r', { ttl, reduce: (a, b) => a + b }));
        const a = backend.getAggregatingState(
          new AggregatingStateDescriptor<number, number[], number>('a', {
            ttl,
            aggregate: { createAccumulator: () => [], add: (v, acc) => [...acc, v], getResult: (acc) => acc.length },
          }),
        );
        r.add(5);
        a.add(5);
        clock.advance(TTL);
        r.add(1);
        a.add(1);
        expect(r.get()).toBe(6);
        expect(a.get()).toBe(2);
        expect(backend.entries('r')[0].lastAccessTime).toBe(1000 + TTL);
      });
    });

    describe('TTL with OnReadAndWrite on collections', () => {
      const ttl = StateTtlConfig.newBuilder(TTL).updateTtlOnReadAndWrite().disableCleanupInBackground().build();

      it('refreshes only the map entries a read returned', () => {
        const { clock, backend } = setup();
        const m = backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl }));
        m.put('read', 1);
        m.put('unread', 2);
        clock.advance(TTL - 1);
        expect(m.get('read')).toBe(1);
        expect(m.contains('unread')).toBe(true);
        m.remove('nothing');
        clock.advance(TTL - 1);
        expect(new Map(m.entries())).toEqual(new Map([['read', 1], ['unread', 2]]));
        clock.advance(TTL);
        expect(m.isEmpty()).toBe(true);
      });

      it('refreshes every list element a read returned', () => {
        const { clock, backend } = setup();
        const l = backend.getListState(new ListStateDescriptor<number>('l', { ttl }));
        l.update([1, 2]);
        clock.advance(TTL - 1);
        expect(l.get()).toEqual([1, 2]);
        l.add(3);
        clock.advance(TTL - 1);
        expect(l.get()).toEqual([1, 2, 3]);
        expect(backend.entries('l')[0].lastAccessTime).toBe(1000 + 2 * (TTL - 1));
      });
    });

    describe('TTL state in namespaces', () => {
      it('expires each namespace of a key on its own and clears with update(undefined)', () => {
        const ttl = StateTtlConfig.newBuilder(TTL).build();
        const { clock, backend } = setup();
        const v = backend.getState(new ValueStateDescriptor<string>('v', { ttl }));
        v.update('void');
        clock.advance(50);
        v.setCurrentNamespace('w');
        v.update('window');
        clock.advance(50);
        expect(v.value()).toBe('window');
        v.setCurrentNamespace('');
        expect(v.value()).toBeUndefined();
        v.setCurrentNamespace('w');
        v.update(undefined as unknown as string);
        expect(v.value()).toBeUndefined();
        expect(backend.totalEntries()).toBe(0);
      });

      it('shows a large TTL list in inspection with its latest access time', () => {
        const ttl = StateTtlConfig.newBuilder(TTL).disableCleanupInBackground().build();
        const { clock, backend } = setup();
        const l = backend.getListState(new ListStateDescriptor<number>('l', { ttl }));
        l.addAll(Array.from({ length: 150_000 }, (_, i) => i));
        clock.advance(1);
        l.add(-1);
        const [entry] = backend.entries('l');
        expect((entry.value as number[]).length).toBe(150_001);
        expect(entry.lastAccessTime).toBe(1001);
      });
    });

    describe('TTL across a snapshot and restore', () => {
      describe.each(Object.keys(primitives) as Array<keyof typeof primitives>)('%s state', (kind) => {
        it('keeps an expired value in the snapshot when no cleanup on snapshot is configured, so a restore returns it once', async () => {
          const ttl = StateTtlConfig.newBuilder(TTL).returnExpiredIfNotCleanedUp().disableCleanupInBackground().build();
          const { clock, backend } = setup();
          primitives[kind](ttl, backend).write();
          clock.advance(TTL);
          const target = await restoreInto(backend.snapshot({ checkpointId: 1 }), clock);
          const s = primitives[kind](ttl, target);
          expect(s.read()).toBe('x');
          expect(s.read()).toBeUndefined();
        });

        it('judges expiry at the barrier, not when the snapshot is written (cleanup on full snapshot)', async () => {
          const ttl = StateTtlConfig.newBuilder(TTL).returnExpiredIfNotCleanedUp().disableCleanupInBackground().cleanupFullSnapshot().build();
          const { clock, backend } = setup();
          primitives[kind](ttl, backend).write();
          clock.advance(TTL - 1);
          const runner = backend.snapshot({ checkpointId: 1 }); // live at the barrier
          clock.advance(TTL); // expired by the time the snapshot is written
          const target = await restoreInto(runner, clock);
          expect(primitives[kind](ttl, target).read()).toBe('x');
        });

        it('leaves out a value that had expired at the barrier (cleanup on full snapshot)', async () => {
          const ttl = StateTtlConfig.newBuilder(TTL).returnExpiredIfNotCleanedUp().disableCleanupInBackground().cleanupFullSnapshot().build();
          const { clock, backend } = setup();
          primitives[kind](ttl, backend).write();
          clock.advance(TTL);
          const target = await restoreInto(backend.snapshot({ checkpointId: 1 }), clock);
          expect(primitives[kind](ttl, target).read()).toBeUndefined();
        });
      });

      it.each(Object.keys(primitives) as Array<keyof typeof primitives>)('keeps the barrier time stamp of %s state in the snapshot when a read refreshes it after the barrier', async (kind) => {
        const ttl = StateTtlConfig.newBuilder(TTL).updateTtlOnReadAndWrite().disableCleanupInBackground().build();
        const { clock, backend } = setup();
        const s = primitives[kind](ttl, backend);
        s.write();
        const runner = backend.snapshot({ checkpointId: 1 });
        clock.advance(TTL - 1);
        expect(s.read()).toBe('x'); // refreshes the live entry's timestamp to 1000 + TTL - 1
        const target = await restoreInto(runner, clock);
        primitives[kind](ttl, target);
        expect(target.entries('s').map((e) => e.lastAccessTime)).toEqual([1000]);
      });

      it('holds what was live at the barrier while incremental cleanup runs during the write (Flink testIncrementalCleanup)', async () => {
        const ttl = StateTtlConfig.newBuilder(TTL).returnExpiredIfNotCleanedUp().cleanupIncrementally(5, true).build();
        const { clock, backend } = setup();
        const v = backend.getState(new ValueStateDescriptor<number>('v', { ttl }));
        const keys = 60;
        for (let i = 0; i < keys; i++) {
          backend.setCurrentKey(`k${i}`);
          v.update(0);
        }
        clock.advance(TTL / 2);
        for (let i = 0; i < keys / 3; i++) {
          backend.setCurrentKey(`k${i}`);
          v.update(1);
        }
        const runner = backend.snapshot({ checkpointId: 1 });
        clock.advance(TTL / 2);
        for (let i = keys / 3; i < (2 * keys) / 3; i++) {
          backend.setCurrentKey(`k${i}`);
          v.update(2); // after the barrier: not in the snapshot
        }
        clock.advance(TTL / 2); // every value written before the barrier has expired now
        for (let i = 0; i < keys; i++) backend.onRecordProcessed();
        expect(backend.numKeys('v')).toBe(keys / 3); // only the values written after the barrier are left
        const target = await restoreInto(runner, clock);
        target.getState(new ValueStateDescriptor<number>('v', { ttl }));
        const restored = target
          .entries('v')
          .map((e) => [e.key, e.value, e.lastAccessTime])
          .sort((a, b) => String(a[0]).localeCompare(String(b[0]), 'en', { numeric: true }));
        const expected = Array.from({ length: keys }, (_, i) => (i < keys / 3 ? [`k${i}`, 1, 1000 + TTL / 2] : [`k${i}`, 0, 1000]));
        expect(restored).toEqual(expected);
      });
    });

    describe('incremental TTL cleanup', () => {
      function fill(ttl: StateTtlConfig, keys: number) {
        const s = setup();
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
        const { clock, backend } = setup();
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

      it('cleans every namespace and drops the maps of emptied ones', () => {
        const ttl = StateTtlConfig.newBuilder(TTL).cleanupIncrementally(4, true).build();
        const { clock, backend } = setup();
        const r = backend.getReducingState(new ReducingStateDescriptor<number>('r', { ttl, reduce: (a, b) => a + b }));
        for (let w = 0; w < 10; w++) {
          r.setCurrentNamespace(w);
          r.add(w);
        }
        clock.advance(TTL);
        r.setCurrentNamespace(3);
        r.add(100);
        for (let i = 0; i < 5; i++) backend.onRecordProcessed();
        expect(backend.entries('r')).toEqual([{ key: 'k', namespace: 3, value: 100, lastAccessTime: 1000 + TTL }]);
        expect(r.get()).toBe(100);
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
  });
}
