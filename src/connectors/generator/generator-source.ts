// Generates records from their index, bounded or unbounded, optionally at a fixed rate.
// Parallel: subtask i of p produces the indices i, i+p, i+2p, ... (one split each), so the union of
// all subtasks is the same sequence at any parallelism, also after a rescale. No I/O.
import { FloeError } from '../../core/errors.js';
import { isSplitPosition, type Source, type SourceOutput, type SourceReader, type SourceReaderContext, type SplitPosition } from '../../runtime/source.js';

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

/** One split of the sequence: the indices next, next + step, next + 2 step, ... below count. */
interface GeneratorSplit {
  next: number;
  step: number;
}

/**
 * Reads its splits round-robin. At the first start subtask i of p owns the one split {i, p}; its
 * position is its list of splits, so a restore at another parallelism deals the splits out again
 * (each to one reader) and the union of all readers stays the same sequence, with no index read
 * twice. More readers than splits leave some idle.
 */
class GeneratorReader<T> implements SourceReader<T> {
  private splits: GeneratorSplit[];
  /** The split pollNext starts with next time (round-robin over the splits). */
  private turn = 0;
  private ratePerReader: number | undefined;
  private startedAt = 0;
  private emitted = 0;

  constructor(
    private readonly generate: GeneratorFunction<T>,
    private readonly count: number,
    private readonly eventsPerSecond: number | undefined,
    private readonly ctx: SourceReaderContext,
  ) {
    this.splits = [{ next: ctx.subtaskIndex, step: ctx.parallelism }];
  }

  open(): void {
    // The total rate is shared by the splits: a reader gets its splits' part.
    const total = this.splits[0]?.step ?? 1;
    this.ratePerReader = this.eventsPerSecond === undefined ? undefined : (this.eventsPerSecond * this.splits.length) / total;
    this.startedAt = this.ctx.clock.now();
    this.emitted = 0; // the rate counts from (re)start
  }

  snapshotPosition(): SplitPosition<GeneratorSplit> {
    return { splits: this.splits.map((split) => ({ ...split })) };
  }

  restorePosition(position: unknown): void {
    if (isSplitPosition(position)) this.splits = (position.splits as GeneratorSplit[]).map((split) => ({ ...split }));
    else {
      // Checkpoints before splits: one {next, step} per reader, restorable at the same parallelism.
      const p = position as GeneratorSplit;
      if (p.step !== this.ctx.parallelism)
        throw new FloeError('STATE_NOT_RESCALABLE', `Generator source '${this.ctx.uid}': this checkpoint was taken at parallelism ${p.step} by an older Floe; restore it at parallelism ${p.step}`);
      this.splits = [{ next: p.next, step: p.step }];
    }
  }

  private hasMore(): boolean {
    for (const split of this.splits) if (split.next < this.count) return true;
    return false;
  }

  pollNext(output: SourceOutput<T>, max: number): boolean | Promise<boolean> {
    if (!this.hasMore()) return false; // also a reader left without splits by a rescale
    let budget = max;
    if (this.ratePerReader !== undefined) {
      const due = Math.floor(((this.ctx.clock.now() - this.startedAt) / 1000) * this.ratePerReader) - this.emitted;
      if (due <= 0) {
        const waitMs = Math.max(1, Math.ceil(((this.emitted + 1) / this.ratePerReader) * 1000 - (this.ctx.clock.now() - this.startedAt)));
        return new Promise((resolve) => setTimeout(() => resolve(this.hasMore()), Math.min(waitMs, 100)));
      }
      budget = Math.min(budget, due);
    }
    const generate = this.generate;
    const end = this.count;
    const splits = this.splits;
    let emitted = 0;
    // One split a turn, so every split advances (and ends) at about the same pace.
    for (let tries = 0; emitted < budget && tries < splits.length; ) {
      const split = splits[this.turn];
      this.turn = (this.turn + 1) % splits.length;
      if (split.next >= end) {
        tries++;
        continue;
      }
      tries = 0;
      const share = Math.max(1, Math.ceil((budget - emitted) / splits.length));
      let index = split.next;
      for (let i = 0; i < share && index < end; i++) {
        output.collect(generate(index));
        index += split.step;
        emitted++;
      }
      split.next = index;
    }
    this.emitted += emitted;
    return this.hasMore();
  }
}
