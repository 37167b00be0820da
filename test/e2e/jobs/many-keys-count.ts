// Enough keyed state that a savepoint takes a noticeable moment: events i in [0, N) over K keys
// (i mod K), a running count per key; only each key's last event (i >= N - K) goes to the
// transactional sink, carrying its count, which must be N / K. Args: output dir, N, K.
import { type StreamEnvironment } from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { RunningCount } from '../../fixtures/running-count.js';

export default (env: StreamEnvironment, args: string[]) => {
  const events = Number(args[1] ?? 2_000_000);
  const keys = Number(args[2] ?? 500_000);
  env
    .fromGenerator((i) => ({ key: `k${i % keys}`, i }), { count: events })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .filter((e) => e.i >= events - keys)
    .addSink(new TransactionalJsonLinesSink(args[0]), 'Transactional Sink')
    .uid('sink');
};
