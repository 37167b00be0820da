// Canonical snapshots (savepoints) move state between backends and parallelisms: random state of
// every kind goes heap -> canonical -> disk -> canonical -> heap and disk -> canonical -> heap, each
// step restored into 1..4 subtasks that split the key groups, and every key's state and timers
// come out identical, each in exactly one subtask; restored state nobody claimed survives too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { assignToKeyGroup, computeKeyGroupRangeForOperatorIndex, KeyGroupRange } from '../../../../src/core/key-groups.js';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  type StateDescriptor,
  ValueStateDescriptor,
} from '../../../../src/state/descriptors.js';
import { DiskStateBackend } from '../../../../src/state/disk/disk-state-backend.js';
import { HeapStateBackend } from '../../../../src/state/heap/heap-state-backend.js';
import { concatChunks, type KeyedSnapshotResult, restoredFromBytes } from '../../../../src/state/keyed-snapshot.js';
import type { KeyedStateBackend, Namespace } from '../../../../src/state/keyed-state-backend.js';
import { JsonSerializer, type TypeSerializer } from '../../../../src/state/serde/type-serializer.js';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../../../../src/state/state.js';
import { StateTtlConfig } from '../../../../src/state/ttl/state-ttl-config.js';

type BackendKind = 'heap' | 'disk';

const root = mkdtempSync(join(tmpdir(), 'floe-canonical-'));
let dirs = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Nothing expires during a run: TTL timestamps must travel unchanged. */
const ttl = StateTtlConfig.newBuilder(3_600_000).build();
const json = new JsonSerializer();
/** A key serializer no backend knows by its identity: the disk backend needs the descriptor to store its keys. */
const taggedKeys: TypeSerializer<unknown> = {
  id: 'tagged-keys',
  version: 1,
  serialize: (k) => Buffer.from(`K${JSON.stringify(k)}`),
  deserialize: (b) => JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString().slice(1)) as unknown,
};
const average = {
  createAccumulator: () => ({ n: 0, total: 0 }),
  add: (v: number, acc: { n: number; total: number }) => ({ n: acc.n + 1, total: acc.total + v }),
  getResult: (acc: { n: number; total: number }) => acc.total / acc.n,
};

/** Every kind, inlined (msgpack) and serializer-bytes (json) payloads, with and without TTL. */
function descriptors(): StateDescriptor[] {
  return [
    new ValueStateDescriptor<unknown>('value'),
    new ValueStateDescriptor<unknown>('value-ttl', { ttl }),
    new ValueStateDescriptor<unknown>('value-json', { serializer: json }),
    new ListStateDescriptor<unknown>('list'),
    new ListStateDescriptor<unknown>('list-ttl-json', { ttl, serializer: json }),
    new MapStateDescriptor<unknown, unknown>('map'),
    new MapStateDescriptor<unknown, unknown>('map-ttl', { ttl }),
    new MapStateDescriptor<unknown, unknown>('map-json-ttl', { serializer: json, keySerializer: json, ttl }),
    new MapStateDescriptor<unknown, unknown>('map-tagged', { keySerializer: taggedKeys }),
    new ReducingStateDescriptor<number>('sum', { reduce: (a, b) => a + b }),
    new AggregatingStateDescriptor<number, { n: number; total: number }, number>('average', { aggregate: average, ttl }),
  ];
}

interface Handles {
  value: ValueState<unknown>;
  valueTtl: ValueState<unknown>;
  valueJson: ValueState<unknown>;
  list: ListState<unknown>;
  listJson: ListState<unknown>;
  map: MapState<unknown, unknown>;
  mapTtl: MapState<unknown, unknown>;
  mapJson: MapState<unknown, unknown>;
  mapTagged: MapState<unknown, unknown>;
  sum: ReducingState<number>;
  average: AggregatingState<number, number>;
  all: Array<{ setCurrentNamespace(ns: Namespace): void }>;
}

function register(b: KeyedStateBackend): Handles {
  const all = descriptors().map((d) => b.getPartitionedState(d as never));
  const [value, valueTtl, valueJson, list, listJson, map, mapTtl, mapJson, mapTagged, sum, avg] = all as never[];
  return { value, valueTtl, valueJson, list, listJson, map, mapTtl, mapJson, mapTagged, sum, average: avg, all: all as Handles['all'] };
}

