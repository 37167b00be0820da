// Runs the checkpoint protocol's bookkeeping: triggers checkpoints (periodic, on demand, and the
// final one after end of input, retried with backoff), collects every subtask's acknowledgement,
// completes checkpoints one at a time in id order by writing their metadata, retains and subsumes,
// aborts on decline or timeout, and counts consecutive failures. It does no I/O itself: storage,
// timers and the runtime are injected, and stop() cancels every timer it scheduled.
import type { Clock } from '../../core/clock.js';
import { FloeError } from '../../core/errors.js';
import type { ResolvedCheckpointingOptions } from './checkpoint-options.js';
import { nextTriggerTime } from './trigger-schedule.js';

/** The durable side, as the coordinator needs it (see checkpoint/storage). */
export interface CoordinatorStorage {
  beginCheckpoint(id: number): Promise<CoordinatorCheckpointWriter>;
  listCompleted(): Promise<number[]>;
  discard(id: number): Promise<void>;
}

export interface CoordinatorStoredFile {
  name: string;
  size: number;
  sha256: string;
}

export interface CoordinatorCheckpointWriter {
  readonly checkpointId: number;
  writeFile(name: string, bytes: Uint8Array | Uint8Array[]): Promise<CoordinatorStoredFile>;
  complete(metadata: unknown, files: CoordinatorStoredFile[]): Promise<void>;
  abort(): Promise<void>;
}

/** One subtask's acknowledgement: what it wrote and how to find it again. */
export interface TaskAcknowledgement {
  /** The handles of the subtask's state: JSON data, stored in the metadata. */
  state: unknown;
  files: CoordinatorStoredFile[];
  syncMs: number;
  asyncMs: number;
  /** Time the subtask's thread spent on the checkpoint: its sync phase and encoding done there afterwards. */
  cpuMs?: number;
}

/** A checkpoint that is being taken. */
export interface CheckpointTrigger {
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly writer: CoordinatorCheckpointWriter;
  /** True for the checkpoint taken after every source ended (tasks finish after it completes). */
  readonly isFinal: boolean;
  /**
   * A savepoint (Flink's semantics since 1.15): written in the canonical, self-contained format
   * into a directory of its own; it does not subsume checkpoints, is not used for recovery and
   * commits nothing unless it ends the job (`stopWithSavepoint`).
   */
  readonly savepoint?: { directory: string; terminate: boolean };
}

/** How a savepoint is taken: where, and whether the job ends with it (sinks then commit). */
export interface SavepointRequest {
  terminate: boolean;
  /** Creates savepoint `id`'s directory and its writer. */
  begin(id: number): Promise<{ directory: string; writer: CoordinatorCheckpointWriter }>;
}

export interface CompletedCheckpointInfo {
  checkpointId: number;
  durationMs: number;
  bytes: number;
  syncMsMax: number;
  asyncMsMax: number;
  /** The largest time a subtask's thread spent on the checkpoint. */
  cpuMsMax: number;
  acknowledgements: Map<string, TaskAcknowledgement>;
}

/** A checkpoint or savepoint being taken, for progress reports. */
export interface PendingSnapshotInfo {
  checkpointId: number;
  kind: 'checkpoint' | 'savepoint';
  /** Subtasks that finished their part. */
  acknowledged: number;
  total: number;
  elapsedMs: number;
  /** The share of the work done, 0 to 1, averaged over the subtasks (the runtime adds it). */
  written?: number;
}

export interface CompletedSavepointInfo extends CompletedCheckpointInfo {
  /** The savepoint's own directory. */
  directory: string;
}

/** What the coordinator tells the running job. */
export interface CoordinatorRuntime {
  /** Keys of every subtask that must acknowledge a checkpoint ("uid#index"). */
  readonly taskKeys: readonly string[];
  /** Injects the barrier of `trigger` at every source. */
  triggerSources(trigger: CheckpointTrigger): void;
  notifyComplete(checkpointId: number): void;
  notifyAborted(checkpointId: number): void;
  /** Job-level facts for checkpoint `checkpointId`'s metadata (job name, operators, parallelism, the sources' enumerator states). */
  jobMetadata(checkpointId: number): Record<string, unknown>;
  failJob(error: FloeError): void;
  log(message: string): void;
}

