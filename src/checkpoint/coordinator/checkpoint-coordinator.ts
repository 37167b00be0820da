// Runs the checkpoint protocol's bookkeeping: triggers checkpoints (periodic or on demand),
// collects every subtask's acknowledgement, completes the checkpoint by writing its metadata,
// retains and subsumes, aborts on decline or timeout, and counts consecutive failures.
// It does no I/O itself: storage and the runtime are injected.
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
}

/** A checkpoint that is being taken. */
export interface CheckpointTrigger {
  readonly checkpointId: number;
  readonly timestamp: number;
  readonly writer: CoordinatorCheckpointWriter;
  /** True for the checkpoint taken after every source ended (tasks finish after it completes). */
  readonly isFinal: boolean;
}

export interface CompletedCheckpointInfo {
  checkpointId: number;
  durationMs: number;
  bytes: number;
  syncMsMax: number;
  asyncMsMax: number;
  acknowledgements: Map<string, TaskAcknowledgement>;
}

/** What the coordinator tells the running job. */
export interface CoordinatorRuntime {
  /** Keys of every subtask that must acknowledge a checkpoint ("uid#index"). */
  readonly taskKeys: readonly string[];
  /** Injects the barrier of `trigger` at every source. */
  triggerSources(trigger: CheckpointTrigger): void;
  notifyComplete(checkpointId: number): void;
  notifyAborted(checkpointId: number): void;
  /** Job-level facts for the metadata (job name, operators, parallelism). */
  jobMetadata(): Record<string, unknown>;
  failJob(error: FloeError): void;
  log(message: string): void;
}

interface PendingCheckpoint {
  trigger: CheckpointTrigger;
  startedAt: number;
  acks: Map<string, TaskAcknowledgement>;
  waiters: Array<{ resolve: (info: CompletedCheckpointInfo) => void; reject: (error: Error) => void }>;
  cancelTimeout: () => void;
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

export class CheckpointCoordinator {
  private nextId: number;
  private readonly pending = new Map<number, PendingCheckpoint>();
  private lastTriggerAt = Number.NEGATIVE_INFINITY;
  private lastCompletedAt = Number.NEGATIVE_INFINITY;
  private consecutiveFailures = 0;
  private cancelPeriodic: (() => void) | undefined;
  private stopped = false;
  private finalRequested = false;
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

  /** Stops triggering; pending checkpoints are aborted. */
  stop(): void {
    this.stopped = true;
    this.cancelPeriodic?.();
    for (const p of [...this.pending.values()]) void this.abort(p, new FloeError('JOB_CANCELLED', `Checkpoint ${p.trigger.checkpointId} aborted: the job is stopping`), false);
  }

  /** Waits for pending deletions of subsumed checkpoints (at job end, so retention holds on disk). */
  async drain(): Promise<void> {
    await this.housekeeping;
  }

  /** Triggers a checkpoint now (API and CLI); resolves when it completes. */
  async triggerCheckpoint(): Promise<CompletedCheckpointInfo> {
    return this.trigger(false);
  }

  /** Triggers the final checkpoint after every source ended; resolves when it completes. */
  async triggerFinalCheckpoint(): Promise<CompletedCheckpointInfo> {
    this.finalRequested = true;
    this.cancelPeriodic?.();
    return this.trigger(true);
  }

  get numPending(): number {
    return this.pending.size;
  }

  /** A subtask finished its snapshot of checkpoint `id`. */
  acknowledge(id: number, taskKey: string, ack: TaskAcknowledgement): void {
    const p = this.pending.get(id);
    if (p === undefined || p.done) return; // aborted or unknown: the files are discarded with the checkpoint
    p.acks.set(taskKey, ack);
    if (p.acks.size === this.deps.runtime.taskKeys.length) void this.complete(p);
  }

