// How a stream gets event timestamps and watermarks (Flink's WatermarkStrategy). Pure.
import { FloeError } from './errors.js';

/** Extracts the event timestamp (epoch ms) of a record. */
export type TimestampAssigner<T> = (value: T, previousTimestamp: number | undefined) => number;

/**
 * Watermarks lag the largest timestamp seen by `maxOutOfOrdernessMs` (+1 ms, as Flink's
 * BoundedOutOfOrdernessWatermarks): a record at most that late is still on time.
 *
 * @example
 * stream.assignTimestampsAndWatermarks(
 *   WatermarkStrategy.forBoundedOutOfOrderness<Click>(5_000).withTimestampAssigner((c) => c.time));
 */
export class WatermarkStrategy<T> {
  private constructor(
    readonly maxOutOfOrdernessMs: number | undefined,
    readonly timestampAssigner: TimestampAssigner<T> | undefined,
  ) {}

  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    if (!Number.isFinite(maxOutOfOrdernessMs) || maxOutOfOrdernessMs < 0)
      throw new FloeError('INVALID_ARGUMENT', `forBoundedOutOfOrderness needs a delay >= 0 ms, got ${maxOutOfOrdernessMs}`);
    return new WatermarkStrategy<T>(maxOutOfOrdernessMs, undefined);
  }

  /** Timestamps only ever increase: the watermark is the largest timestamp seen - 1. */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(0, undefined);
  }

  /** Timestamps (if assigned) but no watermarks; event time then ends only at end of input. */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(undefined, undefined);
  }

  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(this.maxOutOfOrdernessMs, assigner);
  }

  /** The watermark after having seen `maxTimestamp`, or -Infinity for no watermarks. */
  watermarkFor(maxTimestamp: number): number {
    if (this.maxOutOfOrdernessMs === undefined) return Number.NEGATIVE_INFINITY;
    return maxTimestamp - this.maxOutOfOrdernessMs - 1;
  }
}