interface PendingCheckpoint {
  trigger: CheckpointTrigger;
  startedAt: number;
  acks: Map<string, TaskAcknowledgement>;
  waiters: Array<{ resolve: (info: CompletedCheckpointInfo) => void; reject: (error: Error) => void }>;
  cancelTimeout: () => void;
  /** Every subtask acknowledged: its metadata is written (or queued to be) and it can no longer be aborted from outside. */
  completing: boolean;
  /** Completed or aborted. */
  done: boolean;
}

export interface CoordinatorOptions {
  options: ResolvedCheckpointingOptions;
  storage: CoordinatorStorage;
  clock: Clock;
  /** Schedules a callback (setTimeout in a job, a manual scheduler in tests); returns a cancel function. */
  schedule(delayMs: number, callback: () => void): () => void;
  runtime: CoordinatorRuntime;
  /** The id of the first checkpoint (one after the restored one). */
  firstCheckpointId?: number;
}

/** Backoff of the final checkpoint's retries after it failed: 100 ms, doubling, at most 10 s. */
export const FINAL_RETRY_INITIAL_MS = 100;
export const FINAL_RETRY_MAX_MS = 10_000;

export class CheckpointCoordinator {
  private nextId: number;
  private readonly pending = new Map<number, PendingCheckpoint>();
  private lastTriggerAt = Number.NEGATIVE_INFINITY;
  private lastCompletedAt = Number.NEGATIVE_INFINITY;
  private consecutiveFailures = 0;
  private cancelPeriodic: (() => void) | undefined;
  /** Cancel functions of every timer scheduled and not yet fired (stop() cancels them all). */
  private readonly timers = new Set<() => void>();
  private stopped = false;
  /** Set once every source ended: periodic checkpoints stop and the final one is taken (and retried). */
  private final: { waiters: PendingCheckpoint['waiters']; failures: number; inFlight: boolean; retryScheduled: boolean } | undefined;
  /** Completions run one at a time, so checkpoints complete in id order. */
  private completing: Promise<void> = Promise.resolve();
  /** Deletion of subsumed checkpoints in progress (awaited by drain()). */
  private housekeeping: Promise<void> = Promise.resolve();
  readonly completed: CompletedCheckpointInfo[] = [];
  latestCompletedId: number | undefined;

  constructor(private readonly deps: CoordinatorOptions) {
    this.nextId = deps.firstCheckpointId ?? 1;
  }

  /** Starts periodic checkpoints (when an interval is set). */
  start(): void {
    this.schedulePeriodic();
  }

  /** Stops triggering and cancels every timer; pending checkpoints are aborted (those writing their metadata finish). */
  stop(): void {
    this.stopped = true;
    this.cancelPeriodic?.();
    for (const cancel of [...this.timers]) cancel();
    const stopping = new FloeError('JOB_CANCELLED', 'Checkpointing stopped: the job is stopping');
    for (const p of [...this.pending.values()])
      void this.abort(p, new FloeError('JOB_CANCELLED', `Checkpoint ${p.trigger.checkpointId} aborted: the job is stopping`), false);
    if (this.final !== undefined) for (const w of this.final.waiters.splice(0)) w.reject(stopping);
  }

  /** Waits for metadata writes and deletions of subsumed checkpoints in progress (at job end). */
  async drain(): Promise<void> {
    await this.completing;
    await this.housekeeping;
  }

  /** Triggers a checkpoint now (API and CLI); resolves when it completes. */
  async triggerCheckpoint(): Promise<CompletedCheckpointInfo> {
    return this.trigger(false);
  }

  /** Triggers a savepoint now; resolves when its metadata is written. Its failure does not count against tolerable checkpoint failures. */
  async triggerSavepoint(request: SavepointRequest): Promise<CompletedSavepointInfo> {
    return (await this.trigger(false, request)) as CompletedSavepointInfo;
  }

  /** Completed savepoints of this run. */
  readonly savepoints: CompletedSavepointInfo[] = [];

  /**
   * Every source ended: stops periodic checkpoints and takes the final checkpoint once fewer
   * than maxConcurrent are pending; a failed one is retried with backoff (each failure counts
   * against tolerableFailures). Resolves when a final checkpoint completed.
   */
  async triggerFinalCheckpoint(): Promise<CompletedCheckpointInfo> {
    if (this.stopped) throw new FloeError('JOB_CANCELLED', 'Cannot trigger the final checkpoint: the job is stopping');
    return new Promise<CompletedCheckpointInfo>((resolve, reject) => {
      this.final ??= { waiters: [], failures: 0, inFlight: false, retryScheduled: false };
      this.final.waiters.push({ resolve, reject });
      this.cancelPeriodic?.();
      this.triggerFinalWhenPossible();
    });
  }

