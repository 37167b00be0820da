// Event time across a restore: operators resume at the watermark they had at the barrier, so a
// late record right after a restore is judged as in a run without the failure.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Collector, type KeyedProcessContext, StreamEnvironment, WatermarkStrategy } from '../../../src/index.js';
import { assignRestoredState, type TaskSnapshotFile } from '../../../src/checkpoint/restore-assignment.js';
import { IndexSource } from '../../fixtures/index-source.js';

interface Event {
  id: string;
  time: number;
}

const EVENTS: Event[] = [
  { id: 'a', time: 1000 },
  { id: 'b', time: 2000 },
  { id: 'c', time: 3000 },
  // batch boundary (and, in the second run, the checkpoint)
  { id: 'late', time: 1500 },
  { id: 'd', time: 4000 },
];
const BOUNDARY = 3;

/** Emits EVENTS in two batches split at BOUNDARY; while `paused`, waits at the boundary. */
class ScriptedSource extends IndexSource<Event> {
  paused: boolean;
  constructor(paused = false) {
    super({ name: 'Scripted Source', count: EVENTS.length, record: (i) => EVENTS[i], limit: (next) => (next < BOUNDARY || this.paused ? BOUNDARY : EVENTS.length) });
    this.paused = paused;
  }
}

function judgeLateness(e: Event, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
  out.collect(`${e.id}:${e.time < ctx.timerService().currentWatermark() ? 'late' : 'on time'}`);
}

function job(env: StreamEnvironment, source: ScriptedSource, output: string[]) {
  env
    .fromSource(source)
    .uid('events')
    .assignTimestampsAndWatermarks(WatermarkStrategy.forBoundedOutOfOrderness<Event>(0).withTimestampAssigner((e) => e.time))
    .keyBy(() => 'all')
    .process({ processElement: judgeLateness })
    .uid('judge')
    .addSink((v: string) => output.push(v))
    .uid('sink');
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('watermarks across a restore', () => {
  it('judges a late record right after a restore as a run without the failure does', async () => {
    const straight: string[] = [];
    const env = StreamEnvironment.create({ log: () => {} });
    job(env, new ScriptedSource(), straight);
    await env.execute('straight');
    expect(straight).toEqual(['a:on time', 'b:on time', 'c:on time', 'late:late', 'd:on time']);

    // Checkpoint at the boundary (after the watermark of the first batch), then stop.
    const directory = join(mkdtempSync(join(tmpdir(), 'floe-wm-restore-')), 'chk');
    const first: string[] = [];
    const paused = new ScriptedSource(true);
    const before = StreamEnvironment.create({ checkpointing: { directory }, log: () => {} });
    job(before, paused, first);
    const client = before.executeAsync('before');
    await until(() => first.length === BOUNDARY);
    const checkpointId = await client.triggerCheckpoint();
    client.cancel();
    await expect(client.result).rejects.toThrow(/cancelled/);

    const resumed: string[] = [];
    const after = StreamEnvironment.create({ checkpointing: { directory }, restore: checkpointId, log: () => {} });
    job(after, new ScriptedSource(), resumed);
    await after.execute('after');
    expect([...first, ...resumed]).toEqual(straight);
  });
});

describe('restored watermarks', () => {
  const file = (watermark: number, judge: number): TaskSnapshotFile => ({ operators: {}, watermark, operatorWatermarks: { judge } });
  const old = [
    { index: 0, file: file(300, 290) },
    { index: 1, file: file(200, 190) },
  ];

  it('gives each subtask its own watermarks at the same parallelism', () => {
    const r = assignRestoredState({ checkpointId: 1, operatorUids: ['judge'], subtaskIndex: 0, parallelism: 2, old })!;
    expect(r.watermarks).toEqual({ task: 300, operators: { judge: 290 } });
  });

  it('resumes a rescaled subtask at the lowest watermark of the old subtasks', () => {
    for (const [subtaskIndex, parallelism] of [
      [0, 1],
      [2, 3],
    ]) {
      const r = assignRestoredState({ checkpointId: 1, operatorUids: ['judge'], subtaskIndex, parallelism, old })!;
      expect(r.watermarks).toEqual({ task: 200, operators: { judge: 190 } });
    }
  });

  it('starts an operator the checkpoint has no watermark for at the beginning of event time', () => {
    const r = assignRestoredState({ checkpointId: 1, operatorUids: ['judge', 'added'], subtaskIndex: 0, parallelism: 2, old })!;
    expect(r.watermarks.operators.added).toBe(Number.NEGATIVE_INFINITY);
  });
});
