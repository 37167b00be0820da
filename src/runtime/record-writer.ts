// The output side of a subtask for one edge: buffers records per target channel and ships them
// as batches; watermarks and end-of-input go to every target after the buffered records. No I/O.
import { END_OF_INPUT, type RecordBatch, watermark } from '../core/stream-elements.js';
import type { LocalChannel } from './channel.js';
import type { ChannelSelector } from './partitioner.js';

class BatchBuilder {
  values: unknown[] = [];
  keys: unknown[] | undefined;
  timestamps: number[] | undefined;

  constructor(private readonly keyed: boolean) {
    if (keyed) this.keys = [];
  }

  add(value: unknown, key: unknown, timestamp: number): void {
    const values = this.values;
    if (timestamp === timestamp && this.timestamps === undefined) {
      // First timestamped record of the batch: earlier records had none.
      this.timestamps = new Array(values.length).fill(Number.NaN);
    }
    values.push(value);
    if (this.keys !== undefined) this.keys.push(key);
    if (this.timestamps !== undefined) this.timestamps.push(timestamp);
  }

  take(): RecordBatch {
    const batch: RecordBatch = { kind: 'records', values: this.values, keys: this.keys, timestamps: this.timestamps };
    this.values = [];
    this.keys = this.keyed ? [] : undefined;
    this.timestamps = undefined;
    return batch;
  }
}

/** Writes one edge's records into its target channels in batches of `batchSize`. */
export class RecordWriter {
  private readonly builders: BatchBuilder[];
  recordsOut = 0;

  constructor(
    private readonly targets: LocalChannel[],
    private readonly selector: ChannelSelector,
    private readonly batchSize: number,
  ) {
    this.builders = targets.map(() => new BatchBuilder(selector.isKeyed));
  }

  emit(value: unknown, timestamp: number): void {
    this.recordsOut++;
    const selector = this.selector;
    if (selector.isBroadcast) {
      for (let i = 0; i < this.builders.length; i++) this.append(i, value, undefined, timestamp);
      return;
    }
    const target = selector.select(value);
    this.append(target, value, selector.lastKey, timestamp);
  }

  private append(target: number, value: unknown, key: unknown, timestamp: number): void {
    const builder = this.builders[target];
    builder.add(value, key, timestamp);
    if (builder.values.length >= this.batchSize) this.targets[target].push(builder.take());
  }

  /** Ships every partly filled batch. */
  flush(): void {
    for (let i = 0; i < this.builders.length; i++) {
      if (this.builders[i].values.length > 0) this.targets[i].push(this.builders[i].take());
    }
  }

  emitWatermark(timestamp: number): void {
    this.flush();
    const element = watermark(timestamp);
    for (const target of this.targets) target.push(element);
  }

  /** Sends an event (a barrier) to every target after the records before it. */
  broadcastElement(element: import('../core/stream-elements.js').StreamElement): void {
    this.flush();
    for (const target of this.targets) target.push(element);
  }

  end(): void {
    this.flush();
    for (const target of this.targets) target.push(END_OF_INPUT);
  }

  isBackpressured(): boolean {
    for (const target of this.targets) if (target.isFull()) return true;
    return false;
  }

  async whenWritable(): Promise<void> {
    for (const target of this.targets) if (target.isFull()) await target.whenWritable();
  }

  releaseWaiters(): void {
    for (const target of this.targets) target.releaseWaiters();
  }
}
