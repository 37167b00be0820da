// One parallel subtask: a single-threaded mailbox loop over its input gate (or its source
// reader), driving a chain of operators and writing to its output edges. Records are handled
// batch by batch; the loop awaits only when it has no input, when an output is full, or for I/O.
import { FloeError, describeValue } from '../core/errors.js';
import { Packr } from 'msgpackr';
import { MAX_WATERMARK, type CheckpointBarrier, type RecordBatch } from '../core/stream-elements.js';
import type { TaskRestore, TaskSnapshotFile } from '../checkpoint/restore-assignment.js';

export type { TaskRestore, TaskSnapshotFile };
import type { KeyedStateBackend } from '../state/keyed-state-backend.js';
import type { InputGate } from './input-gate.js';
import type { StreamOperator, Output } from './operators/stream-operator.js';
import type { RecordWriter } from './record-writer.js';
import type { SourceOutput } from './source.js';
import type { SourceOperator } from './source-operator.js';

/**
 * How long the subtasks of this process run before they yield to the event loop. They hand
 * batches to each other through promises (microtasks), so only these yields let I/O (the
 * asynchronous phase of checkpoints, sinks' writes) and timers make progress, one step per turn.
 * The budget is per turn of the event loop, shared by every subtask (they all run on it), so a
 * turn stays this short at any parallelism.
 */
const YIELD_AFTER_MS = 4;
const eventLoopTurn = { startedAt: performance.now() };

const packr = new Packr({ useRecords: false, moreTypes: false });

/** The checkpointing side of a subtask, provided by the job runner. */
export interface TaskCheckpointing {
  mode: 'exactly-once' | 'at-least-once';
  /** "uid#index", the key of this subtask's acknowledgement. */
  taskKey: string;
  /** Shared files of incremental keyed state (the storage's `shared/`). */
  shared?: import('../state/keyed-state-backend.js').SharedStateStore;
  /** Writes this subtask's file into checkpoint `id`; resolves with the handle to acknowledge. */
  write(checkpointId: number, name: string, bytes: Uint8Array[]): Promise<{ name: string; size: number; sha256: string }>;
  acknowledge(checkpointId: number, ack: { state: unknown; files: Array<{ name: string; size: number; sha256: string }>; syncMs: number; asyncMs: number; cpuMs: number }): void;
  decline(checkpointId: number, error: unknown): void;
  /** Called by source tasks once their input is exhausted (the runner then triggers the final checkpoint). */
  sourceFinished(): void;
}

import { encodeTaskSnapshot } from '../checkpoint/task-snapshot-file.js';

export { encodeTaskSnapshot, decodeTaskSnapshot } from '../checkpoint/task-snapshot-file.js';

