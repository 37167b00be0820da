// A keyed counting job whose keyed operator can be rescaled: a single-subtask generator, a
// running count per key (500 keys) at the job's parallelism, and a single-subtask transactional
// sink. Arguments: output dir, events, events per second.
import { type StreamEnvironment } from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { RunningCount } from '../../fixtures/running-count.js';


export default (env: StreamEnvironment, args: string[]) => {
  const out = args[0];
  const events = Number(args[1] ?? 40_000);
  const rate = Number(args[2] ?? 10_000);
  env
    .fromGenerator((i) => ({ key: `k${(i * 7919) % 500}`, i }), { count: events, eventsPerSecond: rate })
    .setParallelism(1)
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(new TransactionalJsonLinesSink(out), 'Transactional Sink')
    .setParallelism(1)
    .uid('sink');
};