  /** A subtask could not take its part of checkpoint `id`. */
  decline(id: number, taskKey: string, reason: unknown): void {
    const p = this.pending.get(id);
    if (p === undefined || p.done) return;
    const message = reason instanceof Error ? reason.message : String(reason);
    void this.abort(p, new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${id} was declined by ${taskKey}: ${message}`, { cause: reason }), true);
  }

  private async trigger(isFinal: boolean): Promise<CompletedCheckpointInfo> {
    if (this.stopped) throw new FloeError('JOB_CANCELLED', 'Cannot trigger a checkpoint: the job is stopping');
    const id = this.nextId++;
    const timestamp = this.deps.clock.now();
    this.lastTriggerAt = timestamp;
    let writer: CoordinatorCheckpointWriter;
    try {
      writer = await this.deps.storage.beginCheckpoint(id);
    } catch (error) {
      this.countFailure(new FloeError('CHECKPOINT_WRITE_FAILED', `Checkpoint ${id} could not be started: ${(error as Error).message}`, { cause: error }));
      this.schedulePeriodic();
      throw error;
    }
    return new Promise<CompletedCheckpointInfo>((resolve, reject) => {
      const trigger: CheckpointTrigger = { checkpointId: id, timestamp, writer, isFinal };
      const p: PendingCheckpoint = {
        trigger,
        startedAt: timestamp,
        acks: new Map(),
        waiters: [{ resolve, reject }],
        cancelTimeout: () => {},
        done: false,
      };
      p.cancelTimeout = this.deps.schedule(this.deps.options.timeoutMs, () => {
        void this.abort(p, new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${id} expired after ${this.deps.options.timeoutMs} ms before every subtask acknowledged it`), true);
      });
      this.pending.set(id, p);
      this.deps.runtime.triggerSources(trigger);
      if (this.deps.runtime.taskKeys.length === 0) void this.complete(p);
    });
  }

  private async complete(p: PendingCheckpoint): Promise<void> {
    if (p.done) return;
    p.done = true;
    p.cancelTimeout();
    const { checkpointId } = p.trigger;
    const files = [...p.acks.values()].flatMap((a) => a.files);
    const tasks: Record<string, unknown> = {};
    for (const [key, ack] of p.acks) tasks[key] = ack.state;
    try {
      await p.trigger.writer.complete(
        { ...this.deps.runtime.jobMetadata(), checkpointId, timestamp: p.trigger.timestamp, isFinal: p.trigger.isFinal, tasks },
        files,
      );
    } catch (error) {
      p.done = false;
      await this.abort(p, error instanceof FloeError ? error : new FloeError('CHECKPOINT_WRITE_FAILED', `Checkpoint ${checkpointId}: ${(error as Error).message}`, { cause: error }), true);
      return;
    }
    this.pending.delete(checkpointId);
    const now = this.deps.clock.now();
    this.lastCompletedAt = now;
    this.consecutiveFailures = 0;
    this.latestCompletedId = checkpointId;
    const acks = [...p.acks.values()];
    const info: CompletedCheckpointInfo = {
      checkpointId,
      durationMs: now - p.startedAt,
      bytes: files.reduce((n, f) => n + f.size, 0),
      syncMsMax: Math.max(0, ...acks.map((a) => a.syncMs)),
      asyncMsMax: Math.max(0, ...acks.map((a) => a.asyncMs)),
      acknowledgements: p.acks,
    };
    this.completed.push(info);
    // Older pending checkpoints are subsumed by this one.
    for (const older of [...this.pending.values()])
      if (older.trigger.checkpointId < checkpointId)
        void this.abort(older, new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${older.trigger.checkpointId} was subsumed by ${checkpointId}`), false);
    this.deps.runtime.notifyComplete(checkpointId);
    for (const w of p.waiters) w.resolve(info);
    this.housekeeping = this.housekeeping.then(() => this.discardSubsumed());
    await this.housekeeping;
    this.schedulePeriodic();
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
    if (p.done && this.pending.get(p.trigger.checkpointId) !== p) return;
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
    if (countsAsFailure) this.countFailure(error);
    this.schedulePeriodic();
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

  private schedulePeriodic(): void {
    const interval = this.deps.options.intervalMs;
    if (interval === undefined || this.stopped || this.finalRequested) return;
    this.cancelPeriodic?.();
    if (this.pending.size >= this.deps.options.maxConcurrent) return; // rescheduled on completion/abort
    const at = nextTriggerTime({
      intervalMs: interval,
      minPauseMs: this.deps.options.minPauseMs,
      lastTriggerAt: this.lastTriggerAt,
      lastCompletedAt: this.lastCompletedAt,
      now: this.deps.clock.now(),
    });
    this.cancelPeriodic = this.deps.schedule(Math.max(0, at - this.deps.clock.now()), () => {
      this.cancelPeriodic = undefined;
      this.trigger(false).catch(() => {
        // failures are counted and logged in abort(); a periodic checkpoint has no caller to tell
      });
    });
  }
}