  /** Checkpoints and savepoints in progress: how many subtasks acknowledged of how many. */
  inProgress(): PendingSnapshotInfo[] {
    const now = this.deps.clock.now();
    return [...this.pending.values()].map((p) => ({
      checkpointId: p.trigger.checkpointId,
      kind: p.trigger.savepoint === undefined ? 'checkpoint' : 'savepoint',
      acknowledged: p.acks.size,
      total: this.deps.runtime.taskKeys.length,
      elapsedMs: now - p.startedAt,
    }));
  }

  get numPending(): number {
    return this.pending.size;
  }

  /** A subtask finished its snapshot of checkpoint `id`. */
  acknowledge(id: number, taskKey: string, ack: TaskAcknowledgement): void {
    const p = this.pending.get(id);
    if (p === undefined || p.done || p.completing) return; // aborted or unknown: the files are discarded with the checkpoint
    p.acks.set(taskKey, ack);
    if (p.acks.size === this.deps.runtime.taskKeys.length) this.enqueueCompletion(p);
  }

  /** A subtask could not take its part of checkpoint `id`. */
  decline(id: number, taskKey: string, reason: unknown): void {
    const p = this.pending.get(id);
    if (p === undefined || p.done) return;
    const message = reason instanceof Error ? reason.message : String(reason);
    void this.abort(p, new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${id} was declined by ${taskKey}: ${message}`, { cause: reason }), true);
  }

  private async trigger(isFinal: boolean, savepoint?: SavepointRequest): Promise<CompletedCheckpointInfo> {
    const noun = savepoint === undefined ? 'Checkpoint' : 'Savepoint';
    if (this.stopped) throw new FloeError('JOB_CANCELLED', `Cannot trigger a ${noun.toLowerCase()}: the job is stopping`);
    const id = this.nextId++;
    const timestamp = this.deps.clock.now();
    if (savepoint === undefined) this.lastTriggerAt = timestamp;
    let writer: CoordinatorCheckpointWriter;
    let savepointDirectory = '';
    try {
      if (savepoint === undefined) writer = await this.deps.storage.beginCheckpoint(id);
      else ({ writer, directory: savepointDirectory } = await savepoint.begin(id));
    } catch (error) {
      const failure = new FloeError('CHECKPOINT_WRITE_FAILED', `${noun} ${id} could not be started: ${(error as Error).message}`, { cause: error });
      if (savepoint !== undefined) throw failure;
      this.countFailure(failure);
      this.afterSettled(isFinal, false);
      throw failure;
    }
    if (this.stopped) {
      // The job stopped while the storage prepared the checkpoint: nothing may outlive it.
      await writer.abort().catch(() => {});
      throw new FloeError('JOB_CANCELLED', `Checkpoint ${id} aborted: the job is stopping`);
    }
    return new Promise<CompletedCheckpointInfo>((resolve, reject) => {
      const trigger: CheckpointTrigger = {
        checkpointId: id,
        timestamp,
        writer,
        isFinal,
        ...(savepoint === undefined ? {} : { savepoint: { directory: savepointDirectory, terminate: savepoint.terminate } }),
      };
      const p: PendingCheckpoint = { trigger, startedAt: timestamp, acks: new Map(), waiters: [{ resolve, reject }], cancelTimeout: () => {}, completing: false, done: false };
      p.cancelTimeout = this.schedule(this.deps.options.timeoutMs, () => {
        void this.abort(p, new FloeError('CHECKPOINT_DECLINED', `${noun} ${id} expired after ${this.deps.options.timeoutMs} ms before every subtask acknowledged it`), true);
      });
      this.pending.set(id, p);
      this.deps.runtime.triggerSources(trigger);
      if (this.deps.runtime.taskKeys.length === 0) this.enqueueCompletion(p);
    });
  }

  private enqueueCompletion(p: PendingCheckpoint): void {
    p.completing = true;
    p.cancelTimeout();
    this.completing = this.completing.then(() => this.complete(p));
  }

  private async complete(p: PendingCheckpoint): Promise<void> {
    const { checkpointId } = p.trigger;
    if (p.trigger.savepoint !== undefined) return this.completeSavepoint(p, p.trigger.savepoint);
    if (this.latestCompletedId !== undefined && this.latestCompletedId > checkpointId) {
      // A newer checkpoint completed first: completing this one would move "latest" backwards.
      p.completing = false;
      await this.abort(p, new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${checkpointId} was subsumed by ${this.latestCompletedId}`), false);
      return;
    }
    const info = await this.writeMetadata(p, { isFinal: p.trigger.isFinal });
    if (info === undefined) return;
    this.lastCompletedAt = this.deps.clock.now();
    this.consecutiveFailures = 0;
    this.latestCompletedId = checkpointId;
    this.completed.push(info);
    // Older pending checkpoints are subsumed by this one.
    for (const older of [...this.pending.values()])
      if (older.trigger.checkpointId < checkpointId && older.trigger.savepoint === undefined)
        void this.abort(older, new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${older.trigger.checkpointId} was subsumed by ${checkpointId}`), false);
    this.deps.runtime.notifyComplete(checkpointId);
    for (const w of p.waiters) w.resolve(info);
    if (p.trigger.isFinal && this.final !== undefined) for (const w of this.final.waiters.splice(0)) w.resolve(info);
    this.housekeeping = this.housekeeping.then(() => this.discardSubsumed());
    await this.housekeeping;
    this.afterSettled(p.trigger.isFinal, true);
  }

  /**
   * A savepoint completes on its own: it neither subsumes nor is subsumed by checkpoints, and only
   * a savepoint that ends the job tells the subtasks (so sinks commit, as Flink's stop-with-savepoint).
   */
  private async completeSavepoint(p: PendingCheckpoint, savepoint: NonNullable<CheckpointTrigger['savepoint']>): Promise<void> {
    const written = await this.writeMetadata(p, { isFinal: false, savepoint: true });
    if (written === undefined) return;
    const info: CompletedSavepointInfo = { ...written, directory: savepoint.directory };
    this.savepoints.push(info);
    if (savepoint.terminate) this.deps.runtime.notifyComplete(info.checkpointId);
    for (const w of p.waiters) w.resolve(info);
    this.schedulePeriodic();
  }

  /**
   * Writes the metadata of checkpoint or savepoint `p` (every subtask acknowledged), which makes it
   * complete; returns what completed, or undefined when the write failed (then `p` is aborted).
   */
  private async writeMetadata(p: PendingCheckpoint, fields: { isFinal: boolean; savepoint?: true }): Promise<CompletedCheckpointInfo | undefined> {
    const { checkpointId } = p.trigger;
    const files = [...p.acks.values()].flatMap((a) => a.files);
    const tasks: Record<string, unknown> = {};
    for (const [key, ack] of p.acks) tasks[key] = ack.state;
    try {
      await p.trigger.writer.complete({ ...this.deps.runtime.jobMetadata(checkpointId), checkpointId, timestamp: p.trigger.timestamp, ...fields, tasks }, files);
    } catch (error) {
      p.completing = false;
      const what = fields.savepoint === true ? 'Savepoint' : 'Checkpoint';
      const failure = error instanceof FloeError ? error : new FloeError('CHECKPOINT_WRITE_FAILED', `${what} ${checkpointId}: ${(error as Error).message}`, { cause: error });
      await this.abort(p, failure, fields.savepoint !== true);
      return undefined;
    }
    p.done = true;
    this.pending.delete(checkpointId);
    const acks = [...p.acks.values()];
    return {
      checkpointId,
      durationMs: this.deps.clock.now() - p.startedAt,
      bytes: files.reduce((n, f) => n + f.size, 0),
      syncMsMax: Math.max(0, ...acks.map((a) => a.syncMs)),
      asyncMsMax: Math.max(0, ...acks.map((a) => a.asyncMs)),
      cpuMsMax: Math.max(0, ...acks.map((a) => a.cpuMs ?? a.syncMs)),
      acknowledgements: p.acks,
    };
  }

  private async discardSubsumed(): Promise<void> {
    try {
      const ids = await this.deps.storage.listCompleted();
      const keep = new Set(ids.slice(-this.deps.options.retained));
      for (const id of ids) if (!keep.has(id)) await this.deps.storage.discard(id);
    } catch (error) {
      this.deps.runtime.log(`could not delete subsumed checkpoints (they stay on disk): ${(error as Error).message}`);
    }
  }

  private async abort(p: PendingCheckpoint, error: FloeError, countsAsFailure: boolean): Promise<void> {
    if (p.done || p.completing) return; // a checkpoint writing its metadata finishes (or fails) by itself
    p.done = true;
    p.cancelTimeout();
    this.pending.delete(p.trigger.checkpointId);
    try {
      await p.trigger.writer.abort();
    } catch {
      // leftovers of an aborted checkpoint have no _metadata: they are never restored from
    }
    this.deps.runtime.notifyAborted(p.trigger.checkpointId);
    for (const w of p.waiters) w.reject(error);
    if (p.trigger.savepoint !== undefined) {
      this.deps.runtime.log(`savepoint ${p.trigger.checkpointId} failed: ${error.message}`);
      this.schedulePeriodic();
      return;
    }
    if (countsAsFailure) this.countFailure(error);
    this.afterSettled(p.trigger.isFinal, false);
  }

  /** A checkpoint completed or failed: the next periodic one, or the final one (again), may go. */
  private afterSettled(wasFinal: boolean, succeeded: boolean): void {
    const final = this.final;
    if (final !== undefined && wasFinal) {
      final.inFlight = false;
      if (!succeeded && !this.stopped && final.waiters.length > 0) {
        final.failures++;
        const delay = Math.min(FINAL_RETRY_MAX_MS, FINAL_RETRY_INITIAL_MS * 2 ** (final.failures - 1));
        this.deps.runtime.log(`the final checkpoint failed (${final.failures} so far); retrying in ${delay} ms`);
        final.retryScheduled = true;
        this.schedule(delay, () => {
          final.retryScheduled = false;
          this.triggerFinalWhenPossible();
        });
        return;
      }
    }
    if (final !== undefined) this.triggerFinalWhenPossible();
    else this.schedulePeriodic();
  }

  private triggerFinalWhenPossible(): void {
    const final = this.final;
    if (final === undefined || this.stopped || final.inFlight || final.retryScheduled || final.waiters.length === 0) return;
    if (this.pending.size >= this.deps.options.maxConcurrent) return; // triggered when one settles
    final.inFlight = true;
    this.trigger(true).catch(() => {
      // counted and logged; afterSettled() schedules the retry
    });
  }

  private countFailure(error: FloeError): void {
    this.consecutiveFailures++;
    const tolerable = this.deps.options.tolerableFailures;
    this.deps.runtime.log(`checkpoint failed (${this.consecutiveFailures} in a row, ${tolerable} tolerated): ${error.message}`);
    if (this.consecutiveFailures > tolerable && !this.stopped)
      this.deps.runtime.failJob(
        new FloeError(
          'CHECKPOINT_FAILED',
          `${this.consecutiveFailures} consecutive checkpoint failures exceed tolerableFailures (${tolerable}); last: ${error.message}. Fix the cause (disk space, permissions) or raise tolerableFailures.`,
          { cause: error },
        ),
      );
  }

  /** Schedules through the injected scheduler and remembers the timer until it fires or is cancelled. */
  private schedule(delayMs: number, callback: () => void): () => void {
    const cancelTimer = this.deps.schedule(delayMs, () => {
      this.timers.delete(cancel);
      callback();
    });
    const cancel = (): void => {
      this.timers.delete(cancel);
      cancelTimer();
    };
    this.timers.add(cancel);
    return cancel;
  }

  private schedulePeriodic(): void {
    const interval = this.deps.options.intervalMs;
    if (interval === undefined || this.stopped || this.final !== undefined) return;
    this.cancelPeriodic?.();
    if (this.pending.size >= this.deps.options.maxConcurrent) return; // rescheduled on completion/abort
    const at = nextTriggerTime({
      intervalMs: interval,
      minPauseMs: this.deps.options.minPauseMs,
      lastTriggerAt: this.lastTriggerAt,
      lastCompletedAt: this.lastCompletedAt,
      now: this.deps.clock.now(),
    });
    this.cancelPeriodic = this.schedule(Math.max(0, at - this.deps.clock.now()), () => {
      this.cancelPeriodic = undefined;
      this.trigger(false).catch(() => {
        // failures are counted and logged in abort(); a periodic checkpoint has no caller to tell
      });
    });
  }
}
