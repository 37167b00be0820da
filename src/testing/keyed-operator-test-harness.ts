// A test harness for keyed functions and operators, in the spirit of Flink's
// KeyedOneInputStreamOperatorTestHarness: drive records, watermarks and processing/TTL time by
// hand, read the ordered output, inspect state through the backend's interface. No I/O.
import { ManualClock } from '../core/clock.js';
import { FloeError } from '../core/errors.js';
import { assignToKeyGroup, computeKeyGroupRangeForOperatorIndex } from '../core/key-groups.js';
import type { KeyedProcessFunction } from '../runtime/functions.js';
import { FlatMapOperator, MapOperator } from '../runtime/operators/basic-operators.js';
import { KeyedProcessOperator } from '../runtime/operators/keyed-process-operator.js';
import type { StreamOperator } from '../runtime/operators/stream-operator.js';
import { MetricRegistry } from '../runtime/metrics/user-metrics.js';
import { ManualProcessingTimeService } from '../runtime/processing-time-service.js';
import type { KeySelector } from '../runtime/partitioner.js';
import { HeapStateBackend } from '../state/heap/heap-state-backend.js';
import type { KeyedStateBackend, StateBackend } from '../state/keyed-state-backend.js';

/** One thing the operator emitted, in order. */
export type HarnessOutput<T> = { kind: 'record'; value: T; timestamp: number | undefined } | { kind: 'watermark'; timestamp: number };

export interface KeyedHarnessOptions {
  /** Number of key groups (default 128). */
  maxParallelism?: number;
  /** The operator runs as subtask `subtaskIndex` of `parallelism` (default 0 of 1). */
  parallelism?: number;
  subtaskIndex?: number;
  stateBackend?: StateBackend;
  /** Start of processing time (default 0). */
  processingTime?: number;
  /** Start of TTL time (default 0); TTL time moves separately from processing time. */
  ttlTime?: number;
  uid?: string;
}

/**
 * @example
 * const h = await KeyedOperatorTestHarness.forProcessFunction(new CountWithTimeout(), (e) => e.user);
 * h.processElement({ user: 'a' }, 10);
 * h.processWatermark(100);
 * expect(h.extractOutputValues()).toEqual([...]);
 */
export class KeyedOperatorTestHarness<IN, OUT> {
  readonly processingClock: ManualClock;
  readonly ttlClock: ManualClock;
  readonly backend: KeyedStateBackend;
  private readonly processingTime: ManualProcessingTimeService;
  private readonly output: HarnessOutput<OUT>[] = [];
  /** The user metrics the operator registered (`snapshot()` reads them). */
  readonly userMetrics = new MetricRegistry();
  private readonly mails: Array<() => void | Promise<void>> = [];
  private readonly maxParallelism: number;
  private readonly parallelism: number;
  private readonly subtaskIndex: number;

  private constructor(
    private readonly operator: StreamOperator,
    private readonly keySelector: KeySelector<IN>,
    options: KeyedHarnessOptions,
  ) {
    this.maxParallelism = options.maxParallelism ?? 128;
    this.parallelism = options.parallelism ?? 1;
    this.subtaskIndex = options.subtaskIndex ?? 0;
    this.processingClock = new ManualClock(options.processingTime ?? 0);
    this.ttlClock = new ManualClock(options.ttlTime ?? 0);
    this.processingTime = new ManualProcessingTimeService(this.processingClock);
    const uid = options.uid ?? 'operator-under-test';
    this.backend = (options.stateBackend ?? new HeapStateBackend()).createKeyedStateBackend({
      operator: uid,
      job: 'test-harness',
      subtask: this.subtaskIndex,
      parallelism: this.parallelism,
      maxParallelism: this.maxParallelism,
      keyGroupRange: computeKeyGroupRangeForOperatorIndex(this.maxParallelism, this.parallelism, this.subtaskIndex),
      ttlClock: this.ttlClock,
    });
    operator.setup({
      jobName: 'test-harness',
      uid,
      name: uid,
      metrics: this.userMetrics.group(uid, uid, this.subtaskIndex),
      subtaskIndex: this.subtaskIndex,
      parallelism: this.parallelism,
      maxParallelism: this.maxParallelism,
      output: {
        collect: (value, timestamp) => {
          this.output.push({ kind: 'record', value: value as OUT, timestamp: timestamp === timestamp ? timestamp : undefined });
        },
        emitWatermark: (timestamp) => {
          this.output.push({ kind: 'watermark', timestamp });
        },
      },
      keyedBackend: this.backend,
      processingTime: this.processingTime,
      post: (action) => this.mails.push(action),
      log: () => {},
    });
  }

