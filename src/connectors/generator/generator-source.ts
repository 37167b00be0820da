// Generates records from their index, bounded or unbounded, optionally at a fixed rate. Split-based:
// split k of n yields the indices k, k+n, k+2n, ... (a stride), so the union of all splits is the
// same sequence at any parallelism, also after a rescale. Deterministic, no I/O.
import { FloeError } from '../../core/errors.js';
import type { InputStatus, Source, SourceOutput, SourceReader, SourceReaderContext, SourceSplit, SplitEnumeratorContext } from '../../runtime/source.js';
import { StaticSplitEnumerator, type StaticSplitEnumeratorState } from '../static-splits/static-split-enumerator.js';

export interface GeneratorSourceOptions {
  /** Number of records in total; omit (or Infinity) for an unbounded source. */
  count?: number;
  /** Total records per second over all readers; omit for as fast as possible. */
  eventsPerSecond?: number;
  /**
   * Number of splits (strides) the sequence is cut into; default the source's parallelism when
   * the job first starts. A restore at a higher parallelism than this leaves readers idle, so give
   * the highest parallelism you mean to rescale to. Fixed once the job has checkpointed.
   */
  splits?: number;
}

/** Makes record `index` (0-based). Must be deterministic for replays to be exact. */
export type GeneratorFunction<T> = (index: number) => T;

/** One stride of the sequence: the indices next, next + step, next + 2 step, ... below count (`id` "k/n"). */
export interface GeneratorSplit extends SourceSplit {
  next: number;
  step: number;
}

export class GeneratorSource<T> implements Source<T, GeneratorSplit, StaticSplitEnumeratorState<GeneratorSplit>> {
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
    const splits = options.splits;
    if (splits !== undefined && !(Number.isInteger(splits) && splits >= 1)) throw new FloeError('INVALID_ARGUMENT', `Generator source: splits must be an integer >= 1, got ${splits}`);
    this.bounded = Number.isFinite(this.count);
  }

  /** Every reader gets its strides when it registers (k mod parallelism), then no more. */
  createEnumerator(ctx: SplitEnumeratorContext<GeneratorSplit>, restored?: StaticSplitEnumeratorState<GeneratorSplit>): StaticSplitEnumerator<GeneratorSplit> {
    return new StaticSplitEnumerator(ctx, restored ?? { pending: strides(this.options.splits ?? ctx.parallelism) });
  }

  createReader(ctx: SourceReaderContext): SourceReader<T, GeneratorSplit> {
    return new GeneratorReader(this.generate, this.count, this.options.eventsPerSecond, ctx);
  }

  /** Floe 0.1 stored `{ splits: [{ next, step }] }` (or one `{ next, step }`) per reader: the same strides. */
  restoreLegacyPositions(positions: readonly unknown[]): { readers: GeneratorSplit[][]; enumerator: StaticSplitEnumeratorState<GeneratorSplit> } {
    const toSplit = ({ next, step }: { next: number; step: number }): GeneratorSplit => ({ id: `${next % step}/${step}`, next, step });
    const readers = Array.from(positions, (position) => {
      if (position === undefined || position === null) return [];
      const old = position as { splits?: Array<{ next: number; step: number }>; next: number; step: number };
      return (old.splits ?? [old]).map(toSplit);
    });
    return { readers, enumerator: { pending: [] } };
  }
}

/** The n strides of the index sequence (all of them, even beyond `count`: a restore with a larger count reads on). */
export function strides(n: number): GeneratorSplit[] {
  return Array.from({ length: n }, (_, k) => ({ id: `${k}/${n}`, next: k, step: n }));
}

const WAITING_FOR_SPLITS = new Promise<void>(() => {});
const AVAILABLE = Promise.resolve();

