// Law: rescaling through savepoints preserves every key's keyed state and timers, each owned by
// exactly one subtask, whichever backend wrote or reads it. Three runs at random parallelisms
// p1 -> p2 -> p3 (each 1..16) on random backends (heap or disk), sometimes
// with the savepoint rewritten into another number of key groups before the third; the first
// two stop with a savepoint after their records, the third ends its input, so every key's
// event-time timer (registered once, restored twice) fires exactly once and reports the key's
// value, list and map state, which must equal what all three runs' records made of it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type KeyedProcessContext,
  type ListState,
  ListStateDescriptor,
  type MapState,
  MapStateDescriptor,
  type RuntimeContext,
  StreamEnvironment,
  type ValueState,
  ValueStateDescriptor,
} from '../../../src/index.js';
import { rekeySavepoint } from '../../../src/checkpoint/savepoint-rekey.js';

type Rec = { key: string; v: number };
type Report = { key: string; sum: number; list: number[]; map: Array<[number, number]> } | { ack: true };

class Inspector {
  private sum!: ValueState<number>;
  private list!: ListState<number>;
  private map!: MapState<number, number>;

  open(ctx: RuntimeContext): void {
    this.sum = ctx.getState(new ValueStateDescriptor<number>('sum'));
    this.list = ctx.getListState(new ListStateDescriptor<number>('list'));
    this.map = ctx.getMapState(new MapStateDescriptor<number, number>('map'));
  }

  processElement(r: Rec, ctx: KeyedProcessContext<string>, out: { collect(r: Report): void }): void {
    this.sum.update((this.sum.value() ?? 0) + r.v);
    this.list.add(r.v);
    this.map.put(r.v % 3, (this.map.get(r.v % 3) ?? 0) + 1);
    ctx.timerService().registerEventTimeTimer(5); // once per key: timers are deduplicated
    out.collect({ ack: true });
  }

  onTimer(_ts: number, ctx: KeyedProcessContext<string>, out: { collect(r: Report): void }): void {
    out.collect({ key: ctx.getCurrentKey(), sum: this.sum.value() ?? 0, list: [...this.list.get()], map: [...this.map.entries()].sort((a, b) => a[0] - b[0]) });
  }
}

/** Runs one phase; phases before the last stop with a savepoint once their records are processed. */
async function phase(records: Rec[], parallelism: number, backend: 'heap' | 'disk', dir: string, from: string | undefined, last: boolean): Promise<{ reports: Report[]; savepoint?: string }> {
  const reports: Report[] = [];
  const env = StreamEnvironment.create({
    parallelism,
    stateBackend: backend === 'disk' ? { kind: 'disk', dir: join(dir, `state-${Math.random()}`) } : 'heap',
    checkpointing: { directory: join(dir, `chk-${parallelism}-${Math.random()}`), intervalMs: 60_000 },
    fromSavepoint: from,
    allowNonRestoredState: true, // each phase has its own collection source
    log: () => {},
  });
  let stream = env.fromCollection(records).uid(`records-${Math.random()}`);
  // Keeps the job running (an ended input would fire the timers) until it is stopped with a savepoint.
  if (!last) stream = stream.union(env.fromGenerator(() => ({ key: '', v: 0 }), { eventsPerSecond: 10 }).uid('keep-alive').filter(() => false));
  stream
    .keyBy((r) => r.key)
    .process<Report>(new Inspector())
    .uid('inspector')
    .addSink((r) => void reports.push(r));
  const client = env.executeAsync('rescale-keyed-state');
  if (last) {
    await client.result;
    return { reports };
  }
  while (reports.length < records.length) await new Promise((r) => setTimeout(r, 5));
  const savepoint = await client.stopWithSavepoint(join(dir, 'savepoints'));
  await client.result;
  return { reports, savepoint };
}

const recordsArb = fc.array(fc.record({ key: fc.constantFrom(...Array.from({ length: 30 }, (_, i) => `key-${i}`)), v: fc.integer({ min: 0, max: 1000 }) }), { maxLength: 60 });

describe('rescaling keyed state and timers through savepoints, on either backend', () => {
  it('preserves every key\'s state and timer, each owned by exactly one subtask, over p1 -> p2 -> (rekey) -> p3', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(recordsArb, recordsArb, recordsArb),
        fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 })),
        fc.option(fc.integer({ min: 16, max: 300 })),
        fc.tuple(fc.constantFrom('heap' as const, 'disk' as const), fc.constantFrom('heap' as const, 'disk' as const), fc.constantFrom('heap' as const, 'disk' as const)),
        async (batches, parallelisms, rekeyTo, backends) => {
          const dir = mkdtempSync(join(tmpdir(), 'floe-rescale-prop-'));
          try {
            let from: string | undefined;
            let reports: Report[] = [];
            for (let k = 0; k < 3; k++) {
              const result = await phase(batches[k], parallelisms[k], backends[k], dir, from, k === 2);
              from = result.savepoint;
              reports = result.reports;
              if (k === 1 && rekeyTo !== null) {
                // Between the second and third run: into another number of key groups (floe savepoint rekey).
                const rekeyed = join(dir, 'rekeyed');
                await rekeySavepoint({ from: from!, to: rekeyed, maxParallelism: rekeyTo });
                from = rekeyed;
              }
            }
            const expected = new Map<string, { key: string; sum: number; list: number[]; map: Map<number, number> }>();
            for (const r of batches.flat()) {
              const e = expected.get(r.key) ?? { key: r.key, sum: 0, list: [] as number[], map: new Map<number, number>() };
              e.sum += r.v;
              e.list.push(r.v);
              e.map.set(r.v % 3, (e.map.get(r.v % 3) ?? 0) + 1);
              expected.set(r.key, e);
            }
            const finals = reports.filter((r): r is Exclude<Report, { ack: true }> => !('ack' in r)).sort((a, b) => a.key.localeCompare(b.key));
            expect(finals).toEqual(
              [...expected.values()].sort((a, b) => a.key.localeCompare(b.key)).map((e) => ({ ...e, map: [...e.map].sort((a, b) => a[0] - b[0]) })),
            );
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});
