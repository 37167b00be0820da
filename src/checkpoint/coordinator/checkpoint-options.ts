// Checkpointing options with Flink's semantics and defaults (flink-anchor.md 5.3). Pure.
import { FloeError } from '../../core/errors.js';

export type CheckpointingMode = 'exactly-once' | 'at-least-once';

/** What the user sets; everything but `intervalMs` has a default. */
export interface CheckpointingOptions {
  /** Time between the start of two periodic checkpoints; omit for on-demand checkpoints only. */
  intervalMs?: number;
  /** A checkpoint not complete after this long is aborted (default 10 minutes). */
  timeoutMs?: number;
  /** Least time between the end of one checkpoint and the start of the next (default 0). */
  minPauseMs?: number;
  /** Checkpoints in flight at once (default 1). */
  maxConcurrent?: number;
  /** Consecutive failed checkpoints tolerated before the job fails (default 0, as Flink). */
  tolerableFailures?: number;
  /** Completed checkpoints kept (default 2, one more than Flink, so a torn latest never strands a job). */
  retained?: number;
  /** Aligned barriers (exactly-once, default) or no alignment (at-least-once). */
  mode?: CheckpointingMode;
}

export type ResolvedCheckpointingOptions = Required<Omit<CheckpointingOptions, 'intervalMs'>> & { intervalMs: number | undefined };

export function resolveCheckpointingOptions(options: CheckpointingOptions): ResolvedCheckpointingOptions {
  const resolved: ResolvedCheckpointingOptions = {
    intervalMs: options.intervalMs,
    timeoutMs: options.timeoutMs ?? 10 * 60_000,
    minPauseMs: options.minPauseMs ?? 0,
    maxConcurrent: options.maxConcurrent ?? 1,
    tolerableFailures: options.tolerableFailures ?? 0,
    retained: options.retained ?? 2,
    mode: options.mode ?? 'exactly-once',
  };
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new FloeError('INVALID_ARGUMENT', `Checkpointing: ${what}`);
  };
  check(resolved.intervalMs === undefined || resolved.intervalMs >= 10, `intervalMs must be >= 10 ms, got ${resolved.intervalMs}`);
  check(resolved.timeoutMs > 0, `timeoutMs must be > 0, got ${resolved.timeoutMs}`);
  check(resolved.minPauseMs >= 0, `minPauseMs must be >= 0, got ${resolved.minPauseMs}`);
  check(Number.isInteger(resolved.maxConcurrent) && resolved.maxConcurrent >= 1, `maxConcurrent must be an integer >= 1, got ${resolved.maxConcurrent}`);
  check(Number.isInteger(resolved.tolerableFailures) && resolved.tolerableFailures >= 0, `tolerableFailures must be an integer >= 0`);
  check(Number.isInteger(resolved.retained) && resolved.retained >= 1, `retained must be an integer >= 1, got ${resolved.retained}`);
  check(resolved.mode === 'exactly-once' || resolved.mode === 'at-least-once', `mode must be 'exactly-once' or 'at-least-once'`);
  return resolved;
}
