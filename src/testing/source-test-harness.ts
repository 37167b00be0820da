// Drives one split source without a job, for connector tests: its enumerator through the runtime's
// own SourceCoordinator, `parallelism` readers polled by hand, checkpoints, completion
// notifications and restores at any parallelism with the runtime's own restore plan (Flink's
// MockSplitEnumeratorContext and TestingReaderContext in one). Time is manual. No I/O of its own.
import { planSourceRestore } from '../checkpoint/source-restore.js';
import { ManualClock } from '../core/clock.js';
import { ManualProcessingTimeService } from '../runtime/processing-time-service.js';
import { SourceCoordinator, plainCopy } from '../runtime/source-coordinator.js';
import type { InputStatus, Source, SourceReader, SourceSplit } from '../runtime/source.js';

/** What a checkpoint of the source holds: the enumerator's state and each reader's splits. */
export interface SourceHarnessSnapshot<Split extends SourceSplit = SourceSplit, EnumState = unknown> {
  checkpointId: number;
  enumerator: EnumState;
  readers: Split[][];
}

export interface SourceHarnessOptions<Split extends SourceSplit, EnumState> {
  parallelism: number;
  /** Start from this snapshot (taken at any parallelism). */
  restore?: SourceHarnessSnapshot<Split, EnumState>;
  /** Processing time of the enumerator's and readers' contexts (default a ManualClock at 0). */
  clock?: ManualClock;
  uid?: string;
}

/**
 * One source with its enumerator and readers.
 *
 * @example
 * const h = await SourceTestHarness.create(new GeneratorSource((i) => i, { count: 10 }), { parallelism: 2 });
 * h.poll(0, 3);
 * const snapshot = h.snapshot(1);
 * const rescaled = await SourceTestHarness.create(source, { parallelism: 3, restore: snapshot });
 * await rescaled.readAll();
 */
export class SourceTestHarness<T, Split extends SourceSplit = SourceSplit, EnumState = unknown> {
  /** What each reader emitted, in order. */
  readonly output: T[][];
  /** Log lines of the enumerator and the readers. */
  readonly logs: string[] = [];
  /** Per reader: the status of its last poll. */
  readonly status: InputStatus[];
  private readonly readers: Array<SourceReader<T, Split>>;
  private readonly mail: Array<Array<() => void>>;
  private readonly timers: ManualProcessingTimeService;
  private readonly coordinator: SourceCoordinator;
  private failure: { error: unknown } | undefined;

  private constructor(
    source: Source<T, Split, EnumState>,
    private readonly options: SourceHarnessOptions<Split, EnumState> & { clock: ManualClock; uid: string },
  ) {
    const { parallelism, clock, uid } = options;
    this.output = Array.from({ length: parallelism }, () => []);
    this.status = Array.from({ length: parallelism }, () => 'nothing-available');
    this.mail = Array.from({ length: parallelism }, () => []);
    this.timers = new ManualProcessingTimeService(clock);
    const log = (message: string): void => {
      this.logs.push(message);
    };
    this.coordinator = new SourceCoordinator({
      jobName: 'harness',
      uid,
      source,
      readers: this.mail.map((queue, i) => ({
        addSplits: (splits) => queue.push(() => this.readers[i].addSplits(splits as Split[])),
        notifyNoMoreSplits: () => queue.push(() => this.readers[i].notifyNoMoreSplits()),
      })),
      clock,
      processingTime: this.timers,
      log,
      failJob: (error) => {
        this.failure ??= { error };
      },
    });
    this.readers = Array.from({ length: parallelism }, (_, subtaskIndex) =>
      source.createReader({ jobName: 'harness', uid, subtaskIndex, parallelism, clock, log, sendSplitRequest: () => this.coordinator.handleSplitRequest(subtaskIndex) }),
    );
  }

