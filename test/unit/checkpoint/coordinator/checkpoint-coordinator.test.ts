import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import type { FloeError } from '../../../../src/core/errors.js';
import { resolveCheckpointingOptions, type CheckpointingOptions } from '../../../../src/checkpoint/coordinator/checkpoint-options.js';
import {
  CheckpointCoordinator,
  FINAL_RETRY_INITIAL_MS,
  type CheckpointTrigger,
  type CoordinatorCheckpointWriter,
  type CoordinatorStorage,
} from '../../../../src/checkpoint/coordinator/checkpoint-coordinator.js';
import { nextTriggerTime } from '../../../../src/checkpoint/coordinator/trigger-schedule.js';

/** Storage double: keeps completed ids, can fail completions. */
class FakeStorage implements CoordinatorStorage {
  completed: number[] = [];
  discarded: number[] = [];
  aborted: number[] = [];
  failCompletes = 0;
  /** When set, beginCheckpoint waits for it (a slow or stuck disk). */
  beginGate: Promise<void> | undefined;
  /** Per checkpoint id: complete() waits for it before writing. */
  readonly completeGates = new Map<number, Promise<void>>();
  async beginCheckpoint(id: number): Promise<CoordinatorCheckpointWriter> {
    await this.beginGate;
    return {
      checkpointId: id,
      writeFile: async (name, bytes) => ({ name, size: Array.isArray(bytes) ? bytes.length : bytes.length, sha256: 'x' }),
      complete: async () => {
        await this.completeGates.get(id);
        if (this.failCompletes > 0) {
          this.failCompletes--;
          throw new Error('ENOSPC: no space left on device');
        }
        this.completed.push(id);
      },
      abort: async () => {
        this.aborted.push(id);
      },
    };
  }
  async listCompleted() {
    return [...this.completed].sort((a, b) => a - b);
  }
  async discard(id: number) {
    this.discarded.push(id);
    this.completed = this.completed.filter((c) => c !== id);
  }
}

/** Timers driven by hand. */
class ManualScheduler {
  timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  constructor(private readonly clock: ManualClock) {}
  schedule = (delay: number, fn: () => void) => {
    const t = { at: this.clock.now() + delay, fn, cancelled: false };
    this.timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  /** Timers scheduled and neither fired nor cancelled. */
  get live() {
    return this.timers.filter((t) => !t.cancelled);
  }
  async advanceTo(time: number) {
    this.clock.set(time);
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= time).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.cancelled = true;
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
  }
}

