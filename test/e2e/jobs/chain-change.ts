// A job whose chaining changes with its parallelism: at -p 1 the source, the map and the
// transactional sink run in one chain; at -p 2 the sink (and map) run in their own chain after a
// rebalance. Its operator state (pending transactions) must follow the sink's uid. Args: out, events, rate.
import { type StreamEnvironment, TransactionalJsonLinesSink } from 'floe';

export default (env: StreamEnvironment, args: string[]) => {
  env
    .fromGenerator((i) => i, { count: Number(args[1] ?? 20_000), eventsPerSecond: Number(args[2] ?? 5_000) })
    .setParallelism(1)
    .uid('events')
    .map((i) => ({ i }))
    .uid('tag')
    .addSink(new TransactionalJsonLinesSink<{ i: number }>(args[0]), 'Transactional Sink')
    .uid('sink');
};
