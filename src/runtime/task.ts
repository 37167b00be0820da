// One parallel subtask: a single-threaded mailbox loop over its input gate (or its source
// reader), driving a chain of operators and writing to its output edges. Records are handled
// batch by batch; the loop awaits only when it has no input, when an output is full, or for I/O.
import { FloeError } from '../core/errors.js';
import { MAX_WATERMARK, type RecordBatch } from '../core/stream-elements.js';
import type { KeyedStateBackend } from '../state/keyed-state-backend.js';
import type { InputGate } from './input-gate.js';
import type { StreamOperator, Output } from './operators/stream-operator.js';
import type { RecordWriter } from './record-writer.js';
import type { SourceOutput, SourceReader } from './source.js';

/** How many input batches a busy loop handles before yielding to the event loop. */
const YIELD_EVERY_BATCHES = 32;

export interface StreamTaskOptions {
  jobName: string;
  /** "name (2/4)" for logs and errors. */
  taskName: string;
  subtaskIndex: number;
  operators: StreamOperator[];
  gate: InputGate;
  source: SourceReader<unknown> | undefined;
  writers: RecordWriter[];
  keyedBackend: KeyedStateBackend | undefined;
  batchSize: number;
  /** Output into the head operator (or the writers when the chain is empty). */
  headInput: Output;
}

export class TaskCancelledError extends FloeError {
  constructor(taskName: string) {
    super('JOB_CANCELLED', `Task ${taskName} was cancelled`);
  }
}

export class StreamTask {
  recordsIn = 0;
  private cancelled = false;
  private opened = 0;
  private watermark = Number.NEGATIVE_INFINITY;
  private batchesSinceYield = 0;
  finished = false;

  constructor(readonly options: StreamTaskOptions) {}

  cancel(): void {
    this.cancelled = true;
    this.options.gate.cancel();
    for (const w of this.options.writers) w.releaseWaiters();
  }

  get recordsOut(): number {
    let n = 0;
    for (const w of this.options.writers) n += w.recordsOut;
    return n;
  }

  async run(): Promise<void> {
    const { operators } = this.options;
    // Open from the tail so every operator's downstream is ready before it emits.
    for (let i = operators.length - 1; i >= 0; i--) {
      await operators[i].open();
      this.opened++;
    }
    if (this.options.source !== undefined) await this.runSource(this.options.source);
    else await this.runInputs();
    for (const op of operators) await op.endInput();
    for (const w of this.options.writers) w.end();
    await this.closeOperators();
    this.finished = true;
  }

  /** Best-effort close after a failure; errors here must not hide the original one. */
  async abort(): Promise<void> {
    try {
      await this.closeOperators();
    } catch {
      // the job already failed with the error that matters
    }
  }

  private async closeOperators(): Promise<void> {
    const { operators } = this.options;
    while (this.opened > 0) {
      const op = operators[operators.length - this.opened];
      this.opened--;
      await op.close();
    }
  }

  private async runSource(reader: SourceReader<unknown>): Promise<void> {
    const input = this.options.headInput;
    const output: SourceOutput<unknown> = {
      collect: (value, timestamp) => {
        this.recordsIn++;
        input.collect(value, timestamp ?? Number.NaN);
      },
    };
    await reader.open?.();
    try {
      for (;;) {
        await this.runMails();
        await this.awaitWritable();
        let more = reader.pollNext(output, this.options.batchSize);
        if (more instanceof Promise) {
          this.flushWriters();
          more = await more;
          this.checkCancelled();
        }
        await this.afterBatch();
        if (!more) break;
      }
    } finally {
      await reader.close?.();
    }
    this.advanceWatermark(MAX_WATERMARK);
  }

  private async runInputs(): Promise<void> {
    const gate = this.options.gate;
    for (;;) {
      if (gate.hasMail) await this.runMails();
      const element = gate.poll();
      if (element === undefined) {
        if (gate.allEnded) return;
        this.flushWriters();
        await gate.whenAvailable();
        this.checkCancelled();
        continue;
      }
      if (element.kind === 'records') {
        this.processBatch(element);
        await this.afterBatch();
        await this.awaitWritable();
      } else if (element.kind === 'watermark') {
        const advanced = gate.updateWatermark(gate.lastChannel, element.timestamp, this.watermark);
        if (advanced !== undefined) this.advanceWatermark(advanced);
      } else {
        const advanced = gate.endChannel(gate.lastChannel, this.watermark);
        if (advanced !== undefined) this.advanceWatermark(advanced);
        if (gate.allEnded) {
          await this.runMails();
          return;
        }
      }
    }
  }

  private processBatch(batch: RecordBatch): void {
    const { values, keys, timestamps } = batch;
    const head = this.options.operators[0];
    const backend = this.options.keyedBackend;
    const n = values.length;
    this.recordsIn += n;
    if (backend !== undefined && keys !== undefined) {
      for (let i = 0; i < n; i++) {
        backend.setCurrentKey(keys[i]);
        head.processElement(values[i], timestamps === undefined ? Number.NaN : timestamps[i]);
        backend.onRecordProcessed();
      }
    } else if (timestamps === undefined) {
      for (let i = 0; i < n; i++) head.processElement(values[i], Number.NaN);
    } else {
      for (let i = 0; i < n; i++) head.processElement(values[i], timestamps[i]);
    }
  }

  private advanceWatermark(timestamp: number): void {
    this.watermark = timestamp;
    this.options.headInput.emitWatermark(timestamp);
  }

  private async afterBatch(): Promise<void> {
    for (const op of this.options.operators) {
      const pending = op.onBatchEnd();
      if (pending !== undefined) await pending;
    }
    if (++this.batchesSinceYield >= YIELD_EVERY_BATCHES) {
      this.batchesSinceYield = 0;
      this.flushWriters();
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.checkCancelled();
    }
  }

  private async runMails(): Promise<void> {
    const mails = this.options.gate.takeMails();
    if (mails === undefined) return;
    for (const mail of mails) {
      const pending = mail();
      if (pending !== undefined) await pending;
    }
  }

  private async awaitWritable(): Promise<void> {
    for (const w of this.options.writers) {
      if (w.isBackpressured()) {
        await w.whenWritable();
        this.checkCancelled();
      }
    }
    this.checkCancelled();
  }

  private flushWriters(): void {
    for (const w of this.options.writers) w.flush();
  }

  private checkCancelled(): void {
    if (this.cancelled) throw new TaskCancelledError(this.options.taskName);
  }
}
