// The subtask loop on its own: channels, barriers, aborts and source positions, driven by hand
// (no job runner, no storage, no clock).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { END_OF_INPUT, type CheckpointBarrier, type StreamElement } from '../../../src/core/stream-elements.js';
import { LocalChannel } from '../../../src/runtime/channel.js';
import { InputGate } from '../../../src/runtime/input-gate.js';
import { MetricRegistry } from '../../../src/runtime/metrics/user-metrics.js';
import { BaseOperator, type Output } from '../../../src/runtime/operators/stream-operator.js';
import { ManualProcessingTimeService } from '../../../src/runtime/processing-time-service.js';
import type { SourceReader, SourceSplit } from '../../../src/runtime/source.js';
import { SourceOperator } from '../../../src/runtime/source-operator.js';
import { StreamTask, decodeTaskSnapshot, type TaskCheckpointing } from '../../../src/runtime/task.js';
import type { KeyedStateBackend } from '../../../src/state/keyed-state-backend.js';

/** Lets every queued callback, promise and immediate run (no wall-clock time involved). */
async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

const barrier = (checkpointId: number, isFinal = false): CheckpointBarrier => ({ kind: 'barrier', checkpointId, timestamp: 0, isFinal });
const records = (...values: unknown[]): StreamElement => ({ kind: 'records', values, keys: undefined, timestamps: undefined });

class RecordingOperator extends BaseOperator {
  readonly seen: unknown[] = [];
  override processElement(value: unknown): void {
    this.seen.push(value);
  }
}

/** A checkpointing side that remembers what the subtask wrote, acknowledged and declined. */
function recordingCheckpointing(mode: 'exactly-once' | 'at-least-once' = 'exactly-once') {
  const written = new Map<number, Uint8Array[]>();
  const acknowledged: number[] = [];
  const declined: number[] = [];
  const checkpointing: TaskCheckpointing & { onSourceFinished?: () => void } = {
    mode,
    taskKey: 't#0',
    write: async (id, name, bytes) => {
      written.set(id, bytes);
      return { name, size: bytes.reduce((n, b) => n + b.length, 0), sha256: 'x' };
    },
    acknowledge: (id) => acknowledged.push(id),
    decline: (id) => declined.push(id),
    sourceFinished: () => checkpointing.onSourceFinished?.(),
  };
  return { checkpointing, written, acknowledged, declined };
}

function createTask(options: {
  channels?: LocalChannel[];
  source?: SourceReader<unknown, SourceSplit>;
  /** The splits the source's reader starts with. */
  splits?: SourceSplit[];
  checkpointing: TaskCheckpointing;
  keyedBackend?: KeyedStateBackend;
}) {
  const channels = options.channels ?? [];
  const gate = new InputGate(channels);
  const operator = new RecordingOperator();
  const output: Output = { collect: () => {}, emitWatermark: () => {} };
  operator.setup({
    jobName: 'test',
    uid: 'recorder',
    name: 'Recorder',
    subtaskIndex: 0,
    parallelism: 1,
    maxParallelism: 128,
    output,
    keyedBackend: options.keyedBackend,
    processingTime: new ManualProcessingTimeService(new ManualClock(0)),
    metrics: new MetricRegistry().group('recorder', 'Recorder', 0),
    post: (action) => gate.putMail(action),
    log: () => {},
  });
  let source: SourceOperator | undefined;
  if (options.source !== undefined) {
    source = new SourceOperator(options.source, { context: { operator: 'source', subtask: 0 }, post: (mail) => gate.putMail(mail) });
    source.restoredSplits = options.splits ?? [];
    source.notifyNoMoreSplits();
  }
  const task = new StreamTask({
    jobName: 'test',
    taskName: 'Recorder (1/1)',
    subtaskIndex: 0,
    operators: [operator],
    gate,
    source,
    writers: [],
    keyedBackend: options.keyedBackend,
    batchSize: 4,
    headInput: { collect: (value) => operator.processElement(value), emitWatermark: (t) => operator.processWatermark(t) },
    checkpointing: options.checkpointing,
    restore: undefined,
    channelInputs: channels.map(() => 0),
  });
  return { task, operator };
}

