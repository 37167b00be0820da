// keyed-count: records over distinct string keys through a KeyedProcessFunction that increments
// a ValueState<number> (parallelism 1, heap backend), against a plain loop with a Map over the
// same generated records, in the same process. Heap per key is measured after a GC while the
// job still holds its state (in the function's close()). Needs --expose-gc (npm run bench sets it).
import { type KeyedProcessFunction, type RuntimeContext, StreamEnvironment, type ValueState, ValueStateDescriptor } from '../src/index.js';

interface Click {
  user: string;
  n: number;
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench does)');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

class CountPerKey implements KeyedProcessFunction<string, Click, never> {
  private count!: ValueState<number>;
  heapAtClose = 0;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  processElement(): void {
    this.count.update((this.count.value() ?? 0) + 1);
  }
  close(): void {
    this.heapAtClose = heapAfterGc();
    measured.push(this.heapAtClose);
  }
}
const measured: number[] = [];

async function runEngine(generate: (i: number) => Click, records: number): Promise<{ ms: number; heapGrowth: number; keys: number }> {
  const before = heapAfterGc();
  measured.length = 0;
  const env = StreamEnvironment.create({ parallelism: 1 });
  env.fromGenerator(generate, { count: records }).keyBy((c) => c.user).process(new CountPerKey()).uid('count').addSink(() => {});
  const t0 = performance.now();
  const result = await env.execute('keyed-count');
  return { ms: performance.now() - t0, heapGrowth: measured[0] - before, keys: result.metrics.distinctKeys };
}

function runBaseline(generate: (i: number) => Click, records: number): { ms: number; heapGrowth: number; keys: number } {
  const before = heapAfterGc();
  const t0 = performance.now();
  const counts = new Map<string, number>();
  for (let i = 0; i < records; i++) {
    const c = generate(i);
    counts.set(c.user, (counts.get(c.user) ?? 0) + 1);
  }
  const ms = performance.now() - t0;
  const heapGrowth = heapAfterGc() - before;
  return { ms, heapGrowth, keys: counts.size }; // counts is used after the GC, so it was still live
}

export async function keyedCountBenchmark(args: string[]): Promise<Record<string, unknown>> {
  const records = option(args, '--records', 10_000_000);
  const keys = option(args, '--keys', 100_000);
  const keyNames = Array.from({ length: keys }, (_, i) => `user-${i}`);
  // Both sides see the same stream: a scrambled index picks the key, so keys interleave.
  const generate = (i: number): Click => ({ user: keyNames[(Math.imul(i, 0x9e3779b1) >>> 0) % keys], n: i });

  runBaseline(generate, 300_000); // JIT warm-up of both paths
  await runEngine(generate, 300_000);
  const baseline = runBaseline(generate, records);
  const engine = await runEngine(generate, records);
  if (engine.keys !== baseline.keys) throw new Error(`engine saw ${engine.keys} keys, baseline ${baseline.keys}`);

  const recordsPerSec = Math.round(records / (engine.ms / 1000));
  const baselineRecordsPerSec = Math.round(records / (baseline.ms / 1000));
  return {
    benchmark: 'keyed-count',
    records,
    keys,
    recordsPerSec,
    baselineRecordsPerSec,
    ratio: Number((recordsPerSec / baselineRecordsPerSec).toFixed(3)),
    heapBytesPerKey: Math.round(engine.heapGrowth / engine.keys),
    baselineHeapBytesPerKey: Math.round(baseline.heapGrowth / baseline.keys),
    node: process.version,
  };
}
