// A job whose operator state must move when it is rescaled: a single-subtask generator, a running
// count per key (500 keys) and the transactional sink at the job's parallelism, so the sink's
// pending transactions (even-split list state) are redistributed. Args: output dir, events, events/s.
import { type StreamEnvironment } from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { RunningCount } from '../../fixtures/running-count.js';


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
