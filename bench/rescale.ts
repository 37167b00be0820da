// rescale: how long a savepoint of N keys takes, and restoring it at the same parallelism, at
// p=1 -> p=2 and at p=2 -> p=1. One ValueState entry per key (a running count). The restore time
// is what the runtime reports ("[restore] restored savepoint ... in X s": until every subtask has
// its state). The ratio restoreRescaled / restoreSame compares a rescaled restore with the
// baseline of a same-parallelism restore in the same process; the same is measured for a
// retained checkpoint of the job (the backend's own format) restored at p=1 and at p=2.
//
//   npm run bench -- rescale --json [--backend heap|disk] [--keys N]
// Defaults: heap with 1,000,000 keys, disk with 10,000,000 (each backend once when none is given).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamEnvironment, type RuntimeContext, type ValueState, ValueStateDescriptor } from '../src/index.js';

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

class Count {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  map(_e: { key: number }): number {
    const n = (this.count.value() ?? 0) + 1;
    this.count.update(n);
    return n;
  }
}

interface Run {
  savepoint: string;
  /** The retained checkpoint taken before the savepoint (runs asked for one). */
  checkpoint?: string;
  /** Seconds the runtime reported for the restore (undefined when the run restored nothing). */
  restoreSeconds: number | undefined;
  savepointSeconds: number;
  /** The savepoint's longest synchronous part in a subtask (processing paused). */
  savepointPauseMs: number;
  entries: number;
}

/**
 * Runs the counting job at `parallelism` over `keys` keys (from `from`, if given) until it has read
 * `records` records, then stops it with a savepoint.
 */
async function run(options: { dir: string; backend: 'heap' | 'disk'; parallelism: number; keys: number; records: number; from?: string; label: string; checkpointFirst?: boolean }): Promise<Run> {
  const logs: string[] = [];
  const env = StreamEnvironment.create({
    parallelism: options.parallelism,
    stateBackend: options.backend === 'disk' ? { kind: 'disk', dir: join(options.dir, `state-${options.label}`) } : 'heap',
    checkpointing: { directory: join(options.dir, `chk-${options.label}`), intervalMs: 3_600_000 },
    fromSavepoint: options.from,
    log: (m) => logs.push(m),
  });
  const keys = options.keys;
  env
    .fromGenerator((i) => ({ key: i % keys }))
    .uid('keys')
    .keyBy((e) => e.key)
    .map(new Count())
    .uid('count')
    .addSink(() => {})
    .uid('sink');
  const client = env.executeAsync(`rescale-${options.label}`);
  while (client.metrics().sourceRecords < options.records) await new Promise((r) => setTimeout(r, 50));
  const checkpointId = options.checkpointFirst === true ? await client.triggerCheckpoint() : undefined;
  const started = performance.now();
  const savepoint = await client.stopWithSavepoint(join(options.dir, 'savepoints'));
  const savepointSeconds = (performance.now() - started) / 1000;
  const result = await client.result;
  const paused = logs.map((l) => /\[savepoint\] savepoint \d+ complete: .*processing paused at most ([\d.]+) ms/.exec(l)).find((m) => m !== null);
  const restored = logs.map((l) => /\[restore\] restored (?:savepoint|checkpoint) \d+ in ([\d.]+) s: \d+ subtasks, (\d+) keyed state entries/.exec(l)).find((m) => m !== null);
  const checkpoint = checkpointId === undefined ? undefined : join(options.dir, `chk-${options.label}`, `chk-${checkpointId}`);
  return { savepoint, checkpoint, savepointSeconds, savepointPauseMs: paused === undefined ? Number.NaN : Number(paused[1]), restoreSeconds: restored === undefined ? undefined : Number(restored[1]), entries: result.metrics.stateEntries };
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    total += s.isDirectory() ? directoryBytes(path) : s.size;
  }
  return total;
}

async function measure(backend: 'heap' | 'disk', keys: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), `floe-bench-rescale-${backend}-`));
  try {
    const build = await run({ dir, backend, parallelism: 1, keys, records: keys, label: 'build', checkpointFirst: true });
    // The same savepoint restored three ways (after one warm-up restore, so the JIT has seen the
    // restore code); each run reads a record and stops with a savepoint of its own.
    await run({ dir, backend, parallelism: 1, keys, records: 1, from: build.savepoint, label: 'warm-up' });
    const same = await run({ dir, backend, parallelism: 1, keys, records: 1, from: build.savepoint, label: 'same' });
    const up = await run({ dir, backend, parallelism: 2, keys, records: 1, from: build.savepoint, label: 'up' });
    const down = await run({ dir, backend, parallelism: 1, keys, records: 1, from: up.savepoint, label: 'down' });
    // The build run's checkpoint (the backend's own format: for disk a materialization read
    // through its key-group index when rescaled) restored at the same parallelism and at p=2.
    const fromCheckpoint = await run({ dir, backend, parallelism: 1, keys, records: 1, from: build.checkpoint, label: 'checkpoint-same' });
    const fromCheckpointUp = await run({ dir, backend, parallelism: 2, keys, records: 1, from: build.checkpoint, label: 'checkpoint-up' });
    const r = (x: number | undefined) => (x === undefined ? Number.NaN : Number(x.toFixed(2)));
    return {
      backend,
      keys,
      savepointSeconds: r(build.savepointSeconds),
      savepointPauseMs: build.savepointPauseMs,
      savepointBytes: directoryBytes(build.savepoint),
      restoreSameSeconds: r(same.restoreSeconds),
      restoreRescaledSeconds: { p1ToP2: r(up.restoreSeconds), p2ToP1: r(down.restoreSeconds) },
      rescaledToSameRatio: { p1ToP2: r(up.restoreSeconds! / same.restoreSeconds!), p2ToP1: r(down.restoreSeconds! / same.restoreSeconds!) },
      entriesPerSec: Math.round(keys / same.restoreSeconds!),
      checkpointRestoreSeconds: { same: r(fromCheckpoint.restoreSeconds), p1ToP2: r(fromCheckpointUp.restoreSeconds) },
      checkpointRescaledToSameRatio: r(fromCheckpointUp.restoreSeconds! / fromCheckpoint.restoreSeconds!),
      entriesAfterRestore: same.entries,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function rescaleBenchmark(args: string[]): Promise<Record<string, unknown>> {
  const backend = option(args, '--backend') as 'heap' | 'disk' | undefined;
  const keys = option(args, '--keys');
  const cases: Array<['heap' | 'disk', number]> = backend === undefined ? [['heap', 1_000_000], ['disk', 10_000_000]] : [[backend, backend === 'disk' ? 10_000_000 : 1_000_000]];
  const results = [];
  for (const [b, n] of cases) results.push(await measure(b, keys === undefined ? n : Number(keys)));
  return { benchmark: 'rescale', results, node: process.version };
}
