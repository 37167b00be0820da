// A keyed counting job for the fault-injection test: generated events, a running count per key
// in ValueState, committed through the transactional JSON-lines sink. Output dir = first arg.
import { type StreamEnvironment } from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { RunningCount } from '../../fixtures/running-count.js';


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
