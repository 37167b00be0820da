// Time is injected, never read ad hoc: TTL, processing-time timers and (later) checkpoint
// intervals all ask a Clock. Pure, no I/O.

/** A source of processing time in epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** Wall-clock time (`Date.now()`). */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that moves only when told to: tests and the operator harness use it so that TTL and
 * processing-time timers are deterministic.
 */
export class ManualClock implements Clock {
  private current: number;

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Sets the time; it may not go backwards. */
  set(time: number): void {
    if (time < this.current) throw new RangeError(`ManualClock cannot go back from ${this.current} to ${time}`);
    this.current = time;
  }

  advance(ms: number): void {
    this.set(this.current + ms);
  }
}
