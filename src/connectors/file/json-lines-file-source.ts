// Reads a file of JSON lines, one record per line (does I/O). Blank lines are skipped; a
// malformed line fails the job naming the file and line, or is skipped and logged when asked.
import { createReadStream, type ReadStream } from 'node:fs';
import { FloeError } from '../../core/errors.js';
import type { Source, SourceOutput, SourceReader, SourceReaderContext } from '../../runtime/source.js';

export interface JsonLinesFileSourceOptions {
  /** What to do with a line that is not valid JSON; default 'fail'. */
  onMalformed?: 'fail' | 'skip';
}

export class JsonLinesFileSource<T = unknown> implements Source<T> {
  readonly name: string;
  readonly bounded = true;
  readonly maxParallelism = 1;

  constructor(
    readonly path: string,
    private readonly options: JsonLinesFileSourceOptions = {},
  ) {
    this.name = `JSON Lines Source (${path})`;
  }

  createReader(ctx: SourceReaderContext): SourceReader<T> {
    return new JsonLinesReader<T>(this.path, this.options.onMalformed ?? 'fail', ctx);
  }
}

class JsonLinesReader<T> implements SourceReader<T> {
  private stream: ReadStream | undefined;
  private iterator: AsyncIterator<Buffer> | undefined;
  private pending: string[] = [];
  private partial = '';
  private lineNumber = 0;
  private done = false;
  /** Lines to skip after a restore (the position is the number of lines consumed). */
  private skipLines = 0;
  skipped = 0;

  constructor(
    private readonly path: string,
    private readonly onMalformed: 'fail' | 'skip',
    private readonly ctx: SourceReaderContext,
  ) {}

  async open(): Promise<void> {
    const stream = createReadStream(this.path, { highWaterMark: 1 << 20 });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (cause) =>
        reject(new FloeError('IO_ERROR', `JSON lines source '${this.ctx.uid}': cannot open ${this.path}: ${(cause as Error).message}`, { cause })),
      );
    });
    this.stream = stream;
    this.iterator = stream[Symbol.asyncIterator]();
  }

  async pollNext(output: SourceOutput<T>, max: number): Promise<boolean> {
    let emitted = 0;
    while (emitted < max) {
      if (this.pending.length === 0) {
        if (this.done) return false;
        await this.readChunk();
        continue;
      }
      const line = this.pending.shift() as string;
      this.lineNumber++;
      if (this.lineNumber <= this.skipLines) continue;
      if (line.trim().length === 0) continue;
      let value: T;
      try {
        value = JSON.parse(line) as T;
      } catch (cause) {
        const where = `${this.path}:${this.lineNumber}`;
        if (this.onMalformed === 'skip') {
          this.skipped++;
          this.ctx.log(`skipped malformed JSON at ${where}: ${(cause as Error).message}`);
          continue;
        }
        throw new FloeError(
          'MALFORMED_RECORD',
          `JSON lines source '${this.ctx.uid}': line ${where} is not valid JSON (${(cause as Error).message}). Fix the line, or read with { onMalformed: 'skip' } to skip and log such lines.`,
          { context: { operator: this.ctx.uid }, cause },
        );
      }
      output.collect(value);
      emitted++;
    }
    return true;
  }

  private async readChunk(): Promise<void> {
    const next = await this.iterator!.next();
    if (next.done) {
      this.done = true;
      if (this.partial.length > 0) this.pending.push(this.partial);
      this.partial = '';
      return;
    }
    const text = this.partial + next.value.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() as string;
    for (const line of lines) this.pending.push(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  close(): void {
    this.stream?.destroy();
  }

  snapshotPosition(): unknown {
    return { path: this.path, line: this.lineNumber };
  }

  restorePosition(position: unknown): void {
    this.skipLines = (position as { line: number }).line;
  }
}
