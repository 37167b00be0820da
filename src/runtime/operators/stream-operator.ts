// The operator contract the subtask loop drives, and the context an operator gets. No I/O.
import { FloeError, describeContext, describeValue } from '../../core/errors.js';
import type { KeyedStateBackend } from '../../state/keyed-state-backend.js';
import type { ProcessingTimeService } from '../processing-time-service.js';

/** Where an operator sends what it produces. */
export interface Output {
  /** `timestamp` is NaN when the record has none. */
  collect(value: unknown, timestamp: number): void;
  emitWatermark(timestamp: number): void;
}

/** Everything an operator instance needs from its subtask. */
export interface OperatorContext {
  jobName: string;
  uid: string;
  name: string;
  subtaskIndex: number;
  parallelism: number;
  maxParallelism: number;
  output: Output;
  /** Present for operators on a keyed stream. */
  keyedBackend: KeyedStateBackend | undefined;
  processingTime: ProcessingTimeService;
  /** True when the job takes checkpoints (undefined: it does not). */
  checkpointing?: boolean;
  /** The user metrics of this operator instance (`ctx.metrics` in rich functions). */
  metrics: import('../metrics/user-metrics.js').MetricGroup;
  /** Posts an action to the subtask's mailbox (runs between batches). */
  post(action: () => void | Promise<void>): void;
  log(message: string): void;
}

/** What an operator gets back on restore. */
export interface OperatorRestore {
  checkpointId: number;
  /** Operator-state parts assigned to this instance. */
  operatorState: import('../../state/operator/operator-state-store.js').OperatorStateSnapshot[];
}

/**
 * One operator of a chain. The subtask calls `processElement` per record (after setting the
 * key on keyed operators), `processWatermark` when the input watermark advances, `onBatchEnd`
 * after each input batch, `endInput` once the input is exhausted, then `close`.
 */
export interface StreamOperator {
  readonly uid: string;
  setup(ctx: OperatorContext): void;
  open(): void | Promise<void>;
  processElement(value: unknown, timestamp: number): void;
  /** Records of the second input (two-input operators only). */
  processElement2?(value: unknown, timestamp: number): void;
  processWatermark(timestamp: number): void;
  onBatchEnd(): void | Promise<void>;
  endInput(): void | Promise<void>;
  close(): void | Promise<void>;
  /** Before open(): registers operator state, restored when `restore` is given. */
  initializeState(restore: OperatorRestore | undefined): void | Promise<void>;
  /** The synchronous part of a checkpoint; returns the operator state to store (if any). */
  snapshotState(checkpointId: number, timestamp: number): unknown | Promise<unknown>;
  notifyCheckpointComplete(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted(checkpointId: number): void | Promise<void>;
  /** True when the operator keeps operator state in checkpoints (a CheckpointedFunction); for plans. */
  keepsOperatorState?(): boolean;
  /** The event time this operator has reached (its input watermark), stored with each checkpoint. */
  snapshotWatermark(): number;
  /** Before open(): resumes at the stored event time, so lateness after a restore is judged as without the failure. */
  restoreWatermark(timestamp: number): void;
}

/** Common plumbing: context access, watermark forwarding, user-error wrapping. */
export class BaseOperator implements StreamOperator {
  protected ctx!: OperatorContext;
  protected output!: Output;
  protected inputWatermark = Number.NEGATIVE_INFINITY;

  get uid(): string {
    return this.ctx?.uid ?? '(not set up)';
  }

  setup(ctx: OperatorContext): void {
    this.ctx = ctx;
    this.output = ctx.output;
  }

  open(): void | Promise<void> {}

  processElement(_value: unknown, _timestamp: number): void {}

  processWatermark(timestamp: number): void {
    this.inputWatermark = timestamp;
    this.output.emitWatermark(timestamp);
  }

  onBatchEnd(): void | Promise<void> {}

  endInput(): void | Promise<void> {}

  close(): void | Promise<void> {}

  initializeState(_restore: OperatorRestore | undefined): void | Promise<void> {}

  snapshotState(_checkpointId: number, _timestamp: number): unknown | Promise<unknown> {
    return undefined;
  }

  notifyCheckpointComplete(_checkpointId: number): void | Promise<void> {}

  notifyCheckpointAborted(_checkpointId: number): void | Promise<void> {}

  snapshotWatermark(): number {
    return this.inputWatermark;
  }

  restoreWatermark(timestamp: number): void {
    this.inputWatermark = timestamp;
  }

  /**
   * Wraps an exception thrown by user code so it names the job, the operator, the subtask and
   * the record. An error already wrapped further down the chain passes through unchanged.
   */
  protected userError(cause: unknown, what: string, record?: unknown, hasRecord = true): FloeError {
    if (cause instanceof FloeError && cause.code !== 'IO_ERROR') return cause;
    const ctx = this.ctx;
    const place = describeContext({ job: ctx.jobName, operator: ctx.uid, operatorName: ctx.name, subtask: ctx.subtaskIndex, parallelism: ctx.parallelism });
    const message = cause instanceof Error ? cause.message : String(cause);
    const onRecord = hasRecord ? ` on record ${describeValue(record)}` : '';
    return new FloeError('USER_FUNCTION_FAILED', `${what} failed in ${place}${onRecord}: ${message}`, {
      context: { job: ctx.jobName, operator: ctx.uid, operatorName: ctx.name, subtask: ctx.subtaskIndex },
      cause,
    });
  }
}
