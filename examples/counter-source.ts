// The seed's CounterSource: a source whose offset is its state. Floe sources keep their read
// position through `snapshotPosition` / `restorePosition`, taken in the same synchronous step
// as the rest of the checkpoint (the seed's checkpoint lock is not needed: one thread).
import type { Source, SourceOutput, SourceReader } from 'floe';

export class CounterSource implements Source<number> {
  readonly name = 'Counter Source';
  readonly bounded: boolean;
  readonly maxParallelism = 1;

  constructor(private readonly limit = Number.POSITIVE_INFINITY) {
    this.bounded = Number.isFinite(limit);
  }

  createReader(): SourceReader<number> {
    let offset = 0;
    const limit = this.limit;
    return {
      pollNext(output: SourceOutput<number>, max: number) {
        for (let i = 0; i < max && offset < limit; i++) output.collect(offset++);
        return offset < limit;
      },
      snapshotPosition: () => offset,
      restorePosition: (position) => {
        offset = position as number;
      },
    };
  }
}
