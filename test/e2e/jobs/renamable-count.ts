// A keyed count whose operator uid is an argument, to restore a checkpoint into a job that changed
// it. Args: output dir, events, events/s, uid of the counting operator.
import { type StreamEnvironment } from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { RunningCount } from '../../fixtures/running-count.js';


export default (env: StreamEnvironment, args: string[]) => {
  env
    .fromGenerator((i) => ({ key: `k${i % 50}`, i }), { count: Number(args[1]), eventsPerSecond: Number(args[2]) })
    .setParallelism(1)
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid(args[3])
    .addSink(new TransactionalJsonLinesSink(args[0]), 'Transactional Sink')
    .uid('sink');
};
