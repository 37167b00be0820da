// The reader side of a split source inside one subtask (Flink's SourceOperator): starts the reader
// with its restored splits, receives assignments from the coordinator as mail, polls it, waits on
// its availability OR the subtask's mail, snapshots its splits and forwards checkpoint
// notifications. Not a chain operator: the task drives it. No I/O of its own.
import { FloeError, describeContext, type ErrorContext } from '../core/errors.js';
import type { InputGate, Mail } from './input-gate.js';
import type { SourceReaderGateway } from './source-coordinator.js';
import type { InputStatus, SourceOutput, SourceReader, SourceSplit } from './source.js';

export class SourceOperator implements SourceReaderGateway {
  /** Splits restored from the checkpoint, added right after start() (set by the job runner). */
  restoredSplits: SourceSplit[] = [];
  private started = false;
  private closed = false;
  private ended = false;
  /** The last availability promise the loop waited on, and whether it resolved. */
  private watched: Promise<void> | undefined;
  private watchedResolved = false;
  private availabilityError: { error: unknown } | undefined;

  constructor(
    readonly reader: SourceReader<unknown, SourceSplit>,
    private readonly options: { context: ErrorContext; post(mail: Mail): void },
  ) {}

  /** Delivered as mail: the reader gets them between two polls, in order with barriers. */
  addSplits(splits: SourceSplit[]): void {
    this.options.post(() => {
      if (this.ended) throw new FloeError('INVALID_JOB', `${describeContext(this.options.context)}: split '${splits[0]?.id}' arrived after the reader ended; it would never be read`, { context: this.options.context });
      this.reader.addSplits(splits);
    });
  }

  notifyNoMoreSplits(): void {
    this.options.post(() => this.reader.notifyNoMoreSplits());
  }

  /** Adds the restored splits, then starts the reader (Flink's order). */
  async open(): Promise<void> {
    this.started = true;
    if (this.restoredSplits.length > 0) this.reader.addSplits(this.restoredSplits);
    this.restoredSplits = [];
    await this.reader.start?.();
  }

  pollNext(output: SourceOutput<unknown>, max: number): InputStatus {
    if (this.availabilityError !== undefined) throw this.availabilityError.error;
    const status = this.reader.pollNext(output, max);
    if (status === 'end-of-input') this.ended = true;
    return status;
  }

  /**
   * Waits until the reader's `isAvailable()` resolved or the subtask got mail (or was cancelled),
   * whichever comes first; one handler per distinct promise, so a long wait through many
   * checkpoints adds nothing per wake-up.
   */
  async waitForInput(gate: InputGate): Promise<void> {
    const availability = this.reader.isAvailable();
    if (availability !== this.watched) {
      this.watched = availability;
      this.watchedResolved = false;
      availability.then(
        () => {
          if (this.watched !== availability) return;
          this.watchedResolved = true;
          gate.onAvailable();
        },
        (error: unknown) => {
          this.availabilityError = { error };
          gate.onAvailable();
        },
      );
    } else if (this.watchedResolved) {
      // Resolved, yet the reader had nothing: poll again after a turn of the event loop, not in a microtask spin.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return;
    }
    await gate.whenAvailable();
  }

  /** The reader's splits with their positions, as plain data (copied by the task). */
  snapshotState(checkpointId: number): SourceSplit[] {
    return this.started && !this.closed ? this.reader.snapshotState(checkpointId) : [...this.restoredSplits];
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    if (this.started && !this.closed) await this.reader.notifyCheckpointComplete?.(checkpointId);
  }

  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    if (this.started && !this.closed) await this.reader.notifyCheckpointAborted?.(checkpointId);
  }

  async close(): Promise<void> {
    if (!this.started || this.closed) return;
    this.closed = true;
    await this.reader.close?.();
  }
}
