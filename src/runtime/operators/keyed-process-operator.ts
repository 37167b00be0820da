// Runs a KeyedProcessFunction: keyed state through the runtime context, timers through the
// InternalTimerService; onTimer runs with the timer's key set. No I/O.
import type { TimerEntry } from '../../state/keyed-state-backend.js';
import type { KeyedProcessFunction, OnTimerContext, TimeDomain, TimerService } from '../functions.js';
import { InternalTimerService } from '../timer-service.js';
import { TimestampedCollector, UserFunctionOperator, bindUserFunction } from './basic-operators.js';

export class KeyedProcessOperator extends UserFunctionOperator implements OnTimerContext<unknown> {
  private readonly callProcess: KeyedProcessFunction<unknown, unknown, unknown>['processElement'];
  private readonly callOnTimer: NonNullable<KeyedProcessFunction<unknown, unknown, unknown>['onTimer']> | undefined;
  private collector!: TimestampedCollector;
  private timers!: InternalTimerService;
  private domain: TimeDomain | undefined;

  constructor(fn: KeyedProcessFunction<any, any, any>) {
    super(fn);
    this.callProcess = bindUserFunction(fn, 'processElement');
    const onTimer = (fn as { onTimer?: unknown }).onTimer;
    this.callOnTimer = typeof onTimer === 'function' ? onTimer.bind(fn) : undefined;
  }

  override async open(): Promise<void> {
    this.collector = new TimestampedCollector(this.output);
    const backend = this.ctx.keyedBackend;
    if (backend === undefined) throw new Error(`KeyedProcessOperator '${this.ctx.uid}' runs without a keyed backend`);
    this.timers = new InternalTimerService(backend, this.ctx.processingTime, this.ctx.post, (timer, domain) =>
      this.onTimer(timer, domain),
    );
    this.timers.restoreWatermark(this.inputWatermark);
    await super.open();
  }

  // --- the context object handed to the user function (this operator, to avoid allocations) ---
  timestamp(): number | undefined {
    const ts = this.collector.timestamp;
    return ts === ts ? ts : undefined;
  }

  getCurrentKey(): unknown {
    return this.ctx.keyedBackend?.getCurrentKey();
  }

  timerService(): TimerService {
    return this.timers;
  }

  timeDomain(): TimeDomain {
    return this.domain ?? 'EVENT_TIME';
  }

  override processElement(value: unknown, timestamp: number): void {
    this.collector.timestamp = timestamp;
    try {
      this.callProcess(value, this, this.collector);
    } catch (cause) {
      throw this.userError(cause, 'processElement()', value);
    }
  }

  override processWatermark(timestamp: number): void {
    this.inputWatermark = timestamp;
    this.timers.advanceWatermark(timestamp);
    this.output.emitWatermark(timestamp);
  }

  private onTimer(timer: TimerEntry, domain: TimeDomain): void {
    if (this.callOnTimer === undefined) return;
    this.domain = domain;
    this.collector.timestamp = domain === 'EVENT_TIME' ? timer.timestamp : Number.NaN;
    try {
      this.callOnTimer(timer.timestamp, this, this.collector);
    } catch (cause) {
      throw this.userError(cause, `onTimer(${timer.timestamp})`, timer.key, true);
    } finally {
      this.domain = undefined;
    }
  }

  /** Exposed for the harness and metrics. */
  get timerServiceInternal(): InternalTimerService {
    return this.timers;
  }

  override async close(): Promise<void> {
    this.timers?.close();
    await super.close();
  }
}
