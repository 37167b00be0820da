// checkpoint-latency: the README demo (examples/demo.ts, 10,000 users, heap backend) with an
// unthrottled source; reports how long its checkpoints take from trigger to completion and when
// the first one completes after the start. Writes into a temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import demo from '../examples/demo.js';
import { StreamEnvironment } from '../src/index.js';

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i < 0 ? fallback : Number(args[i + 1]);
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function checkpointLatencyBenchmark(args: string[]): Promise<Record<string, unknown>> {
  const events = option(args, '--events', 4_000_000);
  const parallelism = option(args, '--parallelism', 1);
  const dir = mkdtempSync(`${tmpdir()}/floe-bench-latency-`);
  const cwd = process.cwd();
  try {
    process.chdir(dir); // the demo writes to .floe/demo/ under the working directory
    const env = StreamEnvironment.create({ parallelism, log: () => {} });
    await demo(env, ['--events', String(events)]);
    const started = performance.now();
    const result = await env.executeAsync('checkpoint-latency').result;
    const elapsedMs = performance.now() - started;
    const stats = (result.checkpointStats ?? []).filter((s) => !Number.isNaN(s.durationMs));
    const durations = stats.map((s) => s.durationMs);
    return {
      benchmark: 'checkpoint-latency',
      events,
      parallelism,
      recordsPerSec: Math.round(events / (elapsedMs / 1000)),
      checkpoints: stats.length,
      durationMsP50: Math.round(percentile(durations, 50)),
      durationMsMax: Math.round(Math.max(...durations)),
      durationsMs: durations.map((d) => Math.round(d)),
      syncMsMax: Number(Math.max(...stats.map((s) => s.syncMs)).toFixed(1)),
      asyncMsMax: Number(Math.max(...stats.map((s) => s.asyncMs)).toFixed(1)),
      node: process.version,
    };
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
}
