// Exactly-once output to files: TransactionalJsonLinesSink writes each checkpoint's records to an
// in-progress file and makes them visible (renames them to part-*.jsonl) only when the checkpoint
// completes. Kill the job at any moment and run the same command again: it resumes from the
// latest checkpoint and the committed files hold every record exactly once.
// Run: npx floe run examples/guide/exactly-once-files.ts --checkpoint-dir .floe/guide/chk -- .floe/guide/out
// Read: readCommittedJsonLines('.floe/guide/out') returns the committed records in order.
import { type StreamEnvironment, TransactionalJsonLinesSink } from 'floe';

export default (env: StreamEnvironment, args: string[]) => {
  const out = args[0] ?? '.floe/guide/out';
  env
    .fromGenerator((i) => ({ user: `u${i % 100}`, clicks: 1 }), { count: 100_000 })
    .uid('events')
    .keyBy((e) => e.user)
    .sum('clicks')
    .uid('clicks-per-user')
    .addSink(new TransactionalJsonLinesSink(out), 'Committed files')
    .uid('committed-files');
};
