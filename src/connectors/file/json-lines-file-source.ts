// Reads JSON lines, one record per line, from a file or from every file of a directory (one split
// per file), optionally watching the directory for new files (does I/O). Blank lines are skipped;
// a malformed line fails the job naming the file and line, or is skipped and logged when asked.
import { open, type FileHandle } from 'node:fs/promises';
import { FloeError } from '../../core/errors.js';
import type { InputStatus, Source, SourceOutput, SourceReader, SourceReaderContext, SplitEnumeratorContext } from '../../runtime/source.js';
import { FileSplitEnumerator, type FileEnumeratorState, type FileSplit } from './file-split-enumerator.js';

export interface JsonLinesFileSourceOptions {
  /** What to do with a line that is not valid JSON; default 'fail'. */
  onMalformed?: 'fail' | 'skip';
  /**
   * Continuous file monitoring (Flink's `monitorContinuously`): list the directory every
   * `intervalMs` and read each new file once; the source never ends. Files must be complete when
   * they appear (write them under a name starting with '.' or '_', or elsewhere, then rename).
   * Which files were read is kept in checkpoints, so a restored job does not read them again.
   */
  watch?: { intervalMs: number };
}

/** Bytes read from a file at a time. */
const CHUNK_BYTES = 1 << 20;

/**
 * JSON lines from `path`: a file (one split), or a directory whose files (sorted by name, hidden
 * ones left out) are one split each, handed to readers as they ask. A split's position is a byte
 * offset, so a restore, also at another parallelism, resumes each file at the first line not read.
 */
export class JsonLinesFileSource<T = unknown> implements Source<T, FileSplit, FileEnumeratorState> {
  readonly name: string;
  readonly bounded: boolean;

  constructor(
    readonly path: string,
    private readonly options: JsonLinesFileSourceOptions = {},
  ) {
    this.name = `JSON Lines Source (${path})`;
    const interval = options.watch?.intervalMs;
    if (interval !== undefined && !(interval > 0)) throw new FloeError('INVALID_ARGUMENT', `JSON lines source (${path}): watch.intervalMs must be > 0, got ${interval}`);
    this.bounded = options.watch === undefined;
  }

  createEnumerator(ctx: SplitEnumeratorContext<FileSplit>, restored?: FileEnumeratorState): FileSplitEnumerator {
    return new FileSplitEnumerator(ctx, { path: this.path, watch: this.options.watch, describe: `JSON lines source '${ctx.uid}'` }, restored);
  }

  createReader(ctx: SourceReaderContext): SourceReader<T, FileSplit> {
    return new JsonLinesReader<T>(this.options.onMalformed ?? 'fail', ctx);
  }

  /** Floe 0.1 stored `{ path, line }` (lines read) of its one file. */
  restoreLegacyPositions(positions: readonly unknown[]): { readers: FileSplit[][]; enumerator: FileEnumeratorState } {
    const old = positions[0] as { path: string; line: number } | undefined;
    if (old === undefined) return { readers: [[]], enumerator: { pending: [], seen: [] } };
    return { readers: [[{ id: old.path, path: old.path, offset: 0, line: 0, skipLines: old.line }]], enumerator: { pending: [], seen: [old.path] } };
  }
}

const WAITING_FOR_SPLITS = new Promise<void>(() => {});
const AVAILABLE = Promise.resolve();
const EMPTY = Buffer.alloc(0);

/** The file being read: its handle and the bytes read from `split.offset` on. */
interface OpenFile {
  split: FileSplit;
  handle: FileHandle | undefined;
  buffer: Buffer;
  /** Index in `buffer` of the byte at `split.offset`. */
  at: number;
  eof: boolean;
}

/**
 * Reads its files one after the other, asking the enumerator for the next one when it has none.
 * Reads are asynchronous, one chunk at a time: while one is in flight pollNext says
 * 'nothing-available' and `isAvailable()` is the read. Lines are cut at '\n' bytes and decoded one
 * by one, so a character split between two chunks stays whole.
 */
class JsonLinesReader<T> implements SourceReader<T, FileSplit> {
  private readonly queue: FileSplit[] = [];
  private current: OpenFile | undefined;
  private noMoreSplits = false;
  private requested = false;
  private fetching: Promise<void> | undefined;
  private failure: { error: unknown } | undefined;
  skipped = 0;

  constructor(
    private readonly onMalformed: 'fail' | 'skip',
    private readonly ctx: SourceReaderContext,
  ) {}

  addSplits(splits: FileSplit[]): void {
    this.queue.push(...splits);
    this.requested = false;
  }

  notifyNoMoreSplits(): void {
    this.noMoreSplits = true;
  }