interface Op {
  key: unknown;
  ns: Namespace;
  op: number;
  value: unknown;
  json: unknown;
  userKey: unknown;
  n: number;
  ts: number;
}

const keyArb = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.integer({ min: -20, max: 20 }),
  fc.tuple(fc.constantFrom('a', 'b'), fc.nat(4)),
  fc.bigInt({ min: -3n, max: 3n }),
  fc.constantFrom<unknown>('\u0001x', 'é', true, { id: 1 }),
);
const valueArb = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }).filter((x) => !Object.is(x, -0)),
  fc.string({ maxLength: 6 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.record({ a: fc.integer(), b: fc.string({ maxLength: 3 }) }),
);
const jsonArb = fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.array(fc.integer(), { maxLength: 3 }));
const opArb: fc.Arbitrary<Op> = fc.record({
  key: keyArb,
  ns: fc.constantFrom<Namespace>('', 'w1', 7, 'é'),
  op: fc.nat(16),
  value: valueArb,
  json: jsonArb,
  userKey: fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -5, max: 5 }), fc.tuple(fc.constant('x'), fc.nat(2))),
  n: fc.integer({ min: -100, max: 100 }),
  ts: fc.integer({ min: 0, max: 40 }),
});

function apply(b: KeyedStateBackend, h: Handles, ops: Op[], clock: ManualClock): void {
  const event = b.getTimerQueue('event-timers');
  const processing = b.getTimerQueue('processing-timers');
  for (const o of ops) {
    clock.advance(1);
    b.setCurrentKey(o.key);
    for (const s of h.all) s.setCurrentNamespace(o.ns);
    switch (o.op) {
      case 0:
        h.value.update(o.value);
        break;
      case 1:
        h.valueTtl.update(o.value);
        break;
      case 2:
        h.valueJson.update(o.json);
        break;
      case 3:
        h.list.add(o.value);
        break;
      case 4:
        h.listJson.add(o.json);
        break;
      case 5:
        h.map.put(o.userKey, o.value);
        break;
      case 6:
        h.mapTtl.put(o.userKey, o.value);
        break;
      case 7:
        h.mapJson.put(o.userKey, o.json);
        break;
      case 8:
        h.sum.add(o.n);
        break;
      case 9:
        h.average.add(o.n);
        break;
      case 10:
        event.add(o.ts, o.ns);
        break;
      case 11:
        processing.add(o.ts, o.ns);
        break;
      case 12:
        h.map.remove(o.userKey);
        break;
      case 13:
        h.value.clear();
        break;
      case 14:
        event.remove(o.ts, o.ns);
        break;
      case 15:
        h.mapTagged.put(o.userKey, o.value);
        break;
      default:
        h.list.update([o.value, o.n]);
    }
  }
}

const show = (v: unknown): string => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));

/** Every state entry and timer of some subtasks, as sorted rows; each must sit in the subtask that owns its key. */
function dump(backends: KeyedStateBackend[], withState: boolean): string[] {
  const rows: string[] = [];
  for (const b of backends) {
    const owns = (key: unknown) => b.keyGroupRange.contains(assignToKeyGroup(key, b.maxParallelism));
    if (withState)
      for (const d of descriptors())
        for (const e of b.entries(d.name)) {
          expect(owns(e.key), `${show(e.key)} in a subtask that does not own it`).toBe(true);
          const value = e.value instanceof Map ? [...e.value].map(([k, v]) => show([k, v])).sort() : e.value;
          rows.push(show([d.name, e.key, e.namespace, value, e.lastAccessTime ?? null]));
        }
    for (const queue of ['event-timers', 'processing-timers'])
      for (const t of b.getTimerQueue(queue).entries()) {
        expect(owns(t.key)).toBe(true);
        rows.push(show([queue, t.key, t.namespace, t.timestamp]));
      }
  }
  return rows.sort();
}

