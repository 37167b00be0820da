// The seed's CountWindowAverage (Flink "Working with State"): a poor man's count window that
// keeps a running (count, sum) per key in ValueState and emits the average every 2 records.
// Run: npx floe run examples/count-window-average.ts --parallelism 4
import { type Collector, type RuntimeContext, type StreamEnvironment, type ValueState, ValueStateDescriptor } from 'floe';

export class CountWindowAverage {
  /** The count and the running sum of the current key. */
  private sum!: ValueState<[number, number]>;

  open(ctx: RuntimeContext): void {
    this.sum = ctx.getState(new ValueStateDescriptor<[number, number]>('average', { defaultValue: [0, 0] }));
  }

  flatMap(input: [number, number], out: Collector<[number, number]>): void {
    const current = this.sum.value()!;
    current[0] += 1;
    current[1] += input[1];
    this.sum.update(current);
    if (current[0] >= 2) {
      // The seed's fields are Java longs: the average is an integer division.
      out.collect([input[0], Math.trunc(current[1] / current[0])]);
      this.sum.clear();
    }
  }
}

/** Builds the seed's pipeline; the printed output is (1,4) and (1,5). */
export function countWindowAverage(env: StreamEnvironment) {
  return env
    .fromElements<[number, number]>([1, 3], [1, 5], [1, 7], [1, 4], [1, 2])
    .keyBy((value) => value[0])
    .flatMap(new CountWindowAverage())
    .uid('count-window-average');
}

export default (env: StreamEnvironment) => {
  countWindowAverage(env).print();
};