function setup(options: CheckpointingOptions, taskKeys = ['a#0', 'b#0']) {
  const clock = new ManualClock(0);
  const scheduler = new ManualScheduler(clock);
  const storage = new FakeStorage();
  const triggered: CheckpointTrigger[] = [];
  const events: string[] = [];
  let failure: FloeError | undefined;
  const coordinator = new CheckpointCoordinator({
    options: resolveCheckpointingOptions(options),
    storage,
    clock,
    schedule: scheduler.schedule,
    runtime: {
      taskKeys,
      triggerSources: (t) => triggered.push(t),
      notifyComplete: (id) => events.push(`complete ${id}`),
      notifyAborted: (id) => events.push(`aborted ${id}`),
      jobMetadata: () => ({ jobName: 'test' }),
      failJob: (e) => {
        failure = e;
      },
      log: () => {},
    },
  });
  const ackAll = (id: number) => {
    for (const k of taskKeys) coordinator.acknowledge(id, k, { state: { k }, files: [], syncMs: 1, asyncMs: 2 });
  };
  return { clock, scheduler, storage, triggered, events, coordinator, ackAll, failure: () => failure };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('CheckpointCoordinator', () => {
  it('completes a checkpoint only after every subtask acknowledged it, then notifies', async () => {
    const s = setup({});
    const done = s.coordinator.triggerCheckpoint();
    await flush();
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1]);
    s.coordinator.acknowledge(1, 'a#0', { state: {}, files: [], syncMs: 0, asyncMs: 0 });
    await flush();
    expect(s.storage.completed).toEqual([]);
    s.coordinator.acknowledge(1, 'b#0', { state: {}, files: [], syncMs: 0, asyncMs: 0 });
    const info = await done;
    expect(info.checkpointId).toBe(1);
    expect(s.storage.completed).toEqual([1]);
    expect(s.events).toEqual(['complete 1']);
  });

  it('keeps the newest retained checkpoints and deletes older ones only after a newer one completed', async () => {
    const s = setup({ retained: 2 });
    for (let id = 1; id <= 4; id++) {
      const done = s.coordinator.triggerCheckpoint();
      await flush();
      expect(s.storage.discarded).toEqual(id <= 2 ? [] : Array.from({ length: id - 2 }, (_, i) => i + 1).slice(0, id - 3));
      s.ackAll(id);
      await done;
      await flush();
    }
    expect(await s.storage.listCompleted()).toEqual([3, 4]);
    expect(s.storage.discarded).toEqual([1, 2]);
  });

  it('aborts a declined checkpoint, notifies, and fails the job after tolerableFailures consecutive failures', async () => {
    const s = setup({ tolerableFailures: 1 });
    const first = s.coordinator.triggerCheckpoint();
    await flush();
    s.coordinator.decline(1, 'a#0', new Error('disk full'));
    await expect(first).rejects.toThrow(/declined by a#0: disk full/);
    expect(s.events).toEqual(['aborted 1']);
    expect(s.failure()).toBeUndefined();
    const second = s.coordinator.triggerCheckpoint();
    await flush();
    s.coordinator.decline(2, 'b#0', 'again');
    await expect(second).rejects.toThrow();
    expect(s.failure()?.code).toBe('CHECKPOINT_FAILED');
    expect(s.failure()?.message).toMatch(/tolerableFailures \(1\)/);
  });

  it('resets the failure count when a checkpoint completes', async () => {
    const s = setup({ tolerableFailures: 1 });
    const a = s.coordinator.triggerCheckpoint();
    await flush();
    s.coordinator.decline(1, 'a#0', 'x');
    await a.catch(() => {});
    const b = s.coordinator.triggerCheckpoint();
    await flush();
    s.ackAll(2);
    await b;
    const c = s.coordinator.triggerCheckpoint();
    await flush();
    s.coordinator.decline(3, 'a#0', 'x');
    await c.catch(() => {});
    expect(s.failure()).toBeUndefined();
  });

  it('counts a failed metadata write as a failed checkpoint and keeps the previous one', async () => {
    const s = setup({ tolerableFailures: 5 });
    const a = s.coordinator.triggerCheckpoint();
    await flush();
    s.ackAll(1);
    await a;
    s.storage.failCompletes = 1;
    const b = s.coordinator.triggerCheckpoint();
    await flush();
    s.ackAll(2);
    await expect(b).rejects.toThrow(/ENOSPC/);
    expect(await s.storage.listCompleted()).toEqual([1]);
    expect(s.storage.aborted).toEqual([2]);
    expect(s.coordinator.latestCompletedId).toBe(1);
  });

  it('expires a checkpoint that is not acknowledged within the timeout', async () => {
    const s = setup({ timeoutMs: 1000 });
    const a = s.coordinator.triggerCheckpoint();
    await flush();
    s.coordinator.acknowledge(1, 'a#0', { state: {}, files: [], syncMs: 0, asyncMs: 0 });
    const expired = expect(a).rejects.toThrow(/expired after 1000 ms/);
    await s.scheduler.advanceTo(1000);
    await expired;
  });

  it('triggers periodically, never more than maxConcurrent at once', async () => {
    const s = setup({ intervalMs: 100 });
    s.coordinator.start();
    await s.scheduler.advanceTo(100);
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1]);
    await s.scheduler.advanceTo(300); // checkpoint 1 still pending: no second trigger
    expect(s.triggered).toHaveLength(1);
    s.ackAll(1);
    await flush();
    await flush();
    await s.scheduler.advanceTo(300);
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1, 2]);
    s.coordinator.stop();
  });
});

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CheckpointCoordinator at the end of a job', () => {
  it('leaves no timer behind when the job stops while a checkpoint is being started', async () => {
    const s = setup({ intervalMs: 100 });
    const begin = deferred();
    s.storage.beginGate = begin.promise;
    const done = s.coordinator.triggerCheckpoint();
    s.coordinator.start();
    s.coordinator.stop();
    begin.resolve();
    await expect(done).rejects.toThrow(/stopping/);
    await s.coordinator.drain();
    expect(s.scheduler.live).toEqual([]);
    expect(s.triggered).toEqual([]);
    expect(s.storage.aborted).toEqual([1]);
  });

  it('cancels the timeout of every pending checkpoint and a scheduled retry of the final one on stop', async () => {
    const s = setup({ intervalMs: 100, tolerableFailures: 5 });
    s.coordinator.start();
    await s.scheduler.advanceTo(100);
    const final = s.coordinator.triggerFinalCheckpoint();
    s.coordinator.decline(1, 'a#0', 'disk full'); // the periodic one fails; the final one goes next
    await flush();
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1, 2]);
    s.coordinator.decline(2, 'a#0', 'disk full'); // the final one fails: a retry is scheduled
    await flush();
    expect(s.scheduler.live.length).toBeGreaterThan(0);
    s.coordinator.stop();
    await expect(final).rejects.toThrow(/stopping/);
    expect(s.scheduler.live).toEqual([]);
  });
});

