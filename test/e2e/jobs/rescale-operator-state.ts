// A job whose operator state must move when it is rescaled: a single-subtask generator, a running
// count per key (500 keys) and the transactional sink at the job's parallelism, so the sink's
// pending transactions (even-split list state) are redistributed. Args: output dir, events, events/s.
import { type RuntimeContext, type StreamEnvironment, type ValueState, ValueStateDescriptor } from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';

class RunningCount {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  map(e: { key: string; i: number }) {
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    return { key: e.key, i: e.i, n };
  }
}

export default (env: StreamEnvironment, args: string[]) => {
  env
    .fromGenerator((i) => ({ key: `k${(i * 7919) % 500}`, i }), { count: Number(args[1] ?? 30_000), eventsPerSecond: Number(args[2] ?? 6_000) })
    .setParallelism(1)
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(new TransactionalJsonLinesSink(args[0]), 'Transactional Sink')
    .uid('sink');
};
