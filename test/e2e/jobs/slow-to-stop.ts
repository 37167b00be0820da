// A job that takes forever to stop: its sink's close() never finishes (as a state backend busy
// flushing to a slow disk would). Keeps a count per key (so a disk backend holds open stores)
// and writes "sink open" to stderr once it runs.
import { type RuntimeContext, type StreamEnvironment, type ValueState, ValueStateDescriptor } from 'floe';

class Count {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  map(i: number) {
    this.count.update((this.count.value() ?? 0) + 1);
    return i;
  }
}

export default (env: StreamEnvironment) => {
  env
    .fromGenerator((i) => i, { eventsPerSecond: 1000 })
    .keyBy((i) => i % 100)
    .map(new Count())
    .addSink({
      open() {
        process.stderr.write('sink open\n');
      },
      invoke() {},
      close() {
        return new Promise<void>(() => {
          setInterval(() => {}, 1000); // busy, never done
        });
      },
    });
};
