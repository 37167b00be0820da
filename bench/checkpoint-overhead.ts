// checkpoint-overhead: keyed counting over 1,000,000 keys (--keys) on the heap backend (--backend disk for the other), with a checkpoint
// every second (to a temporary directory) and without, alternating for `--rounds` rounds in the
// same process; the ratio is total time without over total time with.
// Reports the throughput ratio and the synchronous/asynchronous phase times of the checkpoints.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KeyedProcessFunction, type RuntimeContext, StreamEnvironment, type ValueState, ValueStateDescriptor } from '../src/index.js';
import { FileCheckpointStorage } from '../src/checkpoint/files/file-checkpoint-storage.js';

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
}

class CountPerKey implements KeyedProcessFunction<number, number, never> {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(): void {
    this.count.update((this.count.value() ?? 0) + 1);
  }
}

/** Records phase times of every acknowledged checkpoint. */
class MeasuringStorage extends FileCheckpointStorage {
  readonly sync: number[] = [];
  readonly async: number[] = [];
  bytes = 0;
  override async beginCheckpoint(id: number) {
    const writer = await super.beginCheckpoint(id);
    return {
      ...writer,
      checkpointId: id,
      complete: async (metadata: any, files: Array<{ name: string; size: number; sha256: string }>) => {
        await writer.complete(metadata, files);
        this.bytes = files.reduce((n, f) => n + f.size, 0);
      },
    };
  }
}

async function run(records: number, keys: number, checkpointDir: string | undefined, backend: 'heap' | 'disk', stateDir: string) {
  const storage = checkpointDir === undefined ? undefined : new MeasuringStorage(checkpointDir);
  const env = StreamEnvironment.create({
    parallelism: 1,
    stateBackend: backend === 'disk' ? { kind: 'disk', dir: join(stateDir, `state-${Math.random().toString(36).slice(2)}`) } : 'heap',
    checkpointing: checkpointDir === undefined ? undefined : { directory: checkpointDir, intervalMs: 1000, storage },
  });
  // Key = a scrambled index over `keys` distinct numbers.
  env.fromGenerator((i) => (Math.imul(i, 0x9e3779b1) >>> 0) % keys, { count: records }).keyBy((k) => k).process(new CountPerKey()).uid('count').addSink(() => {});
  const client = env.executeAsync('checkpoint-overhead');
  const t0 = performance.now();
  const result = await client.result;
  const ms = performance.now() - t0;
  return { ms, result, storage };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function checkpointOverheadBenchmark(args: string[]): Promise<Record<string, unknown>> {
  const keys = option(args, '--keys', 1_000_000);
  const backend = args.includes('--backend') ? (args[args.indexOf('--backend') + 1] as 'heap' | 'disk') : 'heap';
  const records = option(args, '--records', 20_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'floe-bench-chk-'));
  try {
    const rounds = option(args, '--rounds', 3);
    await run(Math.min(records, 500_000), Math.min(keys, 100_000), undefined, backend, dir); // JIT warm-up
    await run(Math.min(records, 500_000), Math.min(keys, 100_000), join(dir, 'warm-up'), backend, dir);
    // Alternate the two cases so that machine noise and JIT state hit both alike.
    let withoutMs = 0;
    let withMs = 0;
    const roundRatios: number[] = [];
    let last: Awaited<ReturnType<typeof run>> | undefined;
    const stats: Array<{ syncMs: number; asyncMs: number; cpuMs: number }> = [];
    let checkpoints = 0;
    for (let r = 0; r < rounds; r++) {
      const without = await run(records, keys, undefined, backend, dir);
      const withCp = await run(records, keys, join(dir, `chk-${r}`), backend, dir);
      withoutMs += without.ms;
      withMs += withCp.ms;
      roundRatios.push(Number((without.ms / withCp.ms).toFixed(3)));
      stats.push(...(withCp.result.checkpointStats ?? []));
      checkpoints += withCp.result.checkpoints?.length ?? 0;
      last = withCp;
    }
    return {
      benchmark: 'checkpoint-overhead',
      backend,
      records,
      keys,
      rounds,
      recordsPerSecWithout: Math.round((records * rounds) / (withoutMs / 1000)),
      recordsPerSecWith: Math.round((records * rounds) / (withMs / 1000)),
      throughputRatio: Number((withoutMs / withMs).toFixed(3)),
      roundRatios,
      checkpoints,
      ...phaseStats({ checkpointStats: stats }),
      checkpointBytes: last?.storage?.bytes ?? 0,
      node: process.version,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function phaseStats(result: { checkpointStats?: Array<{ syncMs: number; asyncMs: number; cpuMs: number }> }) {
  const stats = result.checkpointStats ?? [];
  return {
    syncPhaseMsP50: Number(percentile(stats.map((s) => s.syncMs), 50).toFixed(2)),
    syncPhaseMsMax: Number(Math.max(...stats.map((s) => s.syncMs)).toFixed(2)),
    asyncPhaseMsP50: Number(percentile(stats.map((s) => s.asyncMs), 50).toFixed(1)),
    checkpointCpuMsP50: Number(percentile(stats.map((s) => s.cpuMs), 50).toFixed(1)),
  };
}