export interface StreamTaskOptions {
  jobName: string;
  /** "name (2/4)" for logs and errors. */
  taskName: string;
  subtaskIndex: number;
  operators: StreamOperator[];
  gate: InputGate;
  /** The split reader of a source subtask (its chain's head), else undefined. */
  source: SourceOperator | undefined;
  writers: RecordWriter[];
  keyedBackend: KeyedStateBackend | undefined;
  batchSize: number;
  /** Output into the head operator (or the writers when the chain is empty). */
  headInput: Output;
  checkpointing: TaskCheckpointing | undefined;
  restore: TaskRestore | undefined;
  /** For each input channel: 0 (first input) or 1 (the second input of a two-input operator). */
  channelInputs: number[];
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
  /** Set once keyed and operator state are restored (or initialized) and the operators opened: restore progress reads it. */
  stateRestored = false;
  /** When the state was restored and the operators opened (Date.now()). */
  stateRestoredAt: number | undefined;
  private watermark = Number.NEGATIVE_INFINITY;
  finished = false;
  /** Barriers received per checkpoint id while aligning (channel indexes). */
  private readonly aligning = new Map<number, { barrier: CheckpointBarrier; seen: Set<number> }>();
  private lastCheckpointTaken = 0;
  /** Checkpoints aborted before this subtask took them (their late barriers are ignored). */
  private readonly abortedCheckpoints = new Set<number>();
  private finalCheckpointDone = false;
  private readonly pendingWrites = new Set<Promise<void>>();
  /** Per recent checkpoint or savepoint this subtask took: how much of its asynchronous part is done (0 to 1). */
  private readonly snapshotProgress = new Map<number, () => number>();

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
    const { operators, restore } = this.options;
    if (restore !== undefined) {
      if (restore.keyed.length > 0) await this.options.keyedBackend?.restore(restore.keyed);
      this.watermark = restore.watermarks.task;
      for (const op of operators) op.restoreWatermark(restore.watermarks.operators[op.uid] ?? Number.NEGATIVE_INFINITY);
    }
    for (const op of operators)
      await op.initializeState(restore === undefined ? undefined : { checkpointId: restore.checkpointId, operatorState: restore.operatorState[op.uid] ?? [] });
    // Open from the tail so every operator's downstream is ready before it emits.
    for (let i = operators.length - 1; i >= 0; i--) {
      await operators[i].open();
      this.opened++;
    }
    // After open(): the heap backend fills a restored state's table when open() registers it.
    this.stateRestoredAt = Date.now();
    this.stateRestored = true;
    if (this.options.source !== undefined) await this.runSource(this.options.source);
    else await this.runInputs();
    for (const op of operators) await op.endInput();
    if (this.options.checkpointing !== undefined) await this.awaitFinalCheckpoint();
    for (const w of this.options.writers) w.end();
    await Promise.all(this.pendingWrites);
    await this.closeOperators();
    this.finished = true;
  }

  /** How much of this subtask's part of checkpoint `id` is written, 0 to 1 (0 before its barrier arrived). */
  snapshotDone(id: number): number {
    return this.snapshotProgress.get(id)?.() ?? 0;
  }

  /** Injects a checkpoint at a source (run as mail in the source's loop). */
  triggerCheckpoint(barrier: CheckpointBarrier): void {
    this.options.gate.putMail(() => this.performCheckpoint(barrier));
  }

  /** Delivers checkpoint completion (run as mail, between batches). */
  notifyCheckpointComplete(checkpointId: number, isFinal: boolean): Promise<void> {
    // Resolves once the operators were told (sinks committed), or never when the task ends first.
    return new Promise((resolve) =>
      this.options.gate.putMail(async () => {
        try {
          await this.options.source?.notifyCheckpointComplete(checkpointId);
          for (const op of this.options.operators) await op.notifyCheckpointComplete(checkpointId);
          if (isFinal) this.finalCheckpointDone = true;
        } finally {
          resolve();
        }
      }),
    );
  }

  /** Delivers an abort (timeout, decline, subsumed): releases its alignment, then tells the operators. */
  notifyCheckpointAborted(checkpointId: number): void {
    this.options.gate.putMail(async () => {
      this.releaseAlignment(checkpointId);
      await this.options.source?.notifyCheckpointAborted(checkpointId);
      for (const op of this.options.operators) await op.notifyCheckpointAborted(checkpointId);
    });
  }

  /**
   * Forgets an aborted checkpoint's alignment and unblocks the channels its barrier held back
   * (channels still held by another aligning checkpoint stay blocked); its late barriers are ignored.
   */
  private releaseAlignment(checkpointId: number): void {
    if (checkpointId <= this.lastCheckpointTaken) return;
    this.abortedCheckpoints.add(checkpointId);
    if (!this.aligning.delete(checkpointId)) return;
    const gate = this.options.gate;
    gate.unblockAll();
    if (this.options.checkpointing?.mode === 'exactly-once') for (const { seen } of this.aligning.values()) for (const c of seen) gate.block(c);
  }

  /** After end of input: take part in the final checkpoint and wait for its completion, so sinks commit. */
  private async awaitFinalCheckpoint(): Promise<void> {
    if (this.options.source !== undefined) this.options.checkpointing!.sourceFinished();
    const gate = this.options.gate;
    while (!this.finalCheckpointDone) {
      await this.runMails();
      if (this.finalCheckpointDone) break;
      // Non-source tasks may still receive the final barrier on channels that have not ended.
      const element = gate.poll();
      if (element?.kind === 'barrier') {
        await this.onBarrier(element, gate.lastChannel);
        continue;
      }
      if (element !== undefined) continue;
      this.flushWriters();
      await gate.whenAvailable();
      this.checkCancelled();
    }
  }

  /** A barrier arrived on `channel`: align (exactly-once) or count (at-least-once), then snapshot. */
  private async onBarrier(barrier: CheckpointBarrier, channel: number): Promise<void> {
    const id = barrier.checkpointId;
    if (id <= this.lastCheckpointTaken || this.abortedCheckpoints.has(id)) return; // a late barrier of a checkpoint taken or aborted
    let alignment = this.aligning.get(id);
    if (alignment === undefined) this.aligning.set(id, (alignment = { barrier, seen: new Set() }));
    alignment.seen.add(channel);
    if (this.options.checkpointing?.mode === 'exactly-once') this.options.gate.block(channel);
    await this.completeAlignments();
  }

  /** Snapshots every checkpoint whose barrier arrived on all channels that have not ended. */
  private async completeAlignments(): Promise<void> {
    const gate = this.options.gate;
    for (const [id, { barrier, seen }] of [...this.aligning]) {
      let expected = 0;
      for (let c = 0; c < gate.channels.length; c++) if (!gate.isEnded(c) || seen.has(c)) expected++;
      if (seen.size < expected) continue;
      this.aligning.delete(id);
      gate.unblockAll();
      await this.performCheckpoint(barrier);
    }
  }

  /**
   * Takes this subtask's part of a checkpoint: the synchronous part (operator state, the source
   * reader's splits, a copy-on-access view of keyed state) runs now, the barrier moves on, and the
   * keyed state is encoded and written while records keep flowing.
   */
  private async performCheckpoint(barrier: CheckpointBarrier): Promise<void> {
    const checkpointing = this.options.checkpointing;
    if (checkpointing === undefined || barrier.checkpointId <= this.lastCheckpointTaken || this.abortedCheckpoints.has(barrier.checkpointId)) return;
    this.lastCheckpointTaken = barrier.checkpointId;
    for (const aborted of this.abortedCheckpoints) if (aborted < barrier.checkpointId) this.abortedCheckpoints.delete(aborted);
    const id = barrier.checkpointId;
    const started = performance.now();
    let file: TaskSnapshotFile;
    let runner: import('../state/keyed-snapshot.js').KeyedSnapshotRunner | undefined;
    try {
      const operators: Record<string, unknown> = {};
      for (const op of this.options.operators) {
        const state = await op.snapshotState(id, barrier.timestamp);
        if (state !== undefined) operators[op.uid] = state;
      }
      const operatorWatermarks: Record<string, number> = {};
      for (const op of this.options.operators) operatorWatermarks[op.uid] = op.snapshotWatermark();
      file = { operators, watermark: this.watermark, operatorWatermarks };
      // Copied now: a reader may return live splits that move on before the file is written.
      if (this.options.source !== undefined) file.source = { splits: packr.unpack(packr.pack(this.options.source.snapshotState(id))) };
      runner = this.options.keyedBackend?.snapshot(barrier.savepoint === true ? { checkpointId: id, canonical: true } : { checkpointId: id, shared: checkpointing.shared });
    } catch (error) {
      checkpointing.decline(id, error);
      throw error; // a failing synchronous part fails the task, as in Flink
    }
    for (const w of this.options.writers) w.broadcastElement(barrier);
    const syncMs = performance.now() - started;
    const keyedRunner = runner;
    this.snapshotProgress.set(id, () => keyedRunner?.progress?.() ?? 0);
    for (const old of this.snapshotProgress.keys()) if (old < id - 16) this.snapshotProgress.delete(old);
    const write = (async () => {
      const asyncStarted = performance.now();
      try {
        const keyed = runner === undefined ? undefined : await runner.write();
        const chunks = encodeTaskSnapshot(file, keyed === undefined ? undefined : { meta: keyed.meta, data: keyed.data });
        const stored = await checkpointing.write(id, `${checkpointing.taskKey.replace(/[^A-Za-z0-9_.-]/g, '_')}.state`, chunks);
        const files = [stored, ...(keyed?.sharedFiles ?? [])];
        this.snapshotProgress.set(id, () => 1);
        // The task's thread worked on this checkpoint for its sync phase and for the encoding its keyed backend did after.
        const cpuMs = syncMs + (keyed?.cpuMs ?? 0);
        checkpointing.acknowledge(id, { state: { file: stored }, files, syncMs, asyncMs: performance.now() - asyncStarted, cpuMs });
      } catch (error) {
        runner?.release();
        checkpointing.decline(id, error);
      }
    })();
    this.pendingWrites.add(write);
    void write.finally(() => this.pendingWrites.delete(write));
  }

  /**
   * Best-effort close after a failure; errors here must not hide the original one. First waits
   * for this attempt's snapshot writers: they read keyed state (a disk backend's open view) and
   * write into its checkpoints, so they must end before the backend is disposed and before a
   * restart begins (a write that is no longer wanted fails and is declined).
   */
  async abort(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites]);
    try {
      await this.closeOperators();
    } catch {
      // the job already failed with the error that matters
    }
  }

  private async closeOperators(): Promise<void> {
    const { operators } = this.options;
    try {
      while (this.opened > 0) {
        const op = operators[operators.length - this.opened];
        this.opened--;
        await op.close();
      }
    } finally {
      await this.options.source?.close();
    }
  }

  /**
   * The loop of a source subtask: poll the reader batch by batch; when it has nothing, wait for
   * its availability or for mail (checkpoint barriers, timers, new splits, notifications), so a
   * waiting reader never holds up a checkpoint. Ends when the reader reports end of input.
   */
  private async runSource(source: SourceOperator): Promise<void> {
    const input = this.options.headInput;
    const gate = this.options.gate;
    const output: SourceOutput<unknown> = {
      collect: (value, timestamp) => {
        this.recordsIn++;
        input.collect(value, timestamp ?? Number.NaN);
      },
    };
    await source.open();
    for (;;) {
      await this.runMails();
      await this.awaitWritable();
      const status = source.pollNext(output, this.options.batchSize);
      await this.afterBatch();
      if (status === 'more-available') continue;
      if (status === 'end-of-input') break;
      if (gate.hasMail) continue;
      this.flushWriters();
      await source.waitForInput(gate);
      this.checkCancelled();
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
        if (this.options.channelInputs[gate.lastChannel] === 1) this.processSecondInput(element);
        else this.processBatch(element);
        await this.afterBatch();
        await this.awaitWritable();
      } else if (element.kind === 'watermark') {
        const advanced = gate.updateWatermark(gate.lastChannel, element.timestamp, this.watermark);
        if (advanced !== undefined) this.advanceWatermark(advanced);
      } else if (element.kind === 'barrier') {
        await this.onBarrier(element, gate.lastChannel);
      } else {
        const advanced = gate.endChannel(gate.lastChannel, this.watermark);
        if (advanced !== undefined) this.advanceWatermark(advanced);
        if (this.aligning.size > 0) await this.completeAlignments();
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
      let i = 0;
      let settingKey = false;
      try {
        for (; i < n; i++) {
          settingKey = true;
          backend.setCurrentKey(keys[i]);
          settingKey = false;
          head.processElement(values[i], timestamps === undefined ? Number.NaN : timestamps[i]);
          backend.onRecordProcessed();
        }
      } catch (error) {
        // At parallelism 1 the partitioner does not check keys: the backend does, without the
        // record. Only its key check is named so; a map key refused inside the function is not.
        if (settingKey && error instanceof FloeError && error.code === 'INVALID_KEY')
          throw new FloeError('INVALID_KEY', `${error.message} (the key selector returned it for record ${describeValue(values[i], 120)})`, {
            context: error.context,
            cause: error.cause,
          });
        throw error;
      }
    } else if (timestamps === undefined) {
      for (let i = 0; i < n; i++) head.processElement(values[i], Number.NaN);
    } else {
      for (let i = 0; i < n; i++) head.processElement(values[i], timestamps[i]);
    }
  }

  /** Records of a two-input operator's second (broadcast) input: no key is set. */
  private processSecondInput(batch: RecordBatch): void {
    const head = this.options.operators[0];
    const { values, timestamps } = batch;
    this.recordsIn += values.length;
    for (let i = 0; i < values.length; i++) head.processElement2!(values[i], timestamps === undefined ? Number.NaN : timestamps[i]);
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
    if (performance.now() - eventLoopTurn.startedAt >= YIELD_AFTER_MS) {
      this.flushWriters();
      await new Promise<void>((resolve) => setImmediate(resolve));
      eventLoopTurn.startedAt = performance.now();
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
    this.checkCancelled();
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
