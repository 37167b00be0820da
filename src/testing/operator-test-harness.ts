// A test harness for non-keyed functions with operator state (Flink's OneInputStreamOperator
// TestHarness): drive records, take a checkpoint, notify its completion, and restore a fresh
// instance from that checkpoint to simulate a failure. No I/O.
import { ManualClock } from '../core/clock.js';
import type { OperatorStateSnapshot } from '../state/operator/operator-state-store.js';
import type { SinkFunction } from '../runtime/functions.js';
import { SinkOperator } from '../runtime/operators/sink-operators.js';
import type { StreamOperator } from '../runtime/operators/stream-operator.js';
import { MetricRegistry } from '../runtime/metrics/user-metrics.js';
import { ManualProcessingTimeService } from '../runtime/processing-time-service.js';

/** What a harness checkpoint holds: the operator state of the instance. */
export interface HarnessSnapshot {
  checkpointId: number;
  state: OperatorStateSnapshot | undefined;
}

export class OperatorTestHarness<IN, OUT = never> {
  private readonly output: OUT[] = [];
  /** The user metrics the operator registered (`snapshot()` reads them). */
  readonly userMetrics = new MetricRegistry();

  private constructor(
    private readonly operator: StreamOperator,
    readonly subtaskIndex: number,
    readonly parallelism: number,
  ) {
    operator.setup({
      jobName: 'test-harness',
      uid: 'operator-under-test',
      name: 'operator-under-test',
      metrics: this.userMetrics.group('operator-under-test', 'operator-under-test', subtaskIndex),
      subtaskIndex,
      parallelism,
      maxParallelism: 128,
      output: { collect: (v) => void this.output.push(v as OUT), emitWatermark: () => {} },
      keyedBackend: undefined,
      processingTime: new ManualProcessingTimeService(new ManualClock(0)),
      post: (action) => void action(),
      log: () => {},
    });
  }

  /** A harness around a sink function, initialized (restored from `restore` when given) and opened. */
  static async forSink<IN>(sink: SinkFunction<IN>, options: { restore?: HarnessSnapshot; subtaskIndex?: number; parallelism?: number } = {}) {
    return OperatorTestHarness.forOperator<IN, never>(new SinkOperator(sink), options);
  }

  static async forOperator<IN, OUT>(operator: StreamOperator, options: { restore?: HarnessSnapshot; subtaskIndex?: number; parallelism?: number } = {}) {
    const harness = new OperatorTestHarness<IN, OUT>(operator, options.subtaskIndex ?? 0, options.parallelism ?? 1);
    const r = options.restore;
    await operator.initializeState(r === undefined ? undefined : { checkpointId: r.checkpointId, operatorState: r.state === undefined ? [] : [r.state] });
    await operator.open();
    return harness;
  }

  async processElement(value: IN, timestamp?: number): Promise<void> {
    this.operator.processElement(value, timestamp ?? Number.NaN);
    await this.operator.onBatchEnd();
  }

  /** Takes checkpoint `checkpointId` of this instance (the synchronous snapshot). */
  async snapshot(checkpointId: number): Promise<HarnessSnapshot> {
    return { checkpointId, state: (await this.operator.snapshotState(checkpointId, 0)) as OperatorStateSnapshot | undefined };
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await this.operator.notifyCheckpointComplete(checkpointId);
  }

  extractOutputValues(): OUT[] {
    return [...this.output];
  }

  async close(): Promise<void> {
    await this.operator.endInput();
    await this.operator.close();
  }
}
