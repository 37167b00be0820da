// An enumerator for a fixed set of splits known up front (a collection, index strides, a list of
// files): deals every reader its share when it registers, or hands splits out one at a time on
// request. Used by the generator and collection sources, and by simple sources of your own. No I/O.
import type { SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../../runtime/source.js';

/** The splits not yet assigned to a reader. */
export interface StaticSplitEnumeratorState<Split extends SourceSplit> {
  pending: Split[];
}

export interface StaticSplitEnumeratorOptions {
  /**
   * 'round-robin' (default): when the readers register, split k of the pending ones goes to reader
   * k mod parallelism, and every reader is told there are no more. 'on-request': a reader asks
   * (`sendSplitRequest`) whenever it has nothing to read and gets the next pending split, or is
   * told there are no more; splits of uneven size (files) then balance over the readers.
   */
  assignment?: 'round-robin' | 'on-request';
}

/**
 * Assigns a fixed set of splits (Flink's static assignment, as in its IteratorSourceEnumerator).
 * Its state is the splits not yet assigned; splits given back after a rescale join them.
 *
 * @example
 * createEnumerator: (ctx, restored) => new StaticSplitEnumerator(ctx, restored ?? { pending: [{ id: 'all', next: 0 }] }),
 */
export class StaticSplitEnumerator<Split extends SourceSplit> implements SplitEnumerator<Split, StaticSplitEnumeratorState<Split>> {
  private readonly pending: Split[];
  /** Round-robin: each reader's share, dealt when the first reader registered; readers not yet registered keep theirs here. */
  private dealt: Split[][] | undefined;
  private readonly assignment: 'round-robin' | 'on-request';

  constructor(
    private readonly ctx: SplitEnumeratorContext<Split>,
    state: StaticSplitEnumeratorState<Split>,
    options: StaticSplitEnumeratorOptions = {},
  ) {
    this.pending = [...state.pending];
    this.assignment = options.assignment ?? 'round-robin';
  }

  /** Splits back join the pending ones: dealt when readers register, or handed out on request. */
  addSplitsBack(splits: Split[]): void {
    this.pending.push(...splits);
  }

  addReader(subtask: number): void {
    if (this.assignment === 'on-request') return; // the reader asks when it has nothing
    if (this.dealt === undefined) this.dealt = Array.from({ length: this.ctx.parallelism }, () => []);
    this.pending.forEach((split, k) => this.dealt![k % this.ctx.parallelism].push(split));
    this.pending.length = 0;
    const share = this.dealt[subtask];
    this.dealt[subtask] = [];
    for (const split of share) this.ctx.assignSplit(split, subtask);
    this.ctx.signalNoMoreSplits(subtask);
  }

  handleSplitRequest(subtask: number): void {
    if (this.assignment === 'round-robin') return; // its share was assigned when it registered
    const split = this.pending.shift();
    if (split === undefined) this.ctx.signalNoMoreSplits(subtask);
    else this.ctx.assignSplit(split, subtask);
  }

  snapshotState(): StaticSplitEnumeratorState<Split> {
    return { pending: [...this.pending, ...(this.dealt ?? []).flat()] };
  }
}