  /** A harness around a KeyedProcessFunction, opened. */
  static async forProcessFunction<K, IN, OUT>(
    fn: KeyedProcessFunction<K, IN, OUT>,
    keySelector: KeySelector<IN, K>,
    options: KeyedHarnessOptions = {},
  ): Promise<KeyedOperatorTestHarness<IN, OUT>> {
    return KeyedOperatorTestHarness.forOperator<IN, OUT>(new KeyedProcessOperator(fn), keySelector, options);
  }

  /** A harness around a keyed (rich) map function, opened. */
  static async forMapFunction<IN, OUT>(fn: ConstructorParameters<typeof MapOperator>[0], keySelector: KeySelector<IN>, options: KeyedHarnessOptions = {}) {
    return KeyedOperatorTestHarness.forOperator<IN, OUT>(new MapOperator(fn), keySelector, options);
  }

  /** A harness around a keyed (rich) flatMap function, opened. */
  static async forFlatMapFunction<IN, OUT>(fn: ConstructorParameters<typeof FlatMapOperator>[0], keySelector: KeySelector<IN>, options: KeyedHarnessOptions = {}) {
    return KeyedOperatorTestHarness.forOperator<IN, OUT>(new FlatMapOperator(fn), keySelector, options);
  }

  /** A harness around any keyed operator, opened. */
  static async forOperator<IN, OUT>(operator: StreamOperator, keySelector: KeySelector<IN>, options: KeyedHarnessOptions = {}) {
    const harness = new KeyedOperatorTestHarness<IN, OUT>(operator, keySelector, options);
    await operator.open();
    return harness;
  }

  /** Processes one record (with an optional event timestamp) under its key. */
  processElement(value: IN, timestamp?: number): void {
    const key = this.keySelector(value);
    const keyGroup = assignToKeyGroup(key, this.maxParallelism);
    if (!this.backend.keyGroupRange.contains(keyGroup))
      throw new FloeError(
        'INVALID_ARGUMENT',
        `Key ${String(key)} is in key group ${keyGroup}, which subtask ${this.subtaskIndex} of ${this.parallelism} does not own (${this.backend.keyGroupRange}); the runtime would never send it here`,
      );
    this.backend.setCurrentKey(key);
    this.operator.processElement(value, timestamp ?? Number.NaN);
    this.backend.onRecordProcessed();
  }

  /** Advances event time; fires event-time timers <= timestamp. */
  processWatermark(timestamp: number): void {
    this.operator.processWatermark(timestamp);
  }

  /** Moves processing time to `time` and fires the processing-time timers that are due. */
  async setProcessingTime(time: number): Promise<void> {
    this.processingClock.set(time);
    this.processingTime.fireDue();
    while (this.mails.length > 0) await this.mails.shift()!();
  }

  /** Moves the TTL clock (state expiry) to `time`. */
  setStateTtlTime(time: number): void {
    this.ttlClock.set(time);
  }

  /** Everything emitted so far, records and watermarks, in order. */
  getOutput(): HarnessOutput<OUT>[] {
    return [...this.output];
  }

  /** The emitted record values, in order. */
  extractOutputValues(): OUT[] {
    return this.output.flatMap((o) => (o.kind === 'record' ? [o.value] : []));
  }

  clearOutput(): void {
    this.output.length = 0;
  }

  numEventTimeTimers(): number {
    return this.backend.getTimerQueue('event-timers').size;
  }

  numProcessingTimeTimers(): number {
    return this.backend.getTimerQueue('processing-timers').size;
  }

  /** Signals end of input and closes the operator. */
  async close(): Promise<void> {
    await this.operator.endInput();
    await this.operator.close();
    this.processingTime.shutdown();
    await this.backend.dispose();
  }
}
