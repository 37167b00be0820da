// Writes records as JSON lines to a file (does I/O). At parallelism > 1 each subtask writes its
// own part file: `out.jsonl` becomes `out-0.jsonl`, `out-1.jsonl`, ... With checkpoints it is
// at-least-once: each checkpoint flushes and fsyncs, a restored run appends (records after the
// checkpoint may appear twice). TransactionalJsonLinesSink is the exactly-once variant.
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { FloeError } from '../../core/errors.js';
import { ensureUsableDirectory } from '../../state/usable-directory.js';
import type { CheckpointedFunction, FunctionInitializationContext, RuntimeContext, SinkFunction } from '../../runtime/functions.js';

/** Bytes buffered before a write is issued. */
const FLUSH_BYTES = 1 << 16;

export class JsonLinesFileSink<T = unknown> implements SinkFunction<T>, CheckpointedFunction {
  private handle: FileHandle | undefined;
  private append = false;
  private buffer: string[] = [];
  private bufferedChars = 0;
  private file = '';

  constructor(readonly path: string) {}

  /** A restored run appends to what the failed run wrote instead of truncating it. */
  initializeState(ctx: FunctionInitializationContext): void {
    this.append = ctx.isRestored();
  }

  /** Everything before the checkpoint is on disk when the checkpoint completes. */
  async snapshotState(): Promise<void> {
    await this.write();
    await this.handle?.sync();
  }

  async open(ctx: RuntimeContext): Promise<void> {
    const parallel = ctx.getNumberOfParallelSubtasks() > 1;
    const ext = extname(this.path);
    this.file = parallel ? `${this.path.slice(0, this.path.length - ext.length)}-${ctx.getIndexOfThisSubtask()}${ext}` : this.path;
    // Fails at once (DIRECTORY_UNUSABLE) where a recursive mkdir would spin (under /proc).
    ensureUsableDirectory(dirname(this.file), { what: 'output directory of the JSON lines sink', option: 'writeAsJsonLines(path) / new JsonLinesFileSink(path)' });
    try {
      this.handle = await open(this.file, this.append ? 'a' : 'w');
    } catch (cause) {
      throw new FloeError('IO_ERROR', `JSON lines sink '${ctx.getOperatorUid()}': cannot open ${this.file} for writing: ${(cause as Error).message}`, { cause });
    }
  }

  invoke(value: T): void {
    const line = `${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
    this.buffer.push(line);
    this.bufferedChars += line.length;
  }

  async flush(endOfInput: boolean): Promise<void> {
    if (this.bufferedChars < FLUSH_BYTES && !endOfInput) return;
    await this.write();
    if (endOfInput) await this.handle?.sync();
  }

  async close(): Promise<void> {
    await this.write();
    await this.handle?.close();
    this.handle = undefined;
  }

  private async write(): Promise<void> {
    if (this.buffer.length === 0 || this.handle === undefined) return;
    const text = this.buffer.join('');
    this.buffer = [];
    this.bufferedChars = 0;
    await this.handle.write(text);
  }
}
