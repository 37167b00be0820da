// Generates records from their index, bounded or unbounded, optionally at a fixed rate.
// Parallel: subtask i of p produces the indices i, i+p, i+2p, ... so the union of all subtasks
// is the same sequence at any parallelism. No I/O.
import { FloeError } from '../../core/errors.js';
import type { Source, SourceOutput, SourceReader, SourceReaderContext } from '../../runtime/source.js';

export interface GeneratorSourceOptions {
  /** Number of records in total; omit (or Infinity) for an unbounded source. */
  count?: number;
  /** Total records per second over all subtasks; omit for as fast as possible. */
  eventsPerSecond?: number;
}

/** Makes record `index` (0-based). Must be deterministic for replays to be exact. */
export type GeneratorFunction<T> = (index: number) => T;

export class GeneratorSource<T> implements Source<T> {
  readonly name = 'Generator Source';
  readonly bounded: boolean;
  private readonly count: number;

  constructor(
    private readonly generate: GeneratorFunction<T>,
    private readonly options: GeneratorSourceOptions = {},
  ) {
    this.count = options.count ?? Number.POSITIVE_INFINITY;
    if (!(this.count >= 0)) throw new FloeError('INVALID_ARGUMENT', `Generator source: count must be >= 0, got ${options.count}`);
    const rate = options.eventsPerSecond;
    if (rate !== undefined && !(rate > 0)) throw new FloeError('INVALID_ARGUMENT', `Generator source: eventsPerSecond must be > 0, got ${rate}`);
    this.bounded = Number.isFinite(this.count);
  }

  createReader(ctx: SourceReaderContext): SourceReader<T> {
    return new GeneratorReader(this.generate, this.count, this.options.eventsPerSecond, ctx);
  }
}

class GeneratorReader<T> implements SourceReader<T> {
  private next: number;
  private readonly step: number;
  private readonly ratePerSubtask: number | undefined;
  private startedAt = 0;
  private emitted = 0;

  constructor(
    private readonly generate: GeneratorFunction<T>,
    private readonly count: number,
    eventsPerSecond: number | undefined,
    private readonly ctx: SourceReaderContext,
  ) {
    this.next = ctx.subtaskIndex;
    this.step = ctx.parallelism;
    this.ratePerSubtask = eventsPerSecond === undefined ? undefined : eventsPerSecond / ctx.parallelism;
  }

  open(): void {
    this.startedAt = this.ctx.clock.now();
    this.emitted = 0; // the rate counts from (re)start
  }

  snapshotPosition(): unknown {
    return { next: this.next, step: this.step };
  }

  restorePosition(position: unknown): void {
    const p = position as { next: number; step: number };
    if (p.step !== this.step) throw new Error(`generator position was taken at parallelism ${p.step}, now ${this.step}; rescaling sources comes with the rescale issue`);
    this.next = p.next;
  }

  pollNext(output: SourceOutput<T>, max: number): boolean | Promise<boolean> {
    let budget = max;
    if (this.ratePerSubtask !== undefined) {
      const due = Math.floor(((this.ctx.clock.now() - this.startedAt) / 1000) * this.ratePerSubtask) - this.emitted;
      if (due <= 0) {
        const waitMs = Math.max(1, Math.ceil(((this.emitted + 1) / this.ratePerSubtask) * 1000 - (this.ctx.clock.now() - this.startedAt)));
        return new Promise((resolve) => setTimeout(() => resolve(this.next < this.count), Math.min(waitMs, 100)));
      }
      budget = Math.min(budget, due);
    }
    const generate = this.generate;
    let index = this.next;
    const end = this.count;
    for (let i = 0; i < budget && index < end; i++) {
      output.collect(generate(index));
      index += this.step;
    }
    this.emitted += (index - this.next) / this.step;
    this.next = index;
    return index < end;
  }
}
