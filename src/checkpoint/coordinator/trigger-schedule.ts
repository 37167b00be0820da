// When the next periodic checkpoint may start (Flink's interval and min-pause rules). Pure.

export interface ScheduleInput {
  intervalMs: number;
  minPauseMs: number;
  /** Start of the last triggered checkpoint (-Infinity before the first). */
  lastTriggerAt: number;
  /** End of the last completed checkpoint (-Infinity before the first). */
  lastCompletedAt: number;
  now: number;
}

/** The earliest time for the next trigger: an interval after the last trigger and min-pause after the last completion. */
export function nextTriggerTime(input: ScheduleInput): number {
  const byInterval = input.lastTriggerAt === Number.NEGATIVE_INFINITY ? input.now + input.intervalMs : input.lastTriggerAt + input.intervalMs;
  const byPause = input.lastCompletedAt + input.minPauseMs;
  return Math.max(byInterval, byPause, input.now);
}
