// Event-time and processing-time timers of one keyed operator instance (Flink's
// InternalTimerService). Timers live in the keyed backend's queues, per key group; this class
// decides when they fire. No I/O.
import type { KeyedStateBackend, KeyGroupedTimerQueue, Namespace, TimerEntry } from '../state/keyed-state-backend.js';
import { VOID_NAMESPACE } from '../state/keyed-state-backend.js';
import type { TimerService } from './functions.js';
import type { ProcessingTimeService } from './processing-time-service.js';

/** Called for each timer that fires, with the backend's current key already set to the timer's key. */
export type TimerTarget = (timer: TimerEntry, domain: 'EVENT_TIME' | 'PROCESSING_TIME') => void;

export class InternalTimerService implements TimerService {
  private readonly eventTimers: KeyGroupedTimerQueue;
  private readonly processingTimers: KeyGroupedTimerQueue;
  private watermark = Number.NEGATIVE_INFINITY;
  private scheduledAt = Number.POSITIVE_INFINITY;
  private cancelScheduled: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly backend: KeyedStateBackend,
    private readonly processingTime: ProcessingTimeService,
    /** Posts the firing of processing-time timers to the task's mailbox. */
    private readonly post: (action: () => void) => void,
    private readonly target: TimerTarget,
  ) {
    this.eventTimers = backend.getTimerQueue('event-timers');
    this.processingTimers = backend.getTimerQueue('processing-timers');
    this.scheduleNextProcessingTimer();
  }

  currentProcessingTime(): number {
    return this.processingTime.clock.now();
  }

  currentWatermark(): number {
    return this.watermark;
  }

  registerEventTimeTimer(timestamp: number, namespace: Namespace = VOID_NAMESPACE): void {
    this.eventTimers.add(timestamp, namespace);
  }

  deleteEventTimeTimer(timestamp: number, namespace: Namespace = VOID_NAMESPACE): void {
    this.eventTimers.remove(timestamp, namespace);
  }

  registerProcessingTimeTimer(timestamp: number, namespace: Namespace = VOID_NAMESPACE): void {
    if (this.processingTimers.add(timestamp, namespace) && timestamp < this.scheduledAt) this.scheduleAt(timestamp);
  }

  deleteProcessingTimeTimer(timestamp: number, namespace: Namespace = VOID_NAMESPACE): void {
    this.processingTimers.remove(timestamp, namespace);
  }

  /** Resumes at a restored watermark without firing: timers due by then fired before the checkpoint. */
  restoreWatermark(watermark: number): void {
    this.watermark = watermark;
  }

  /** Fires every event-time timer with timestamp <= watermark, in timestamp order. */
  advanceWatermark(watermark: number): void {
    this.watermark = watermark;
    const queue = this.eventTimers;
    for (let timer = queue.peek(); timer !== undefined && timer.timestamp <= watermark; timer = queue.peek()) {
      queue.poll();
      this.backend.setCurrentKey(timer.key);
      this.target(timer, 'EVENT_TIME');
    }
  }

  /** Fires every processing-time timer due now; then schedules the next one. */
  fireProcessingTimers(): void {
    this.scheduledAt = Number.POSITIVE_INFINITY;
    this.cancelScheduled = undefined;
    const now = this.processingTime.clock.now();
    const queue = this.processingTimers;
    for (let timer = queue.peek(); timer !== undefined && timer.timestamp <= now; timer = queue.peek()) {
      queue.poll();
      this.backend.setCurrentKey(timer.key);
      this.target(timer, 'PROCESSING_TIME');
    }
    this.scheduleNextProcessingTimer();
  }

  get numEventTimers(): number {
    return this.eventTimers.size;
  }

  get numProcessingTimers(): number {
    return this.processingTimers.size;
  }

  /** Stops scheduling; pending processing-time timers stay in state (as Flink at end of input). */
  close(): void {
    this.closed = true;
    this.cancelScheduled?.();
    this.cancelScheduled = undefined;
  }

  private scheduleNextProcessingTimer(): void {
    const head = this.processingTimers.peek();
    if (head !== undefined) this.scheduleAt(head.timestamp);
  }

  private scheduleAt(timestamp: number): void {
    if (this.closed) return;
    this.cancelScheduled?.();
    this.scheduledAt = timestamp;
    this.cancelScheduled = this.processingTime.schedule(timestamp, () => this.post(() => this.fireProcessingTimers()));
  }
}