  start(): void {
    if (this.queue.length === 0) this.request();
  }

  isAvailable(): Promise<void> {
    // A read that completed before this call left its bytes buffered: available now.
    return this.fetching ?? (this.current === undefined && this.queue.length === 0 ? WAITING_FOR_SPLITS : AVAILABLE);
  }

  snapshotState(): FileSplit[] {
    return this.current === undefined ? [...this.queue] : [this.current.split, ...this.queue];
  }

  pollNext(output: SourceOutput<T>, max: number): InputStatus {
    if (this.failure !== undefined) throw this.failure.error;
    let emitted = 0;
    while (emitted < max) {
      let file = this.current;
      if (file === undefined) {
        const split = this.queue.shift();
        if (split === undefined) {
          if (this.noMoreSplits) return 'end-of-input';
          this.request();
          return 'nothing-available';
        }
        this.current = file = { split, handle: undefined, buffer: EMPTY, at: 0, eof: false };
      }
      if (this.fetching !== undefined) return 'nothing-available';
      const newline = file.buffer.indexOf(10, file.at);
      if (newline < 0 && !file.eof) {
        this.fetching = this.fetch(file);
        return 'nothing-available';
      }
      const end = newline < 0 ? file.buffer.length : newline + 1;
      if (end > file.at && this.consumeLine(file, end, output)) emitted++;
      if (newline < 0) this.finish(file);
    }
    return 'more-available';
  }

  /** Takes the line ending before `end` off the buffer, moves the split's position past it, emits it; true when a record was emitted. */
  private consumeLine(file: OpenFile, end: number, output: SourceOutput<T>): boolean {
    const { split, buffer } = file;
    let stop = end;
    if (stop > file.at && buffer[stop - 1] === 10) stop--;
    if (stop > file.at && buffer[stop - 1] === 13) stop--;
    const text = buffer.toString('utf8', file.at, stop);
    split.offset += end - file.at;
    file.at = end;
    split.line++;
    if (split.skipLines !== undefined && split.skipLines > 0) {
      split.skipLines--;
      return false;
    }
    if (text.trim().length === 0) return false;
    let value: T;
    try {
      value = JSON.parse(text) as T;
    } catch (cause) {
      const where = `${split.path}:${split.line}`;
      if (this.onMalformed === 'skip') {
        this.skipped++;
        this.ctx.log(`skipped malformed JSON at ${where}: ${(cause as Error).message}`);
        return false;
      }
      throw new FloeError(
        'MALFORMED_RECORD',
        `JSON lines source '${this.ctx.uid}': line ${where} is not valid JSON (${(cause as Error).message}). Fix the line, or read with { onMalformed: 'skip' } to skip and log such lines.`,
        { context: { operator: this.ctx.uid, subtask: this.ctx.subtaskIndex }, cause },
      );
    }
    output.collect(value);
    return true;
  }

  /** Opens the file if needed and reads the next chunk after what is buffered. Never rejects: a failure is thrown by the next poll. */
  private async fetch(file: OpenFile): Promise<void> {
    try {
      file.handle ??= await this.open(file.split.path);
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const rest = file.buffer.length - file.at;
      const { bytesRead } = await file.handle.read(chunk, 0, CHUNK_BYTES, file.split.offset + rest);
      if (bytesRead === 0) file.eof = true;
      else file.buffer = Buffer.concat([file.buffer.subarray(file.at), chunk.subarray(0, bytesRead)]);
      if (bytesRead > 0) file.at = 0;
    } catch (error) {
      this.failure = { error: error instanceof FloeError ? error : new FloeError('IO_ERROR', `JSON lines source '${this.ctx.uid}': cannot read ${file.split.path}: ${(error as Error).message}`, { cause: error }) };
    } finally {
      this.fetching = undefined;
    }
  }

  private async open(path: string): Promise<FileHandle> {
    try {
      return await open(path, 'r');
    } catch (cause) {
      throw new FloeError('IO_ERROR', `JSON lines source '${this.ctx.uid}': cannot open ${path}: ${(cause as Error).message}`, { context: { operator: this.ctx.uid }, cause });
    }
  }

  private finish(file: OpenFile): void {
    this.current = undefined;
    void file.handle?.close().catch(() => {});
    if (this.queue.length === 0 && !this.noMoreSplits) this.request();
  }

  private request(): void {
    if (this.requested) return;
    this.requested = true;
    this.ctx.sendSplitRequest();
  }

  async close(): Promise<void> {
    const handle = this.current?.handle;
    this.current = undefined;
    // A read in flight still uses the handle: close it once the read settled.
    await this.fetching;
    await handle?.close().catch(() => {});
  }
}