describe('CheckpointCoordinator final checkpoint', () => {
  it('retries a failed final checkpoint after a growing delay, not at once', async () => {
    const s = setup({ tolerableFailures: 10 });
    const final = s.coordinator.triggerFinalCheckpoint();
    await flush();
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1]);
    expect(s.triggered[0].isFinal).toBe(true);
    s.coordinator.decline(1, 'a#0', 'disk full');
    await flush();
    await s.scheduler.advanceTo(FINAL_RETRY_INITIAL_MS - 1);
    expect(s.triggered).toHaveLength(1);
    await s.scheduler.advanceTo(FINAL_RETRY_INITIAL_MS);
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1, 2]);
    s.coordinator.decline(2, 'a#0', 'disk full');
    await flush();
    await s.scheduler.advanceTo(FINAL_RETRY_INITIAL_MS + 2 * FINAL_RETRY_INITIAL_MS - 1);
    expect(s.triggered).toHaveLength(2);
    await s.scheduler.advanceTo(FINAL_RETRY_INITIAL_MS + 2 * FINAL_RETRY_INITIAL_MS);
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1, 2, 3]);
    s.ackAll(3);
    expect((await final).checkpointId).toBe(3);
    expect(s.coordinator.latestCompletedId).toBe(3);
  });

  it('takes the final checkpoint only once fewer than maxConcurrent checkpoints are pending', async () => {
    const s = setup({ intervalMs: 100 });
    s.coordinator.start();
    await s.scheduler.advanceTo(100);
    const final = s.coordinator.triggerFinalCheckpoint();
    await flush();
    expect(s.triggered.map((t) => t.checkpointId)).toEqual([1]); // the periodic one is still running
    s.ackAll(1);
    await flush();
    await flush();
    expect(s.triggered.map((t) => [t.checkpointId, t.isFinal])).toEqual([
      [1, false],
      [2, true],
    ]);
    s.ackAll(2);
    expect((await final).checkpointId).toBe(2);
    expect(s.storage.completed).toEqual([1, 2]);
  });
});

describe('CheckpointCoordinator completion order', () => {
  it('completes checkpoints in id order while an older one is still writing its metadata', async () => {
    const s = setup({ maxConcurrent: 2 });
    const slowMetadata = deferred();
    s.storage.completeGates.set(1, slowMetadata.promise);
    const first = s.coordinator.triggerCheckpoint();
    const second = s.coordinator.triggerCheckpoint();
    await flush();
    s.ackAll(1); // checkpoint 1 starts writing its metadata (slowly)
    s.ackAll(2);
    await flush();
    expect(s.storage.completed).toEqual([]); // 2 waits for 1
    slowMetadata.resolve();
    expect((await first).checkpointId).toBe(1);
    expect((await second).checkpointId).toBe(2);
    expect(s.storage.completed).toEqual([1, 2]);
    expect(s.storage.aborted).toEqual([]);
    expect(s.coordinator.latestCompletedId).toBe(2);
    expect(s.events).toEqual(['complete 1', 'complete 2']);
  });

  it('aborts an older checkpoint that is acknowledged only after a newer one completed', async () => {
    const s = setup({ maxConcurrent: 2 });
    const first = s.coordinator.triggerCheckpoint();
    const second = s.coordinator.triggerCheckpoint();
    await flush();
    s.ackAll(2);
    expect((await second).checkpointId).toBe(2);
    await expect(first).rejects.toThrow(/subsumed by 2/);
    s.ackAll(1);
    await s.coordinator.drain();
    expect(s.coordinator.latestCompletedId).toBe(2);
    expect(s.storage.completed).toEqual([2]);
  });
});

describe('nextTriggerTime', () => {
  it('waits an interval after the last trigger and min-pause after the last completion', () => {
    expect(nextTriggerTime({ intervalMs: 100, minPauseMs: 0, lastTriggerAt: -Infinity, lastCompletedAt: -Infinity, now: 5 })).toBe(105);
    expect(nextTriggerTime({ intervalMs: 100, minPauseMs: 0, lastTriggerAt: 50, lastCompletedAt: 60, now: 70 })).toBe(150);
    expect(nextTriggerTime({ intervalMs: 100, minPauseMs: 200, lastTriggerAt: 50, lastCompletedAt: 60, now: 70 })).toBe(260);
    expect(nextTriggerTime({ intervalMs: 100, minPauseMs: 0, lastTriggerAt: 0, lastCompletedAt: 500, now: 600 })).toBe(600);
  });
});
