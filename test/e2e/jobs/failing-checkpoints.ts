// A bounded job whose checkpoint storage is full for a while: its first eight checkpoint
// completions fail. With tolerableFailures 5 the first attempt fails on the final checkpoint's
// sixth failure, the restarted attempt tolerates two more and finishes.
// Checkpoint dir = first arg, output dir = second arg.
import { type StreamEnvironment } from 'floe';
import { FileCheckpointStorage } from '../../../src/checkpoint/files/file-checkpoint-storage.js';
import { TransactionalJsonLinesSink } from '../../../src/connectors/file/transactional-json-lines-sink.js';
import { RunningCount } from '../../fixtures/running-count.js';

class DiskFullStorage extends FileCheckpointStorage {
  private failures = 0;
  override async beginCheckpoint(id: number) {
    const writer = await super.beginCheckpoint(id);
    return {
      ...writer,
      checkpointId: id,
      complete: async (metadata: unknown, files: Array<{ name: string; size: number; sha256: string }>) => {
        if (this.failures++ < 8) throw Object.assign(new Error(`ENOSPC: no space left on device, write (checkpoint ${id})`), { code: 'ENOSPC' });
        await writer.complete(metadata, files);
      },
    };
  }
}


export default (env: StreamEnvironment, args: string[]) => {
  const [directory, out] = args;
  env.enableCheckpointing({ directory, intervalMs: 60_000, tolerableFailures: 5, storage: new DiskFullStorage(directory) });
  env
    .fromGenerator((i) => ({ key: `k${i % 50}`, i }), { count: 20_000, eventsPerSecond: 40_000 })
    .uid('events')
    .keyBy((e) => e.key)
    .map(new RunningCount())
    .uid('count')
    .addSink(new TransactionalJsonLinesSink(out), 'Transactional Sink')
    .uid('sink');
};
