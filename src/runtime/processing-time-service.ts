// Schedules callbacks at processing-time instants. The system service uses setTimeout against
// an injected clock; the manual one fires only when a test advances time.
import type { Clock } from '../core/clock.js';

/** Schedules processing-time callbacks. */
export interface ProcessingTimeService {
  readonly clock: Clock;
  /** Runs `callback` once `clock.now() >= time`; returns a cancel function. */
  schedule(time: number, callback: () => void): () => void;
  /** Cancels everything scheduled (at shutdown, so no timer keeps the process alive). */
  shutdown(): void;
}

/** setTimeout-based; the delay is computed from the injected clock. */
export class SystemProcessingTimeService implements ProcessingTimeService {
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(readonly clock: Clock) {}

  schedule(time: number, callback: () => void): () => void {
    const handle = setTimeout(
      () => {
        this.pending.delete(handle);
        callback();
      },
      Math.max(0, time - this.clock.now()),
    );
    this.pending.add(handle);
    return () => {
      clearTimeout(handle);
      this.pending.delete(handle);
    };
  }

  shutdown(): void {
    for (const handle of this.pending) clearTimeout(handle);
    this.pending.clear();
  }
}

/** Fires callbacks only from `advanceTo(time)`; for tests and the operator harness. */
export class ManualProcessingTimeService implements ProcessingTimeService {
  private pending: Array<{ time: number; callback: () => void; cancelled: boolean }> = [];

  constructor(readonly clock: Clock) {}

  schedule(time: number, callback: () => void): () => void {
    const entry = { time, callback, cancelled: false };
    this.pending.push(entry);
    return () => {
      entry.cancelled = true;
    };
  }

  /** Runs every callback due at the clock's current time, in time order. */
  fireDue(): void {
    const now = this.clock.now();
    for (;;) {
      const due = this.pending.filter((e) => !e.cancelled && e.time <= now).sort((a, b) => a.time - b.time);
      if (due.length === 0) break;
      const first = due[0];
      this.pending = this.pending.filter((e) => e !== first);
      first.callback();
    }
    this.pending = this.pending.filter((e) => !e.cancelled);
  }

  shutdown(): void {
    this.pending = [];
  }
}