describe('canonical snapshots between backends', () => {
  const created: KeyedStateBackend[] = [];
  const create = (kind: BackendKind, maxParallelism: number, range: KeyGroupRange, clock: ManualClock, subtask = 0, parallelism = 1) => {
    const options = { operator: 'op', job: 'portability', subtask, parallelism, maxParallelism, keyGroupRange: range, ttlClock: clock };
    const b = kind === 'heap' ? new HeapStateBackend().createKeyedStateBackend(options) : new DiskStateBackend({ dir: join(root, `d${dirs++}`) }).createKeyedStateBackend(options);
    created.push(b);
    return b;
  };
  const disposeAll = async () => {
    await Promise.all(created.splice(0).map((b) => b.dispose()));
  };

  /**
   * Restores `snapshots` into `parallelism` subtasks of `kind` (each from every snapshot), checks
   * them against `expected` when `claim` (registering the states), and returns their canonical snapshots.
   */
  async function stage(
    kind: BackendKind,
    parallelism: number,
    snapshots: KeyedSnapshotResult[],
    maxParallelism: number,
    clock: ManualClock,
    expected: string[],
    claim: boolean,
  ): Promise<KeyedSnapshotResult[]> {
    const restored = snapshots.map((s) => restoredFromBytes(s.meta, concatChunks(s.data)));
    const subtasks: KeyedStateBackend[] = [];
    for (let i = 0; i < parallelism; i++) {
      const b = create(kind, maxParallelism, computeKeyGroupRangeForOperatorIndex(maxParallelism, parallelism, i), clock, i, parallelism);
      await b.restore(restored);
      if (claim) register(b);
      subtasks.push(b);
    }
    expect(dump(subtasks, claim)).toEqual(claim ? expected : expected.filter((row) => row.includes('-timers')));
    const out: KeyedSnapshotResult[] = [];
    for (const b of subtasks) out.push(await b.snapshot({ checkpointId: 1, canonical: true }).write());
    for (const s of out) expect(s.meta.backend).toBe('canonical');
    return out;
  }

  it('keep every key, namespace, value, TTL timestamp and timer, each in exactly one subtask (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 60 }),
        fc.constantFrom(16, 128),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
        fc.boolean(),
        async (ops, maxParallelism, [p1, p2, p3], claimInBetween) => {
          try {
            for (const path of [['heap', 'disk', 'heap'], ['disk', 'heap']] as BackendKind[][]) {
              const clock = new ManualClock(1_000);
              const source = create(path[0], maxParallelism, KeyGroupRange.of(0, maxParallelism - 1), clock);
              apply(source, register(source), ops, clock);
              const expected = dump([source], true);
              let snapshots = [await source.snapshot({ checkpointId: 1, canonical: true }).write()];
              const parallelisms = [p1, p2, p3];
              for (let i = 1; i < path.length; i++) {
                const last = i === path.length - 1;
                snapshots = await stage(path[i], parallelisms[i - 1], snapshots, maxParallelism, clock, expected, last || claimInBetween);
              }
            }
          } finally {
            await disposeAll();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it.each(['heap', 'disk'] as BackendKind[])('keep restored state nobody claimed through canonical snapshots of the %s backend', async (kind) => {
    const clock = new ManualClock(1_000);
    try {
      const source = create('heap', 32, KeyGroupRange.of(0, 31), clock);
      const ops: Op[] = Array.from({ length: 68 }, (_, i) => ({ key: `k${i % 9}`, ns: i % 3 === 0 ? 'w' : '', op: i % 17, value: { i }, json: [i], userKey: i % 4, n: i, ts: i }));
      apply(source, register(source), ops, clock);
      const expected = dump([source], true);
      let snapshot = await source.snapshot({ checkpointId: 1, canonical: true }).write();
      // Three generations restore and snapshot again without registering any state.
      for (let generation = 0; generation < 3; generation++) {
        const idle = create(kind, 32, KeyGroupRange.of(0, 31), clock);
        await idle.restore([restoredFromBytes(snapshot.meta, concatChunks(snapshot.data))]);
        snapshot = await idle.snapshot({ checkpointId: 2 + generation, canonical: true }).write();
        expect(snapshot.meta.states.map((s) => s.name).sort()).toEqual(descriptors().map((d) => d.name).sort());
      }
      const target = create(kind === 'heap' ? 'disk' : 'heap', 32, KeyGroupRange.of(0, 31), clock);
      await target.restore([restoredFromBytes(snapshot.meta, concatChunks(snapshot.data))]);
      register(target);
      expect(dump([target], true)).toEqual(expected);
    } finally {
      await disposeAll();
    }
  });
});
