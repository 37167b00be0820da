// Snapshot and restore, shared by every keyed backend: restore(snapshot(s)) = s, snapshots are
// unaffected by changes made while they are written, and a restore reads only its key groups.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { KeyGroupRange, assignToKeyGroup, computeKeyGroupRangeForOperatorIndex } from '../../src/core/key-groups.js';
import { ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js';
import { concatChunks, restoredFromBytes } from '../../src/state/keyed-snapshot.js';
import type { KeyedStateBackend, SharedStateStore } from '../../src/state/keyed-state-backend.js';
import { StateTtlConfig } from '../../src/state/ttl/state-ttl-config.js';

export type BackendFactory = (options: { clock: ManualClock; maxParallelism: number; keyGroupRange: KeyGroupRange }) => KeyedStateBackend;

const descriptors = () => ({
  v: new ValueStateDescriptor<{ n: number; tags: string[] }>('v'),
  l: new ListStateDescriptor<number>('l'),
  m: new MapStateDescriptor<string, number>('m'),
  r: new ReducingStateDescriptor<number>('r', { reduce: (a, b) => a + b }),
});

function register(backend: KeyedStateBackend) {
  const d = descriptors();
  return { v: backend.getState(d.v), l: backend.getListState(d.l), m: backend.getMapState(d.m), r: backend.getReducingState(d.r) };
}

function dump(backend: KeyedStateBackend) {
  const byKey = (name: string) =>
    backend
      .entries(name)
      .map((e) => [JSON.stringify(e.key), e.namespace, e.value instanceof Map ? [...e.value].sort() : e.value])
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return {
    v: byKey('v'),
    l: byKey('l'),
    m: byKey('m'),
    r: byKey('r'),
    timers: backend.getTimerQueue('event-timers').entries(),
  };
}

async function roundTrip(source: KeyedStateBackend, targets: KeyedStateBackend[], canonical: boolean) {
  const result = await source.snapshot({ checkpointId: 1, canonical }).write();
  const restored = restoredFromBytes(result.meta, concatChunks(result.data));
  for (const t of targets) {
    await t.restore([restored]);
    register(t);
  }
  return result;
}

export function describeSnapshotContract(name: string, create: BackendFactory): void {
  const make = (maxParallelism = 32, range = KeyGroupRange.of(0, 31), clock = new ManualClock(0)) =>
    create({ clock, maxParallelism, keyGroupRange: range });

  // Every law holds for the backend's own checkpoints and for canonical snapshots (savepoints) alike.
  const modes = [
    { canonical: false, kind: 'snapshots' },
    { canonical: true, kind: 'canonical snapshots' },
  ];
  describe.each(modes)(`${name} backend $kind`, ({ canonical }) => {
    it('restores exactly what was snapshotted (property)', async () => {
      const keyArb = fc.oneof(fc.string({ maxLength: 5 }), fc.integer({ min: -5, max: 5 }), fc.tuple(fc.constantFrom('a', 'b'), fc.nat(3)));
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(keyArb, fc.nat(1000), fc.constantFrom('', 'w1', 7)), { maxLength: 40 }),
          async (ops) => {
            const source = make();
            const s = register(source);
            const timers = source.getTimerQueue('event-timers');
            for (const [key, n, ns] of ops) {
              source.setCurrentKey(key);
              s.v.update({ n, tags: [`t${n}`] });
              s.l.setCurrentNamespace(ns);
              s.l.add(n);
              s.m.put(`k${n % 3}`, n);
              s.r.add(n);
              timers.add(n, ns);
            }
            const target = make();
            await roundTrip(source, [target], canonical);
            expect(dump(target)).toEqual(dump(source));
          },
        ),
        { numRuns: 60 },
      );
    });

    it('is not changed by writes, in-place mutations and deletes made while it is written', async () => {
      const source = make();
      const s = register(source);
      for (const k of ['a', 'b', 'c']) {
        source.setCurrentKey(k);
        s.v.update({ n: 1, tags: ['x'] });
        s.l.add(1);
        s.m.put('e', 1);
      }
      // a deep copy: inspection shows the heap's live objects, which the user changes in place below
      const before = structuredClone(dump(source));
      const runner = source.snapshot({ checkpointId: 7, canonical });
      // processing goes on while the snapshot is written
      source.setCurrentKey('a');
      const value = s.v.value()!;
      value.n = 99; // the user mutates the object it read
      value.tags.push('mutated');
      s.v.update(value);
      s.l.add(2);
      s.m.put('e', 2);
      source.setCurrentKey('b');
      s.v.clear();
      s.l.clear();
      s.m.clear();
      source.setCurrentKey('new-key');
      s.v.update({ n: 5, tags: [] });
      const result = await runner.write();
      const target = make();
      await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
      register(target);
      expect(dump(target)).toEqual(before);
      source.setCurrentKey('a');
      expect(s.v.value()).toEqual({ n: 99, tags: ['x', 'mutated'] }); // the live state kept the changes
    });

    it('is not changed by updates, deletes and re-inserts made between the chunks of its asynchronous write', async () => {
      const source = make();
      const v = source.getState(new ValueStateDescriptor<{ n: number }>('big'));
      const keys = Array.from({ length: 12_000 }, (_, i) => `key-${i}`);
      for (const [i, k] of keys.entries()) {
        source.setCurrentKey(k);
        v.update({ n: i });
      }
      const before = source.entries('big').map((e) => [e.key, (e.value as { n: number }).n]);
      const writing = source.snapshot({ checkpointId: 3, canonical }).write();
      // Keep processing while the snapshot is written, a slice of keys per turn of the event loop.
      for (let round = 0; round < 12; round++) {
        await new Promise((r) => setImmediate(r));
        for (let i = round; i < keys.length; i += 12) {
          source.setCurrentKey(keys[i]);
          if (i % 3 === 0) v.clear();
          else if (i % 3 === 1) v.value()!.n = -1; // in-place change of a read value
          else {
            v.clear();
            v.update({ n: -2 }); // deleted and inserted again
          }
        }
      }
      const result = await writing;
      expect(result.meta.entries).toBe(keys.length);
      const target = make();
      await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
      target.getState(new ValueStateDescriptor<{ n: number }>('big'));
      const after = target.entries('big').map((e) => [e.key, (e.value as { n: number }).n]);
      expect(after.sort()).toEqual(before.sort());
    });

    it('holds the state as it was at its barrier whatever records do while it is written (property)', async () => {
      // Each op acts on one of a few hot keys; between the chunks of the write (which yields after
      // every few thousand entries of background state), rounds of ops run as records would.
      const op = fc.record({
        key: fc.integer({ min: 0, max: 15 }),
        kind: fc.constantFrom('set', 'mutate', 'clear', 'add', 'clearList', 'put', 'remove', 'reduce', 'timer', 'untimer', 'poll'),
        n: fc.integer({ min: 0, max: 5 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.array(fc.array(op, { maxLength: 8 }), { maxLength: 6 }), async (initial, rounds) => {
          const source = make();
          // Registered first, so the writer spends its first chunks here and reaches the hot keys' states only after rounds of ops.
          const background = source.getState(new ValueStateDescriptor<number>('background'));
          const s = register(source);
          const timers = source.getTimerQueue('event-timers');
          for (let i = 0; i < 20_000; i++) {
            source.setCurrentKey(`bg-${i}`);
            background.update(i);
          }
          const apply = (ops: Array<{ key: number; kind: string; n: number }>) => {
            for (const { key, kind, n } of ops) {
              source.setCurrentKey(`hot-${key}`);
              if (kind === 'set') s.v.update({ n, tags: [String(n)] });
              else if (kind === 'mutate') {
                const value = s.v.value();
                if (value !== undefined) {
                  value.n += n; // in place, then written back
                  value.tags.push('m');
                  s.v.update(value);
                }
              } else if (kind === 'clear') s.v.clear();
              else if (kind === 'add') s.l.add(n);
              else if (kind === 'clearList') s.l.clear();
              else if (kind === 'put') s.m.put(`e${n}`, n);
              else if (kind === 'remove') s.m.remove(`e${n}`);
              else if (kind === 'reduce') s.r.add(n);
              else if (kind === 'timer') timers.add(100 + n, '');
              else if (kind === 'untimer') timers.remove(100 + n, '');
              else timers.poll();
            }
          };
          apply(initial);
          const before = structuredClone(dump(source));
          const writing = source.snapshot({ checkpointId: 9, canonical }).write();
          for (const round of rounds) {
            await new Promise((r) => setImmediate(r));
            apply(round);
          }
          const result = await writing;
          const target = make();
          await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
          register(target);
          target.getState(new ValueStateDescriptor<number>('background'));
          expect(dump(target)).toEqual(before);
          expect(target.entries('background')).toHaveLength(20_000);
          await Promise.all([source.dispose(), target.dispose()]);
        }),
        {
          numRuns: 25,
          // A value replaced (not read first) and a list element added after the barrier, before the writer gets to them.
          examples: [
            [
              [
                { key: 1, kind: 'set', n: 0 },
                { key: 2, kind: 'add', n: 1 },
              ],
              [[{ key: 1, kind: 'set', n: 1 }], [{ key: 2, kind: 'add', n: 2 }]],
            ],
          ],
        },
      );
    });

    it('keeps restored state that nobody registered in every later snapshot', async () => {
      const source = make();
      const s = register(source);
      for (const k of ['a', 'b', 'c']) {
        source.setCurrentKey(k);
        s.v.update({ n: 1, tags: [k] });
        s.l.add(2);
        s.m.put('e', 3);
        s.r.add(4);
      }
      const expected = dump(source);
      let snapshot = await source.snapshot({ checkpointId: 1, canonical }).write();
      // Three generations restore and snapshot again without touching the state (a function that
      // calls getState lazily and saw no record in between).
      for (let checkpointId = 2; checkpointId <= 4; checkpointId++) {
        const idle = make();
        await idle.restore([restoredFromBytes(snapshot.meta, concatChunks(snapshot.data))]);
        snapshot = await idle.snapshot({ checkpointId, canonical }).write();
        expect(snapshot.meta.states.map((st) => st.name).sort()).toEqual(['l', 'm', 'r', 'v']);
      }
      const target = make();
      await target.restore([restoredFromBytes(snapshot.meta, concatChunks(snapshot.data))]);
      register(target);
      expect(dump(target)).toEqual({ ...expected, timers: [] });
    });

    it('is not changed when restored state it holds unclaimed is registered and changed while it is written', async () => {
      const source = make();
      const s = register(source);
      source.setCurrentKey('a');
      s.v.update({ n: 1, tags: ['x'] });
      s.l.add(1);
      const first = await source.snapshot({ checkpointId: 1, canonical }).write();
      const idle = make();
      await idle.restore([restoredFromBytes(first.meta, concatChunks(first.data))]);
      const runner = idle.snapshot({ checkpointId: 2, canonical });
      const claimed = register(idle);
      idle.setCurrentKey('a');
      claimed.v.value()!.tags.push('mutated');
      claimed.l.add(2);
      const second = await runner.write();
      const target = make();
      await target.restore([restoredFromBytes(second.meta, concatChunks(second.data))]);
      const restored = register(target);
      target.setCurrentKey('a');
      expect(restored.v.value()).toEqual({ n: 1, tags: ['x'] });
      expect(restored.l.get()).toEqual([1]);
    });

    it('restores into several subtasks, each reading only the key groups it owns', async () => {
      const source = make(32, KeyGroupRange.of(0, 31));
      const s = register(source);
      const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
      for (const k of keys) {
        source.setCurrentKey(k);
        s.v.update({ n: 1, tags: [k] });
        source.getTimerQueue('event-timers').add(10, '');
      }
      const targets = [0, 1, 2].map((i) => make(32, computeKeyGroupRangeForOperatorIndex(32, 3, i)));
      await roundTrip(source, targets, canonical);
      targets.forEach((t, i) => {
        const range = computeKeyGroupRangeForOperatorIndex(32, 3, i);
        const owned = keys.filter((k) => range.contains(assignToKeyGroup(k, 32)));
        expect(t.entries('v').map((e) => e.key).sort()).toEqual(owned.sort());
        expect(t.getTimerQueue('event-timers').size).toBe(owned.length);
      });
    });

    it('records serializers and rejects a restore into a different state kind', async () => {
      const source = make();
      register(source);
      source.setCurrentKey('a');
      source.getState(descriptors().v).update({ n: 1, tags: [] });
      const result = await source.snapshot({ checkpointId: 1, canonical }).write();
      expect(result.meta.states.find((st) => st.name === 'v')).toEqual({ name: 'v', kind: 'value', serializer: 'msgpack@1', ttl: false });
      const target = make();
      await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
      expect(() => target.getListState(new ListStateDescriptor<number>('v'))).toThrow(/checkpoint holds value state/);
    });

    it('leaves expired entries out when TTL asks for cleanup on full snapshots', async () => {
      const clock = new ManualClock(0);
      const source = make(32, KeyGroupRange.of(0, 31), clock);
      const ttl = StateTtlConfig.newBuilder(100).cleanupFullSnapshot().build();
      const v = source.getState(new ValueStateDescriptor<number>('t', { ttl }));
      source.setCurrentKey('old');
      v.update(1);
      clock.set(60);
      source.setCurrentKey('young');
      v.update(2);
      clock.set(120);
      const result = await source.snapshot({ checkpointId: 1, canonical }).write();
      const target = make(32, KeyGroupRange.of(0, 31), clock);
      await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
      target.getState(new ValueStateDescriptor<number>('t', { ttl }));
      expect(target.entries('t').map((e) => e.key)).toEqual(['young']);
      expect(target.entries('t')[0].lastAccessTime).toBe(60);
    });
  });

  describe(`${name} backend canonical snapshot format`, () => {
    it('is self-contained: key-group blocks in the data, no shared files, even when shared storage is given', async () => {
      const source = make();
      const s = register(source);
      for (const k of ['a', 'b', 'c', 4, ['t', 1]]) {
        source.setCurrentKey(k);
        s.v.update({ n: 1, tags: [] });
        s.l.add(1);
        source.getTimerQueue('event-timers').add(5, '');
      }
      const shared: SharedStateStore = {
        put: () => {
          throw new Error('a canonical snapshot must not write shared files');
        },
      };
      const result = await source.snapshot({ checkpointId: 1, shared, canonical: true }).write();
      expect(result.meta.backend).toBe('canonical');
      expect(result.meta.format).toBe(2);
      expect(result.meta.disk).toBeUndefined();
      expect(result.sharedFiles ?? []).toEqual([]);
      const groups = result.meta.keyGroups.map(([g]) => g);
      expect(groups).toEqual([...groups].sort((a, b) => a - b));
      expect(result.meta.keyGroups.reduce((n, [, , length]) => n + length, 0)).toBe(result.bytes);
      expect(concatChunks(result.data).length).toBe(result.bytes);
    });

    it('reports how much of a canonical snapshot is written: nothing before, all after', async () => {
      const source = make();
      const v = source.getState(descriptors().v);
      for (let i = 0; i < 20_000; i++) {
        source.setCurrentKey(`key-${i}`);
        v.update({ n: i, tags: [] });
      }
      const runner = source.snapshot({ checkpointId: 1, canonical: true });
      expect(runner.progress?.()).toBe(0);
      const seen: number[] = [];
      const written = runner.write();
      for (let i = 0; i < 50; i++) {
        seen.push(runner.progress!());
        await new Promise((r) => setImmediate(r));
      }
      await written;
      expect(runner.progress?.()).toBe(1);
      expect(seen).toEqual([...seen].sort((a, b) => a - b)); // never goes back
      expect(seen.some((x) => x > 0 && x < 1)).toBe(true); // and is seen in between
    });

    it('refuses a canonical snapshot in a block format it does not know, naming the format', async () => {
      const source = make();
      source.setCurrentKey('a');
      source.getState(descriptors().v).update({ n: 1, tags: [] });
      const result = await source.snapshot({ checkpointId: 1, canonical: true }).write();
      const target = make();
      const future = restoredFromBytes({ ...result.meta, format: 99 }, concatChunks(result.data));
      await expect(async () => target.restore([future])).rejects.toThrow(/block format 99.*reads formats 1 and 2/);
    });

    it('refuses a damaged canonical snapshot, naming the key group that cannot be read', async () => {
      const source = make();
      source.setCurrentKey('a');
      source.getState(descriptors().v).update({ n: 1, tags: ['x'] });
      const result = await source.snapshot({ checkpointId: 1, canonical: true }).write();
      const [[keyGroup, , length]] = result.meta.keyGroups;
      const bytes = concatChunks(result.data);
      const damaged = restoredFromBytes({ ...result.meta, keyGroups: [[keyGroup, 0, length - 3]] }, bytes);
      const target = make();
      await expect(async () => {
        await target.restore([damaged]);
        target.getState(descriptors().v);
      }).rejects.toThrow(new RegExp(`key group ${keyGroup} of the canonical snapshot cannot be read.*damaged`));
    });

    it('refuses a snapshot of a backend it does not know, saying how to move the state', async () => {
      const source = make();
      source.setCurrentKey('a');
      source.getState(descriptors().v).update({ n: 1, tags: [] });
      const result = await source.snapshot({ checkpointId: 1 }).write();
      const target = make();
      const alien = restoredFromBytes({ ...result.meta, backend: 'rocksdb', disk: undefined }, concatChunks(result.data));
      await expect(async () => target.restore([alien])).rejects.toThrow(/taken with the rocksdb state backend.*take a savepoint/);
    });
  });
}
