// The seed's CounterSource as a split source: one split whose position is the next number. The
// position is taken by `snapshotState` in the same synchronous step as the rest of the checkpoint
// (the seed's checkpoint lock is not needed: one thread). See "Writing a source" in the user guide.
import {
  type InputStatus,
  type Source,
  type SourceOutput,
  type SourceReader,
  type SplitEnumeratorContext,
  StaticSplitEnumerator,
  type StaticSplitEnumeratorState,
} from 'floe';

/** The counter's one split: the next number to emit. */
interface CounterSplit {
  id: string;
  offset: number;
}

export class CounterSource implements Source<number, CounterSplit, StaticSplitEnumeratorState<CounterSplit>> {
  readonly name = 'Counter Source';
  readonly bounded: boolean;
  readonly maxParallelism = 1;

  constructor(private readonly limit = Number.POSITIVE_INFINITY) {
    this.bounded = Number.isFinite(limit);
  }

  createEnumerator(ctx: SplitEnumeratorContext<CounterSplit>, restored?: StaticSplitEnumeratorState<CounterSplit>): StaticSplitEnumerator<CounterSplit> {
    return new StaticSplitEnumerator(ctx, restored ?? { pending: [{ id: 'counter', offset: 0 }] });
  }

  createReader(): SourceReader<number, CounterSplit> {
    return new CounterReader(this.limit);
  }
}

const NEVER = new Promise<void>(() => {});

class CounterReader implements SourceReader<number, CounterSplit> {
  private split: CounterSplit | undefined;
  private noMoreSplits = false;

  constructor(private readonly limit: number) {}

  addSplits(splits: CounterSplit[]): void {
    this.split = splits[0];
  }

  notifyNoMoreSplits(): void {
    this.noMoreSplits = true;
  }

  pollNext(output: SourceOutput<number>, max: number): InputStatus {
    const split = this.split;
    if (split === undefined) return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
    for (let i = 0; i < max && split.offset < this.limit; i++) output.collect(split.offset++);
    if (split.offset < this.limit) return 'more-available';
    this.split = undefined;
    return this.noMoreSplits ? 'end-of-input' : 'nothing-available';
  }

  /** Never waits for I/O: 'nothing-available' only while the split has not arrived (the task polls again on its mail). */
  isAvailable(): Promise<void> {
    return NEVER;
  }

  snapshotState(): CounterSplit[] {
    return this.split === undefined ? [] : [this.split];
  }
}
