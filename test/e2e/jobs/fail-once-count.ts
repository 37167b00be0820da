// The keyed counting job of the fault-injection tests, failing once at record `failAt` (the first
// attempt that reaches it creates `marker`; later attempts pass). Args: out, events, rate, failAt, marker.
import { existsSync, writeFileSync } from 'node:fs';
import { type StreamEnvironment } from 'floe';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { RunningCount } from '../../fixtures/running-count.js';

/** RunningCount that throws once, at record `failAt`, in the first attempt that reaches it. */
class FailOnceCount extends RunningCount {
  constructor(
    private readonly failAt: number,
    private readonly marker: string,
  ) {
    super();
  }
  override map(e: { key: string; i: number }) {
    if (e.i === this.failAt && !existsSync(this.marker)) {
      writeFileSync(this.marker, 'failed once');
      throw new Error(`injected failure at record ${e.i}`);
    }
    return super.map(e);
  }
}

export default (env: StreamEnvironment, args: string[]) => {
  env
    .fromGenerator((i) => ({ key: `k${(i * 7919) % 97}`, i }), { count: Number(args[1]), eventsPerSecond: Number(args[2]) })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new FailOnceCount(Number(args[3]), args[4]))
    .uid('count')
    .addSink(new TransactionalJsonLinesSink(args[0]), 'Transactional Sink')
    .uid('sink');
};
