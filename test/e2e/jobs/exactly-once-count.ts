// A keyed counting job for the fault-injection test: generated events, a running count per key
// in ValueState, committed through the transactional JSON-lines sink. Output dir = first arg.
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
  const out = args[0];
  const events = Number(args[1] ?? 200_000);
  const rate = Number(args[2] ?? 40_000);
  env
    .fromGenerator((i) => ({ key: `k${(i * 7919) % 97}`, i }), { count: events, eventsPerSecond: rate })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(new TransactionalJsonLinesSink(out), 'Transactional Sink')
    .uid('sink');
};