/**
 * Reads its strides in step: always from the one furthest behind, a chunk at a time, so a reader
 * with several strides (after a rescale) emits the sequence nearly in order.
 * With a rate, a reader emits its part of the total (its strides over all strides) and, when it is
 * ahead, says 'nothing-available' with a timer as its availability: the subtask keeps handling
 * checkpoints and timers meanwhile.
 */
class GeneratorReader<T> implements SourceReader<T, GeneratorSplit> {
  private splits: GeneratorSplit[] = [];
  private noMoreSplits = false;
  private ratePerReader: number | undefined;
  private rateStartedAt = 0;
  private rateEmitted = 0;
  private wait: { promise: Promise<void>; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly generate: GeneratorFunction<T>,
    private readonly count: number,
    private readonly eventsPerSecond: number | undefined,
    private readonly ctx: SourceReaderContext,
  ) {}

  addSplits(splits: GeneratorSplit[]): void {
    this.splits.push(...splits);
    // The total rate is shared by all strides: a reader gets its strides' part, counted from now.
    const total = this.splits[0]?.step ?? 1;
    this.ratePerReader = this.eventsPerSecond === undefined ? undefined : (this.eventsPerSecond * this.splits.length) / total;
    this.rateStartedAt = this.ctx.clock.now();
    this.rateEmitted = 0;
  }

  notifyNoMoreSplits(): void {
    this.noMoreSplits = true;
  }

  /** Every stride, also those that reached `count`: a job restored with a larger count reads on from there. */
  snapshotState(): GeneratorSplit[] {
    return this.splits;
  }

  isAvailable(): Promise<void> {
    // A rate wait that ended before this call: available now.
    return this.wait?.promise ?? (this.hasMore() ? AVAILABLE : WAITING_FOR_SPLITS);
  }

  pollNext(output: SourceOutput<T>, max: number): InputStatus {
    if (!this.hasMore()) return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
    let budget = max;
    if (this.ratePerReader !== undefined) {
      const elapsed = this.ctx.clock.now() - this.rateStartedAt;
      const due = Math.floor((elapsed / 1000) * this.ratePerReader) - this.rateEmitted;
      if (due <= 0) {
        this.waitUntilDue(Math.ceil(((this.rateEmitted + 1) / this.ratePerReader) * 1000 - elapsed));
        return 'nothing-available';
      }
      budget = Math.min(budget, due);
    }
    const generate = this.generate;
    const end = this.count;
    const splits = this.splits;
    let active = 0;
    for (const split of splits) if (split.next < end) active++;
    // The strides are one sequence: emitting from the one furthest behind, a chunk at a time,
    // keeps them in step (their records at most about `max` indices apart), whatever their number.
    const chunk = Math.max(1, Math.ceil(budget / active));
    let emitted = 0;
    while (emitted < budget) {
      let behind: GeneratorSplit | undefined;
      for (const split of splits) if (split.next < end && (behind === undefined || split.next < behind.next)) behind = split;
      if (behind === undefined) break;
      let index = behind.next;
      for (let i = Math.min(chunk, budget - emitted); i > 0 && index < end; i--) {
        output.collect(generate(index));
        index += behind.step;
        emitted++;
      }
      behind.next = index;
    }
    this.rateEmitted += emitted;
    if (this.hasMore()) return 'more-available';
    return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
  }

  private hasMore(): boolean {
    for (const split of this.splits) if (split.next < this.count) return true;
    return false;
  }

  /** Availability after `ms` (at most 100 ms, so a changed clock is noticed); one timer at a time. */
  private waitUntilDue(ms: number): void {
    if (this.wait !== undefined) return;
    let timer!: NodeJS.Timeout;
    const promise = new Promise<void>((resolve) => {
      timer = setTimeout(
        () => {
          this.wait = undefined;
          resolve();
        },
        Math.max(1, Math.min(ms, 100)),
      );
    });
    this.wait = { promise, timer };
  }

  close(): void {
    if (this.wait !== undefined) clearTimeout(this.wait.timer);
    this.wait = undefined;
  }
}