describe('StreamTask barrier alignment', () => {
  it('unblocks the channels of a checkpoint aborted mid-alignment and keeps processing every record once', async () => {
    const a = new LocalChannel(16, 'a');
    const b = new LocalChannel(16, 'b');
    const { checkpointing, acknowledged, declined } = recordingCheckpointing();
    const { task, operator } = createTask({ channels: [a, b], checkpointing });
    const running = task.run();
    a.push(records('a1'));
    a.push(barrier(1)); // b's barrier of checkpoint 1 never arrives: the checkpoint times out
    a.push(records('a2'));
    b.push(records('b1'));
    await settle();
    expect(operator.seen).toEqual(['a1', 'b1']); // a is held back while checkpoint 1 aligns

    task.notifyCheckpointAborted(1);
    await settle();
    expect(operator.seen).toEqual(['a1', 'b1', 'a2']);

    b.push(barrier(1)); // late: ignored, blocks nothing
    b.push(records('b2'));
    a.push(records('a3'));
    await settle();
    expect(operator.seen.slice(3).sort()).toEqual(['a3', 'b2']);

    // The next checkpoint aligns and completes as usual.
    for (const c of [a, b]) c.push(barrier(2));
    a.push(records('a4'));
    await settle();
    expect(acknowledged).toEqual([2]);
    expect(declined).toEqual([]);
    for (const c of [a, b]) c.push(barrier(3, true));
    for (const c of [a, b]) c.push(END_OF_INPUT);
    await settle();
    task.notifyCheckpointComplete(3, true);
    await running;
    expect(operator.seen).toEqual(['a1', 'b1', 'a2', ...operator.seen.slice(3, 5), 'a4']);
    expect(acknowledged).toEqual([2, 3]);
  });
});

describe('StreamTask source splits', () => {
  it('stores the splits at the barrier even when the reader returns live splits that move on', async () => {
    const split = { id: 's', next: 0 };
    let splits: Array<typeof split> = [];
    let noMore = false;
    const reader: SourceReader<unknown, typeof split> = {
      addSplits: (added) => {
        splits = added;
      },
      notifyNoMoreSplits: () => {
        noMore = true;
      },
      isAvailable: () => Promise.resolve(),
      pollNext: (out) => {
        const s = splits[0];
        out.collect(s.next);
        s.next++; // the same object, mutated in place
        return s.next < 5 ? 'more-available' : noMore ? 'end-of-input' : 'nothing-available';
      },
      snapshotState: () => splits,
    };
    // A keyed snapshot still being written keeps the asynchronous phase open while records flow.
    let finishKeyedWrite!: () => void;
    const keyedWritten = new Promise<void>((resolve) => (finishKeyedWrite = resolve));
    const keyedBackend = {
      snapshot: () => ({
        write: async () => {
          await keyedWritten;
          return { meta: { format: 1, backend: 'stub', maxParallelism: 128, states: [], timerQueues: [], keyGroups: [], entries: 0 }, data: [], bytes: 0 };
        },
        release: () => {},
      }),
    } as unknown as KeyedStateBackend;
    const { checkpointing, written } = recordingCheckpointing();
    const { task, operator } = createTask({ source: reader as SourceReader<unknown, SourceSplit>, splits: [split], checkpointing, keyedBackend });
    checkpointing.onSourceFinished = () => {
      finishKeyedWrite();
      task.notifyCheckpointComplete(2, true);
    };
    task.triggerCheckpoint(barrier(1)); // runs before the first poll: split at 0
    await task.run();
    await settle();
    expect(operator.seen).toEqual([0, 1, 2, 3, 4]);
    const file = decodeTaskSnapshot(Buffer.concat(written.get(1)!));
    expect(file.source).toEqual({ splits: [{ id: 's', next: 0 }] });
  });
});
