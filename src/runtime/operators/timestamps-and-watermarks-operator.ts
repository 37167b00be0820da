// Assigns event timestamps and emits watermarks after each input batch (deterministic, unlike a
// wall-clock interval). Watermarks from upstream are swallowed except the final one. No I/O.
import type { WatermarkStrategy } from '../../core/watermark-strategy.js';
import { MAX_WATERMARK } from '../../core/stream-elements.js';
import { BaseOperator } from './stream-operator.js';

export class TimestampsAndWatermarksOperator extends BaseOperator {
  private maxTimestamp = Number.NEGATIVE_INFINITY;
  private emitted = Number.NEGATIVE_INFINITY;

  constructor(private readonly strategy: WatermarkStrategy<any>) {
    super();
  }

  override processElement(value: unknown, timestamp: number): void {
    let ts = timestamp;
    const assigner = this.strategy.timestampAssigner;
    if (assigner !== undefined) {
      try {
        ts = assigner(value, timestamp === timestamp ? timestamp : undefined);
      } catch (cause) {
        throw this.userError(cause, 'timestamp assigner', value);
      }
      if (typeof ts !== 'number' || ts !== ts)
        throw this.userError(new TypeError(`the timestamp assigner returned ${String(ts)}, expected a number (epoch ms)`), 'timestamp assigner', value);
    }
    if (ts > this.maxTimestamp) this.maxTimestamp = ts;
    this.output.collect(value, ts);
  }

  override onBatchEnd(): void {
    const wm = this.strategy.watermarkFor(this.maxTimestamp);
    if (wm > this.emitted) {
      this.emitted = wm;
      this.output.emitWatermark(wm);
    }
  }

  /** For a watermark generator, the event time reached is what it emitted. */
  override snapshotWatermark(): number {
    return this.emitted;
  }

  /** Never emits a watermark at or below the one emitted before the checkpoint. */
  override restoreWatermark(timestamp: number): void {
    this.emitted = timestamp;
  }

  override processWatermark(timestamp: number): void {
    // Only the end-of-input watermark passes: this operator now owns the stream's event time.
    if (timestamp === MAX_WATERMARK && this.emitted < MAX_WATERMARK) {
      this.emitted = MAX_WATERMARK;
      this.output.emitWatermark(MAX_WATERMARK);
    }
  }
}