  /** Creates the enumerator (restored from `options.restore`, if given) and the readers, and starts them as a job does. */
  static async create<T, Split extends SourceSplit, EnumState>(
    source: Source<T, Split, EnumState>,
    options: SourceHarnessOptions<Split, EnumState>,
  ): Promise<SourceTestHarness<T, Split, EnumState>> {
    const harness = new SourceTestHarness(source, { ...options, clock: options.clock ?? new ManualClock(0), uid: options.uid ?? 'source' });
    const restore = options.restore;
    const plan =
      restore === undefined
        ? undefined
        : planSourceRestore({ uid: harness.options.uid, parallelism: options.parallelism, old: restore.readers.map((splits, index) => ({ index, splits: plainCopy(splits) })) });
    await harness.coordinator.start(restore === undefined ? undefined : { state: plainCopy(restore.enumerator), splitsBack: plan!.splitsBack });
    for (let i = 0; i < options.parallelism; i++) {
      const restored = plan?.readers[i] ?? [];
      if (restored.length > 0) harness.readers[i].addSplits(restored);
      await harness.readers[i].start?.();
    }
    harness.throwFailure();
    return harness;
  }

  /** Delivers reader `subtask`'s pending assignments, then polls it once for up to `max` records. */
  poll(subtask: number, max = 64): InputStatus {
    this.deliver(subtask);
    const out = this.output[subtask];
    const status = this.readers[subtask].pollNext({ collect: (value) => out.push(value) }, max);
    this.status[subtask] = status;
    this.throwFailure();
    return status;
  }

  /**
   * Polls reader `subtask` until it emitted `count` more records or ended, awaiting its
   * availability when it has nothing (and no assignment is pending). Returns what it emitted.
   */
  async read(subtask: number, count: number): Promise<T[]> {
    const out = this.output[subtask];
    const before = out.length;
    while (out.length - before < count) {
      const status = this.poll(subtask, count - (out.length - before));
      if (status === 'end-of-input') break;
      if (status === 'nothing-available' && this.mail[subtask].length === 0) await this.readers[subtask].isAvailable();
    }
    return out.slice(before);
  }

  /** Reader `subtask`'s availability (`isAvailable()`), to await after it said 'nothing-available'. */
  isAvailable(subtask: number): Promise<void> {
    return this.readers[subtask].isAvailable();
  }

  /** Reads every reader to its end (a bounded source); hangs where a reader waits for what never comes. */
  async readAll(): Promise<T[]> {
    for (let i = 0; i < this.readers.length; i++) await this.read(i, Number.POSITIVE_INFINITY);
    return this.output.flat();
  }

  /** Checkpoint `checkpointId` as the runtime takes it: the enumerator's state first, then each reader's after its earlier mail. */
  snapshot(checkpointId: number): SourceHarnessSnapshot<Split, EnumState> {
    const enumerator = this.coordinator.snapshotState(checkpointId) as EnumState;
    const readers = this.readers.map((reader, i) => {
      this.deliver(i);
      return plainCopy(reader.snapshotState(checkpointId));
    });
    return { checkpointId, enumerator, readers };
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    this.coordinator.notifyCheckpointComplete(checkpointId);
    for (const reader of this.readers) await reader.notifyCheckpointComplete?.(checkpointId);
    this.throwFailure();
  }

  /** Moves time on, runs the enumerator's timers that came due and waits for their asynchronous calls. */
  async advanceTime(ms: number): Promise<void> {
    this.options.clock.advance(ms);
    this.timers.fireDue();
    await this.coordinator.asyncCallsSettled();
    this.throwFailure();
  }

  /** Assignments waiting to be delivered to reader `subtask`. */
  pendingMail(subtask: number): number {
    return this.mail[subtask].length;
  }

  async close(): Promise<void> {
    await this.coordinator.close();
    for (const reader of this.readers) await reader.close?.();
  }

  private deliver(subtask: number): void {
    const queue = this.mail[subtask];
    while (queue.length > 0) queue.shift()!();
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
