// Stateless one-input operators: map, filter, flatMap, process. Each calls a user function per
// record and keeps the record's timestamp. No I/O.
import { OperatorStateStore } from '../../state/operator/operator-state-store.js';
import type { Collector, FilterFunction, FlatMapFunction, MapFunction, ProcessContext, ProcessFunction, RichFunction, RuntimeContext } from '../functions.js';
import { isCheckpointListener, isCheckpointedFunction } from '../functions.js';
import { createRuntimeContext } from '../runtime-context.js';
import { BaseOperator, type OperatorRestore } from './stream-operator.js';

/** Opens/closes the rich part of a user function, if it has one. */
export class UserFunctionOperator extends BaseOperator {
  protected runtimeContext!: RuntimeContext;
  private operatorState: OperatorStateStore | undefined;

  constructor(protected readonly userFunction: unknown) {
    super();
  }

  keepsOperatorState(): boolean {
    return isCheckpointedFunction(this.userFunction);
  }

  /** Calls the user's CheckpointedFunction.initializeState with operator (and keyed) state. */
  override async initializeState(restore: OperatorRestore | undefined): Promise<void> {
    this.runtimeContext = createRuntimeContext(this.ctx);
    const fn = this.userFunction;
    if (!isCheckpointedFunction(fn)) return;
    const store = new OperatorStateStore(`operator '${this.ctx.uid}' (subtask ${this.ctx.subtaskIndex})`);
    if (restore !== undefined) store.restore(restore.operatorState);
    this.operatorState = store;
    const runtimeContext = this.runtimeContext;
    try {
      await fn.initializeState({
        isRestored: () => restore !== undefined,
        getRestoredCheckpointId: () => restore?.checkpointId,
        getOperatorStateStore: () => store,
        getKeyedStateStore: () => (this.ctx.keyedBackend === undefined ? undefined : runtimeContext),
        isCheckpointingEnabled: () => this.ctx.checkpointing === true,
      });
    } catch (cause) {
      throw this.userError(cause, 'initializeState()', undefined, false);
    }
  }

  override async snapshotState(checkpointId: number, timestamp: number): Promise<unknown> {
    const fn = this.userFunction;
    if (!isCheckpointedFunction(fn) || this.operatorState === undefined) return undefined;
    try {
      await fn.snapshotState({ getCheckpointId: () => checkpointId, getCheckpointTimestamp: () => timestamp });
    } catch (cause) {
      throw this.userError(cause, `snapshotState(${checkpointId})`, undefined, false);
    }
    return this.operatorState.snapshot();
  }

  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const fn = this.userFunction;
    if (isCheckpointListener(fn)) await fn.notifyCheckpointComplete(checkpointId);
  }

  override async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    const fn = this.userFunction;
    if (isCheckpointListener(fn)) await fn.notifyCheckpointAborted?.(checkpointId);
  }

  override async open(): Promise<void> {
    this.runtimeContext ??= createRuntimeContext(this.ctx);
    const rich = this.userFunction as RichFunction;
    if (typeof rich === 'object' && rich !== null && typeof rich.open === 'function') {
      try {
        await rich.open(this.runtimeContext);
      } catch (cause) {
        throw this.userError(cause, 'open()', undefined, false);
      }
    }
  }

  override async close(): Promise<void> {
    const rich = this.userFunction as RichFunction;
    if (typeof rich === 'object' && rich !== null && typeof rich.close === 'function') {
      try {
        await rich.close();
      } catch (cause) {
        throw this.userError(cause, 'close()', undefined, false);
      }
    }
  }
}

/** Returns a plain function calling `method` of an object function, or the function itself. */
export function bindUserFunction<F extends (...args: any[]) => any>(fn: unknown, method: string): F {
  if (typeof fn === 'function') return fn as F;
  const target = fn as Record<string, unknown>;
  const m = target?.[method];
  if (typeof m !== 'function') throw new TypeError(`Expected a function or an object with a ${method}() method`);
  return (m as F).bind(target) as F;
}

export class MapOperator extends UserFunctionOperator {
  private readonly call: (value: unknown) => unknown;

  constructor(fn: MapFunction<any, any>) {
    super(fn);
    this.call = bindUserFunction(fn, 'map');
  }

  override processElement(value: unknown, timestamp: number): void {
    let result: unknown;
    try {
      result = this.call(value);
    } catch (cause) {
      throw this.userError(cause, 'map()', value);
    }
    this.output.collect(result, timestamp);
  }
}

export class FilterOperator extends UserFunctionOperator {
  private readonly call: (value: unknown) => boolean;

  constructor(fn: FilterFunction<any>) {
    super(fn);
    this.call = bindUserFunction(fn, 'filter');
  }

  override processElement(value: unknown, timestamp: number): void {
    let keep: boolean;
    try {
      keep = this.call(value);
    } catch (cause) {
      throw this.userError(cause, 'filter()', value);
    }
    if (keep) this.output.collect(value, timestamp);
  }
}

/** A Collector that stamps emitted records with the current input's timestamp. */
export class TimestampedCollector implements Collector<unknown> {
  timestamp = Number.NaN;
  constructor(private readonly out: { collect(value: unknown, timestamp: number): void }) {}
  collect(value: unknown): void {
    this.out.collect(value, this.timestamp);
  }
}

export class FlatMapOperator extends UserFunctionOperator {
  private readonly call: (value: unknown, out: Collector<unknown>) => void;
  private collector!: TimestampedCollector;

  constructor(fn: FlatMapFunction<any, any>) {
    super(fn);
    this.call = bindUserFunction(fn, 'flatMap');
  }

  override async open(): Promise<void> {
    this.collector = new TimestampedCollector(this.output);
    await super.open();
  }

  override processElement(value: unknown, timestamp: number): void {
    this.collector.timestamp = timestamp;
    try {
      this.call(value, this.collector);
    } catch (cause) {
      throw this.userError(cause, 'flatMap()', value);
    }
  }
}

export class ProcessOperator extends UserFunctionOperator implements ProcessContext {
  private readonly call: ProcessFunction<unknown, unknown>['processElement'];
  private collector!: TimestampedCollector;

  constructor(fn: ProcessFunction<any, any>) {
    super(fn);
    this.call = bindUserFunction(fn, 'processElement');
  }

  override async open(): Promise<void> {
    this.collector = new TimestampedCollector(this.output);
    await super.open();
  }

  timestamp(): number | undefined {
    const ts = this.collector.timestamp;
    return ts === ts ? ts : undefined;
  }

  currentProcessingTime(): number {
    return this.ctx.processingTime.clock.now();
  }

  currentWatermark(): number {
    return this.inputWatermark;
  }

  override processElement(value: unknown, timestamp: number): void {
    this.collector.timestamp = timestamp;
    try {
      this.call(value, this, this.collector);
    } catch (cause) {
      throw this.userError(cause, 'processElement()', value);
    }
  }
}
