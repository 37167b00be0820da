// The shared contract of keyed state backends (Flink's StateBackendTestBase idea): every test
// here runs unchanged against every backend, through the KeyedStateBackend interface only.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { describeValue } from '../../src/core/errors.js';
import { KEY_ENCODING } from '../../src/core/key-encoding.js';
import { KeyGroupRange, assignToKeyGroup } from '../../src/core/key-groups.js';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/state/descriptors.js';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { JsonSerializer } from '../../src/state/serde/type-serializer.js';
import { StateTtlConfig } from '../../src/state/ttl/state-ttl-config.js';

export interface ContractBackendOptions {
  clock: ManualClock;
  maxParallelism?: number;
  keyGroupRange?: KeyGroupRange;
}

export function describeStateBackendContract(name: string, createBackend: (options: ContractBackendOptions) => KeyedStateBackend): void {
  const make = (options: Partial<ContractBackendOptions> = {}) => {
    const clock = options.clock ?? new ManualClock(0);
    return { clock, backend: createBackend({ clock, maxParallelism: options.maxParallelism ?? 128, keyGroupRange: options.keyGroupRange }) };
  };

  describe(`${name} state backend contract`, () => {
    describe('ValueState', () => {
      it('scopes the value to the current key and returns undefined when absent', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<number>('v'));
        backend.setCurrentKey('a');
        expect(s.value()).toBeUndefined();
        s.update(1);
        backend.setCurrentKey('b');
        expect(s.value()).toBeUndefined();
        s.update(2);
        backend.setCurrentKey('a');
        expect(s.value()).toBe(1);
      });

      it('clears only the current key, and update(undefined) clears too', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<string>('v'));
        for (const k of ['a', 'b']) {
          backend.setCurrentKey(k);
          s.update(`${k}!`);
        }
        backend.setCurrentKey('a');
        s.clear();
        expect(s.value()).toBeUndefined();
        backend.setCurrentKey('b');
        expect(s.value()).toBe('b!');
        s.update(undefined as unknown as string);
        expect(s.value()).toBeUndefined();
        expect(backend.numKeys('v')).toBe(0);
      });

      it('returns a fresh copy of an object default value for every absent key', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<[number, number]>('avg', { defaultValue: [0, 0] }));
        backend.setCurrentKey(1);
        const v = s.value()!;
        v[0] = 99;
        expect(s.value()).toEqual([0, 0]);
      });

      it('returns a primitive default value as it is, and never stores it', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<number>('n', { defaultValue: 0 }));
        backend.setCurrentKey('a');
        expect(s.value()).toBe(0);
        expect(backend.numKeys('n')).toBe(0);
        s.update(3);
        s.update(null as unknown as number);
        expect(s.value()).toBe(0);
      });

      it('keeps the value of each namespace of a key apart', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<string>('v'));
        backend.setCurrentKey('a');
        s.update('void');
        s.setCurrentNamespace(1);
        expect(s.value()).toBeUndefined();
        s.update('one');
        s.setCurrentNamespace('1');
        expect(s.value()).toBeUndefined();
        s.update('string one');
        s.setCurrentNamespace(1);
        s.clear();
        s.setCurrentNamespace('');
        expect(s.value()).toBe('void');
        s.setCurrentNamespace('1');
        expect(s.value()).toBe('string one');
        expect(backend.numKeys('v')).toBe(1);
        expect(backend.totalEntries()).toBe(2);
      });

      it('refuses a null, undefined or NaN namespace with a clear error and keeps the namespace it had', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<string>('v'));
        backend.setCurrentKey('a');
        s.setCurrentNamespace(0);
        s.update('zero');
        for (const bad of [null, undefined, Number.NaN]) {
          let error: unknown;
          try {
            s.setCurrentNamespace(bad as unknown as number);
          } catch (e) {
            error = e;
          }
          expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
          expect((error as Error).message).toMatch(/state 'v'.* is not a namespace; a namespace is a string or a number/);
        }
        expect(s.value()).toBe('zero');
        expect(backend.entries('v').map((e) => e.namespace)).toEqual([0]);
      });
    });

    describe('ListState', () => {
      it('appends, replaces and clears per key; get() is a copy', () => {
        const { backend } = make();
        const s = backend.getListState(new ListStateDescriptor<number>('l'));
        backend.setCurrentKey('a');
        expect(s.get()).toEqual([]);
        s.add(1);
        s.addAll([2, 3]);
        const copy = s.get();
        copy.push(100);
        expect(s.get()).toEqual([1, 2, 3]);
        backend.setCurrentKey('b');
        s.update([7, 8]);
        expect(s.get()).toEqual([7, 8]);
        s.update([]);
        expect(s.get()).toEqual([]);
        backend.setCurrentKey('a');
        s.clear();
        expect(s.get()).toEqual([]);
        expect(backend.numKeys('l')).toBe(0);
      });

      it('rejects null and undefined elements, naming operator and state', () => {
        const { backend } = make();
        const s = backend.getListState(new ListStateDescriptor<number | null>('nums'));
        backend.setCurrentKey('a');
        expect(() => s.add(null)).toThrow(/contract-op.*'nums'/);
      });

      it('rejects a null element in addAll or update with INVALID_ARGUMENT and changes nothing', () => {
        const { backend } = make();
        const s = backend.getListState(new ListStateDescriptor<number | undefined>('nums'));
        backend.setCurrentKey('a');
        s.add(1);
        for (const f of [() => s.addAll([2, undefined]), () => s.update([3, undefined])]) {
          let error: any;
          try {
            f();
          } catch (e) {
            error = e;
          }
          expect(error?.code).toBe('INVALID_ARGUMENT');
          expect(error.message).toContain('contract-op');
          expect(error.message).toContain("'nums'");
        }
        expect(s.get()).toEqual([1]);
      });

      it('keeps each namespace a separate list, and an emptied window leaves no entry', () => {
        const { backend } = make();
        const s = backend.getListState(new ListStateDescriptor<string>('window-contents'));
        backend.setCurrentKey('a');
        for (let w = 0; w < 50; w++) {
          s.setCurrentNamespace(w);
          s.add(`a${w}`);
          s.addAll([`b${w}`]);
        }
        s.setCurrentNamespace(7);
        expect(s.get()).toEqual(['a7', 'b7']);
        for (let w = 0; w < 50; w++) {
          s.setCurrentNamespace(w);
          s.clear();
        }
        expect(backend.entries('window-contents')).toEqual([]);
        expect(backend.totalEntries()).toBe(0);
      });
    });

    describe('MapState', () => {
      it('supports point access, iteration and removal per key', () => {
        const { backend } = make();
        const s = backend.getMapState(new MapStateDescriptor<string, number>('m'));
        backend.setCurrentKey('a');
        expect(s.isEmpty()).toBe(true);
        s.put('x', 1);
        s.putAll([
          ['y', 2],
          ['z', 3],
        ]);
        s.putAll(new Map([['w', 4]]));
        expect(s.get('y')).toBe(2);
        expect(s.contains('z')).toBe(true);
        expect(s.contains('nope')).toBe(false);
        s.remove('z');
        expect([...s.keys()].sort()).toEqual(['w', 'x', 'y']);
        expect([...s.values()].sort()).toEqual([1, 2, 4]);
        expect(new Map(s.entries())).toEqual(
          new Map([
            ['x', 1],
            ['y', 2],
            ['w', 4],
          ]),
        );
        backend.setCurrentKey('b');
        expect(s.isEmpty()).toBe(true);
        expect(s.get('x')).toBeUndefined();
        backend.setCurrentKey('a');
        s.clear();
        expect(s.isEmpty()).toBe(true);
      });

      it('treats equal composite user keys as one key', () => {
        const { backend } = make();
        const s = backend.getMapState(new MapStateDescriptor<{ a: number; b: string }, string>('m'));
        backend.setCurrentKey('k');
        s.put({ a: 1, b: 'x' }, 'first');
        s.put({ b: 'x', a: 1 }, 'second');
        expect([...s.entries()]).toEqual([[{ a: 1, b: 'x' }, 'second']]);
        expect(s.get({ a: 1, b: 'x' })).toBe('second');
      });

      it('removing the last entry leaves the key without state', () => {
        const { backend } = make();
        const s = backend.getMapState(new MapStateDescriptor<string, number>('m'));
        backend.setCurrentKey('a');
        s.put('x', 1);
        s.remove('x');
        expect(backend.numKeys('m')).toBe(0);
      });

      it('returns composite user keys from keys() and entries() equal to the ones put', () => {
        const { backend } = make();
        const s = backend.getMapState(new MapStateDescriptor<unknown, number>('m'));
        backend.setCurrentKey('k');
        const userKeys = [[1, 'x'], { b: [2n, true], a: 'y' }, 1, '1', 1n];
        userKeys.forEach((k, i) => s.put(k, i));
        // MapState has no iteration order (Flink's RocksDB backend iterates by serialized key).
        const byValue = [...s.entries()].sort((a, b) => a[1] - b[1]);
        expect(byValue.map(([k]) => k)).toEqual(userKeys);
        expect([...s.keys()]).toHaveLength(userKeys.length);
        expect([...s.values()].sort()).toEqual([0, 1, 2, 3, 4]);
        expect(s.get({ a: 'y', b: [2n, true] })).toBe(1);
        expect(s.contains([1, 'x'])).toBe(true);
        expect(s.contains([1, 'y'])).toBe(false);
        s.remove({ a: 'y', b: [2n, true] });
        expect(s.get({ a: 'y', b: [2n, true] })).toBeUndefined();
        expect(backend.entries('m')[0].value).toEqual(new Map<unknown, number>([[[1, 'x'], 0], [1, 2], ['1', 3], [1n, 4]]));
      });

      it('rejects an unusable user key with INVALID_KEY naming the operator and the state', () => {
        const { backend } = make();
        const s = backend.getMapState(new MapStateDescriptor<unknown, number>('lookup'));
        backend.setCurrentKey('k');
        for (const bad of [undefined, null, Number.NaN, () => 1, new Date(0)]) {
          let error: any;
          try {
            s.put(bad, 1);
          } catch (e) {
            error = e;
          }
          expect(error?.code).toBe('INVALID_KEY');
          expect(error.message).toContain('contract-op');
          expect(error.message).toContain("'lookup'");
        }
        expect(s.isEmpty()).toBe(true);
      });

      it('may be changed while its entries are iterated', () => {
        const { backend } = make();
        const s = backend.getMapState(new MapStateDescriptor<string, number>('m'));
        backend.setCurrentKey('k');
        s.putAll(new Map([['a', 1], ['b', 2], ['c', 3]]));
        for (const [k, v] of s.entries()) {
          if (v % 2 === 1) s.remove(k);
          else s.put(`${k}2`, v * 10);
        }
        expect(new Map(s.entries())).toEqual(new Map([['b', 2], ['b2', 20]]));
      });

      it('ignores remove of a missing user key and putAll of nothing', () => {
        const { backend } = make();
        const s = backend.getMapState(new MapStateDescriptor<string, number>('m'));
        backend.setCurrentKey('k');
        s.remove('missing');
        s.putAll([]);
        expect(s.isEmpty()).toBe(true);
        expect(backend.numKeys('m')).toBe(0);
      });
    });

    describe('ReducingState and AggregatingState', () => {
      it('folds added values per key', () => {
        const { backend } = make();
        const r = backend.getReducingState(new ReducingStateDescriptor<number>('sum', { reduce: (a, b) => a + b }));
        backend.setCurrentKey('a');
        expect(r.get()).toBeUndefined();
        r.add(1);
        r.add(2);
        backend.setCurrentKey('b');
        r.add(10);
        backend.setCurrentKey('a');
        expect(r.get()).toBe(3);
        r.clear();
        expect(r.get()).toBeUndefined();
      });

      it('aggregates into an accumulator and reads out the result', () => {
        const { backend } = make();
        const avg = backend.getAggregatingState(
          new AggregatingStateDescriptor<number, { n: number; sum: number }, number>('avg', {
            aggregate: {
              createAccumulator: () => ({ n: 0, sum: 0 }),
              add: (v, acc) => ({ n: acc.n + 1, sum: acc.sum + v }),
              getResult: (acc) => acc.sum / acc.n,
            },
          }),
        );
        backend.setCurrentKey('a');
        expect(avg.get()).toBeUndefined();
        avg.add(2);
        avg.add(4);
        expect(avg.get()).toBe(3);
        expect(backend.entries('avg')[0].value).toEqual({ n: 2, sum: 6 });
        avg.setCurrentNamespace('w');
        expect(avg.get()).toBeUndefined();
        avg.add(10);
        expect(avg.get()).toBe(10);
        avg.clear();
        avg.setCurrentNamespace('');
        expect(avg.get()).toBe(3);
        avg.clear();
        expect(avg.get()).toBeUndefined();
        expect(backend.numKeys('avg')).toBe(0);
      });
    });

    describe('keys, namespaces and registration', () => {
      it('refuses to store a key whose key group it does not own, naming the operator and its range', () => {
        const { backend } = make({ maxParallelism: 8, keyGroupRange: KeyGroupRange.of(0, 3) });
        const count = backend.getState(new ValueStateDescriptor<number>('count'));
        const foreign = Array.from({ length: 50 }, (_, i) => `user-${i}`).find((k) => assignToKeyGroup(k, 8) > 3)!;
        let error: unknown;
        try {
          backend.setCurrentKey(foreign); // the disk backend refuses here, the heap backend when the key is stored
          count.update(1);
        } catch (e) {
          error = e;
        }
        expect(error).toMatchObject({ code: 'INVALID_KEY' });
        expect((error as Error).message).toMatch(/operator 'contract-op'.*which this subtask does not own \(it owns/);
        expect(backend.entries('count')).toEqual([]);
        expect(() => {
          backend.setCurrentKey(foreign);
          backend.getTimerQueue('event-timers').add(10, '');
        }).toThrow(/which this subtask does not own/);
        expect(backend.getTimerQueue('event-timers').size).toBe(0);
        backend.setCurrentKey(Array.from({ length: 50 }, (_, i) => `user-${i}`).find((k) => assignToKeyGroup(k, 8) <= 3)!);
        count.update(2);
        expect(backend.entries('count').map((e) => e.value)).toEqual([2]);
      });

      it('lists each key of a namespace once, bigint and composite keys included, and lets the visited key be cleared', () => {
        const { backend } = make();
        const l = backend.getListState(new ListStateDescriptor<number>('l'));
        const keys: unknown[] = [1n, 2n ** 70n, 'a', 7, [1, 'x'], { a: 1, b: 2 }];
        for (const key of keys) {
          backend.setCurrentKey(key);
          l.add(1);
          l.add(2); // several entries of one key (the disk backend stores one per element)
          l.setCurrentNamespace('window');
          l.add(3);
          l.setCurrentNamespace('');
        }
        backend.setCurrentKey('only-in-window');
        l.setCurrentNamespace('window');
        l.add(4);
        l.setCurrentNamespace('');
        const seen: unknown[] = [];
        for (const key of backend.keys('l')) {
          seen.push(key);
          backend.setCurrentKey(key);
          l.clear();
        }
        const canonical = (xs: unknown[]) => xs.map((k) => describeValue(k)).sort();
        expect(canonical(seen)).toEqual(canonical(keys));
        expect([...backend.keys('l')]).toEqual([]);
        expect(canonical([...backend.keys('l', 'window')])).toEqual(canonical([...keys, 'only-in-window']));
        expect([...backend.keys('not-registered')]).toEqual([]);
      });

      it('treats plain-object keys with the same fields in another order as one key', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<number>('v'));
        backend.setCurrentKey({ a: 1, b: 2 });
        s.update(5);
        backend.setCurrentKey({ b: 2, a: 1 });
        expect(s.value()).toBe(5);
        backend.setCurrentKey([1, 'x']);
        expect(s.value()).toBeUndefined();
        expect(backend.entries('v')[0].key).toEqual({ a: 1, b: 2 });
      });

      it('keeps 1, "1", 1n and true as different keys', () => {
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<string>('v'));
        for (const k of [1, '1', 1n, true]) {
          backend.setCurrentKey(k);
          s.update(typeof k);
        }
        expect(backend.numKeys('v')).toBe(4);
        backend.setCurrentKey('1');
        expect(s.value()).toBe('string');
      });

      it('accepts class keys that declare their key encoding', () => {
        class UserId {
          constructor(readonly id: string) {}
          [KEY_ENCODING]() {
            return this.id;
          }
        }
        const { backend } = make();
        const s = backend.getState(new ValueStateDescriptor<number>('v'));
        backend.setCurrentKey(new UserId('u1'));
        s.update(1);
        backend.setCurrentKey('u1');
        expect(s.value()).toBe(1);
      });

      it.each([
        ['undefined', undefined],
        ['null', null],
        ['NaN', Number.NaN],
        ['a function', () => 1],
        ['a symbol', Symbol('s')],
        ['a class instance', new (class Point {
          x = 1;
        })()],
      ])('rejects %s as a key with INVALID_KEY naming the operator', (_label, key) => {
        const { backend } = make();
        let error: any;
        try {
          backend.setCurrentKey(key);
        } catch (e) {
          error = e;
        }
        expect(error?.code).toBe('INVALID_KEY');
        expect(error.message).toContain('contract-op');
      });

      it('isolates namespaces of the same key', () => {
        const { backend } = make();
        const s = backend.getListState(new ListStateDescriptor<number>('l'));
        backend.setCurrentKey('a');
        s.setCurrentNamespace('w1');
        s.add(1);
        s.setCurrentNamespace('w2');
        s.add(2);
        expect(s.get()).toEqual([2]);
        s.clear();
        s.setCurrentNamespace('w1');
        expect(s.get()).toEqual([1]);
        expect(backend.entries('l').map((e) => e.namespace)).toEqual(['w1']);
      });

      it('returns the same handle for the same name and rejects another kind, serializer or TTL', () => {
        const { backend } = make();
        const a = backend.getState(new ValueStateDescriptor<number>('s'));
        expect(backend.getState(new ValueStateDescriptor<number>('s'))).toBe(a);
        const expectMismatch = (f: () => unknown, pattern: RegExp) => {
          let error: any;
          try {
            f();
          } catch (e) {
            error = e;
          }
          expect(error?.code).toBe('STATE_TYPE_MISMATCH');
          expect(error.message).toContain("'s'");
          expect(error.message).toContain('contract-op');
          expect(error.message).toMatch(pattern);
        };
        expectMismatch(() => backend.getListState(new ListStateDescriptor<number>('s')), /value state, requested as list state/);
        expectMismatch(() => backend.getState(new ValueStateDescriptor<number>('s', { serializer: new JsonSerializer() })), /msgpack@1.*json@1/);
        expectMismatch(() => backend.getState(new ValueStateDescriptor<number>('s', { ttl: StateTtlConfig.newBuilder(10).build() })), /no TTL/);
      });

      it('names both sides of a mismatch and says how to fix it', () => {
        const { backend } = make();
        backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl: StateTtlConfig.newBuilder(1000).build() }));
        const mismatch = (f: () => unknown): any => {
          try {
            f();
          } catch (e) {
            return e;
          }
          return undefined;
        };
        const summing = { createAccumulator: () => 0, add: (v: number, a: number) => a + v, getResult: (a: number) => a };
        const kinds = mismatch(() => backend.getAggregatingState(new AggregatingStateDescriptor('m', { aggregate: summing })));
        expect(kinds?.code).toBe('STATE_TYPE_MISMATCH');
        expect(kinds.message).toMatch(/map state.*aggregating state/);
        expect(kinds.message).toMatch(/another state name|same descriptor/);
        const longerTtl = StateTtlConfig.newBuilder(2000).build();
        const ttl = mismatch(() => backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl: longerTtl })));
        expect(ttl?.code).toBe('STATE_TYPE_MISMATCH');
        expect(ttl.message).toMatch(/1000.*2000/);
        const sameTtl = StateTtlConfig.newBuilder(1000).build();
        const keys = mismatch(() => backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl: sameTtl, keySerializer: new JsonSerializer() })));
        expect(keys?.code).toBe('STATE_TYPE_MISMATCH');
        expect(mismatch(() => backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl: sameTtl })))).toBeUndefined();
      });

      it('dispatches getPartitionedState on the descriptor kind to the same handles', () => {
        const { backend } = make();
        const d = new ListStateDescriptor<number>('l');
        const l = backend.getListState(d);
        expect(backend.getPartitionedState(d)).toBe(l);
        const r = backend.getPartitionedState(new ReducingStateDescriptor<number>('r', { reduce: (a, b) => a + b }));
        expect(backend.getReducingState(new ReducingStateDescriptor<number>('r', { reduce: (a, b) => a * b }))).toBe(r);
      });

      it('lists registered states with kind, serializer and TTL', () => {
        const { backend } = make();
        backend.getState(new ValueStateDescriptor<number>('v'));
        backend.getMapState(new MapStateDescriptor<string, number>('m', { ttl: StateTtlConfig.newBuilder(1000).build() }));
        expect(backend.stateInfos()).toEqual([
          { name: 'v', kind: 'value', serializer: 'msgpack@1' },
          { name: 'm', kind: 'map', serializer: 'msgpack@1', ttlMs: 1000 },
        ]);
      });

      it('computes the key group of the current key with the key-group formula', () => {
        const { backend } = make({ maxParallelism: 256 });
        for (const k of ['a', 42, [1, 2]]) {
          backend.setCurrentKey(k);
          expect(backend.getCurrentKeyGroup()).toBe(assignToKeyGroup(k, 256));
          expect(backend.getCurrentKey()).toEqual(k);
        }
      });
    });

    describe('timers', () => {
      it('deduplicates per (key, namespace, timestamp) and fires in timestamp order', () => {
        const { backend } = make();
        const q = backend.getTimerQueue('event-timers');
        backend.setCurrentKey('a');
        expect(q.add(20, '')).toBe(true);
        expect(q.add(20, '')).toBe(false);
        expect(q.add(20, 'w')).toBe(true);
        backend.setCurrentKey('b');
        expect(q.add(10, '')).toBe(true);
        expect(q.add(30, '')).toBe(true);
        backend.setCurrentKey(1);
        expect(q.add(20, '')).toBe(true);
        backend.setCurrentKey('1');
        expect(q.add(20, '')).toBe(true);
        expect(q.size).toBe(6);
        const fired = [];
        for (let t = q.poll(); t !== undefined; t = q.poll()) fired.push([t.timestamp, t.key, t.namespace]);
        expect(fired).toEqual([
          [10, 'b', ''],
          [20, 'a', ''],
          [20, 'a', 'w'],
          [20, 1, ''],
          [20, '1', ''],
          [30, 'b', ''],
        ]);
      });

      it('removes timers of the current key only and can register them again', () => {
        const { backend } = make();
        const q = backend.getTimerQueue('processing-timers');
        for (const k of ['a', 'b']) {
          backend.setCurrentKey(k);
          q.add(5, '');
        }
        backend.setCurrentKey('a');
        expect(q.remove(5, '')).toBe(true);
        expect(q.remove(5, '')).toBe(false);
        expect(q.peek()).toEqual({ timestamp: 5, key: 'b', namespace: '' });
        q.add(5, '');
        expect(q.size).toBe(2);
        expect(q.entries().map((t) => t.key)).toEqual(['b', 'a']);
      });

      it('stores timers by the key group of their key', () => {
        const { backend } = make({ maxParallelism: 16 });
        const q = backend.getTimerQueue('event-timers');
        const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
        for (const k of keys) {
          backend.setCurrentKey(k);
          q.add(1, '');
        }
        for (let kg = 0; kg < 16; kg++)
          expect(q.entriesOfKeyGroup(kg).map((t) => t.key).sort()).toEqual(keys.filter((k) => assignToKeyGroup(k, 16) === kg).sort());
      });

      it('keeps set semantics, order and removal for a key with many timers', () => {
        const { backend } = make();
        const q = backend.getTimerQueue('processing-timers');
        backend.setCurrentKey({ user: 7 });
        const stamps = Array.from({ length: 40 }, (_, i) => (i * 37) % 40);
        for (const t of stamps) expect(q.add(t, '')).toBe(true);
        for (const t of stamps) expect(q.add(t, '')).toBe(false);
        expect(q.add(5, 'w')).toBe(true);
        for (let t = 0; t < 40; t += 2) expect(q.remove(t, '')).toBe(true);
        expect(q.remove(0, '')).toBe(false);
        expect(q.remove(5, 'other')).toBe(false);
        expect(q.size).toBe(21);
        expect(q.peek()).toEqual({ timestamp: 1, key: { user: 7 }, namespace: '' });
        const fired = [];
        for (let t = q.poll(); t !== undefined; t = q.poll()) fired.push(`${t.timestamp}${t.namespace}`);
        expect(fired).toEqual(['1', '3', '5', '5w', ...Array.from({ length: 17 }, (_, i) => `${7 + 2 * i}`)]);
        expect(q.size).toBe(0);
        expect(q.entriesOfKeyGroup(assignToKeyGroup({ user: 7 }, 128))).toEqual([]);
      });

      it('fires timers with equal timestamps in registration order and keeps namespaces 1 and "1" apart', () => {
        const { backend } = make();
        const q = backend.getTimerQueue('event-timers');
        for (const k of ['z', 'a', 'm']) {
          backend.setCurrentKey(k);
          q.add(100, 1);
          q.add(100, '1');
        }
        expect(q.size).toBe(6);
        expect(q.entries().map((t) => [t.key, t.namespace])).toEqual([
          ['z', 1],
          ['z', '1'],
          ['a', 1],
          ['a', '1'],
          ['m', 1],
          ['m', '1'],
        ]);
        backend.setCurrentKey('a');
        expect(q.remove(100, '1')).toBe(true);
        expect(q.peek()).toEqual({ timestamp: 100, key: 'z', namespace: 1 });
        expect(q.poll()).toEqual({ timestamp: 100, key: 'z', namespace: 1 });
        expect(q.size).toBe(4);
        expect(() => q.add(Number.NaN, '')).toThrow(/timestamp/);
      });

      it('matches a sorted reference list over random adds, removes and polls', () => {
        fc.assert(
          fc.property(
            fc.array(
              fc.record({
                op: fc.constantFrom('add', 'add', 'remove', 'poll'),
                key: fc.constantFrom('a', 'b', 1),
                t: fc.integer({ min: 0, max: 12 }),
                ns: fc.constantFrom('', 'w'),
              }),
              { maxLength: 80 },
            ),
            (ops) => {
              const { backend } = make();
              const q = backend.getTimerQueue('t');
              let model: Array<{ timestamp: number; key: unknown; namespace: string; seq: number }> = [];
              let seq = 0;
              for (const o of ops) {
                backend.setCurrentKey(o.key);
                const at = model.findIndex((m) => m.timestamp === o.t && m.key === o.key && m.namespace === o.ns);
                if (o.op === 'add') {
                  expect(q.add(o.t, o.ns)).toBe(at < 0);
                  if (at < 0) model.push({ timestamp: o.t, key: o.key, namespace: o.ns, seq: seq++ });
                } else if (o.op === 'remove') {
                  expect(q.remove(o.t, o.ns)).toBe(at >= 0);
                  if (at >= 0) model.splice(at, 1);
                } else {
                  model.sort((x, y) => x.timestamp - y.timestamp || x.seq - y.seq);
                  const head = model.shift();
                  expect(q.poll()).toEqual(head === undefined ? undefined : { timestamp: head.timestamp, key: head.key, namespace: head.namespace });
                }
                expect(q.size).toBe(model.length);
              }
              model = model.sort((x, y) => x.timestamp - y.timestamp || x.seq - y.seq);
              expect(q.entries()).toEqual(model.map(({ timestamp, key, namespace }) => ({ timestamp, key, namespace })));
            },
          ),
          { numRuns: 150 },
        );
      });
    });

    describe('inspection', () => {
      it('reports entries, keys and totals', () => {
        const { backend } = make();
        const v = backend.getState(new ValueStateDescriptor<number>('v'));
        const l = backend.getListState(new ListStateDescriptor<string>('l'));
        for (const [k, n] of [
          ['a', 1],
          ['b', 2],
        ] as const) {
          backend.setCurrentKey(k);
          v.update(n);
          l.add(k);
        }
        expect(backend.entries('v')).toEqual([
          { key: 'a', namespace: '', value: 1 },
          { key: 'b', namespace: '', value: 2 },
        ]);
        expect(backend.entries('l').map((e) => e.value)).toEqual([['a'], ['b']]);
        expect(backend.numKeys('v')).toBe(2);
        expect(backend.totalEntries()).toBe(4);
        expect(backend.entries('missing')).toEqual([]);
      });

      it('counts a key once over its namespaces and shows map state as a Map', () => {
        const { backend } = make();
        const m = backend.getMapState(new MapStateDescriptor<string, number>('m'));
        backend.setCurrentKey('a');
        m.put('x', 1);
        m.setCurrentNamespace('w1');
        m.put('y', 2);
        backend.setCurrentKey('b');
        m.put('z', 3);
        expect(backend.numKeys('m')).toBe(2);
        expect(backend.totalEntries()).toBe(3);
        expect(backend.entries('m')).toEqual(
          expect.arrayContaining([
            { key: 'a', namespace: '', value: new Map([['x', 1]]) },
            { key: 'a', namespace: 'w1', value: new Map([['y', 2]]) },
            { key: 'b', namespace: 'w1', value: new Map([['z', 3]]) },
          ]),
        );
        expect(backend.numKeys('missing')).toBe(0);
      });

      it('recomputes the key group after every key change', () => {
        const { backend } = make({ maxParallelism: 64 });
        const keys = Array.from({ length: 30 }, (_, i) => ({ id: i }));
        for (const k of keys) {
          backend.setCurrentKey(k);
          expect(backend.getCurrentKeyGroup()).toBe(assignToKeyGroup(k, 64));
        }
      });
    });

    it('matches a reference model over random operation sequences', () => {
      type Op =
        | { op: 'key'; k: string }
        | { op: 'set'; v: number }
        | { op: 'clearV' }
        | { op: 'add'; v: number }
        | { op: 'updateL'; vs: number[] }
        | { op: 'clearL' }
        | { op: 'put'; mk: string; v: number }
        | { op: 'removeM'; mk: string }
        | { op: 'clearM' };
      const key = fc.constantFrom('a', 'b', 'c', 'd');
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        key.map((k) => ({ op: 'key' as const, k })),
        fc.integer().map((v) => ({ op: 'set' as const, v })),
        fc.constant({ op: 'clearV' as const }),
        fc.integer().map((v) => ({ op: 'add' as const, v })),
        fc.array(fc.integer(), { maxLength: 4 }).map((vs) => ({ op: 'updateL' as const, vs })),
        fc.constant({ op: 'clearL' as const }),
        fc.record({ mk: fc.constantFrom('x', 'y', 'z'), v: fc.integer() }).map((r) => ({ op: 'put' as const, ...r })),
        fc.constantFrom('x', 'y', 'z').map((mk) => ({ op: 'removeM' as const, mk })),
        fc.constant({ op: 'clearM' as const }),
      );
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
          const { backend } = make();
          const v = backend.getState(new ValueStateDescriptor<number>('v'));
          const l = backend.getListState(new ListStateDescriptor<number>('l'));
          const m = backend.getMapState(new MapStateDescriptor<string, number>('m'));
          const model = { v: new Map<string, number>(), l: new Map<string, number[]>(), m: new Map<string, Map<string, number>>() };
          let current = 'a';
          backend.setCurrentKey(current);
          for (const o of ops) {
            switch (o.op) {
              case 'key':
                current = o.k;
                backend.setCurrentKey(o.k);
                break;
              case 'set':
                v.update(o.v);
                model.v.set(current, o.v);
                break;
              case 'clearV':
                v.clear();
                model.v.delete(current);
                break;
              case 'add':
                l.add(o.v);
                model.l.set(current, [...(model.l.get(current) ?? []), o.v]);
                break;
              case 'updateL':
                l.update(o.vs);
                if (o.vs.length === 0) model.l.delete(current);
                else model.l.set(current, [...o.vs]);
                break;
              case 'clearL':
                l.clear();
                model.l.delete(current);
                break;
              case 'put': {
                m.put(o.mk, o.v);
                const mm = model.m.get(current) ?? new Map();
                mm.set(o.mk, o.v);
                model.m.set(current, mm);
                break;
              }
              case 'removeM': {
                m.remove(o.mk);
                const mm = model.m.get(current);
                mm?.delete(o.mk);
                if (mm?.size === 0) model.m.delete(current);
                break;
              }
              case 'clearM':
                m.clear();
                model.m.delete(current);
                break;
            }
          }
          const asObject = (entries: { key: unknown; value: unknown }[]) => Object.fromEntries(entries.map((e) => [e.key as string, e.value]));
          expect(asObject(backend.entries('v'))).toEqual(Object.fromEntries(model.v));
          expect(asObject(backend.entries('l'))).toEqual(Object.fromEntries(model.l));
          expect(asObject(backend.entries('m'))).toEqual(Object.fromEntries(model.m));
          for (const k of ['a', 'b', 'c', 'd']) {
            backend.setCurrentKey(k);
            expect(v.value()).toBe(model.v.get(k));
            expect(l.get()).toEqual(model.l.get(k) ?? []);
            expect(new Map(m.entries())).toEqual(model.m.get(k) ?? new Map());
          }
        }),
        { numRuns: 200 },
      );
    });
  });
}
