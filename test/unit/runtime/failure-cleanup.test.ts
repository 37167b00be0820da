// What a failed attempt leaves behind: its asynchronous snapshot writers finish before its keyed
// backends are disposed and before run() settles (so nothing of it can write into a later attempt).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type RuntimeContext, StreamEnvironment, type ValueState, ValueStateDescriptor } from '../../../src/index.js';
import { IndexSource } from '../../fixtures/index-source.js';
import { DiskStateBackend } from '../../../src/state/disk/disk-state-backend.js';
import { HeapStateBackend } from '../../../src/state/heap/heap-state-backend.js';
import type { KeyedStateBackend, KeyedStateBackendOptions, StateBackend } from '../../../src/state/keyed-state-backend.js';

async function settle(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/** Emits 0, 1, 2, waits while `paused`, then emits -1 (the record the job fails on). */
class PausingSource extends IndexSource<number> {
  paused = true;
  constructor() {
    super({ name: 'Pausing Source', count: 4, record: (i) => (i < 3 ? i : -1), limit: (next) => (next < 3 || this.paused ? 3 : 4) });
  }
}

/** A backend whose snapshot writes are held until `finishWrites()`, with a log of writes and disposal. */
class ObservedBackend implements StateBackend {
  readonly name = 'observed';
  readonly events: string[] = [];
  private release!: () => void;
  private readonly writesHeld = new Promise<void>((resolve) => (this.release = resolve));

  constructor(private readonly inner: StateBackend) {}

  finishWrites(): void {
    this.release();
  }

  createKeyedStateBackend(options: KeyedStateBackendOptions): KeyedStateBackend {
    const backend = this.inner.createKeyedStateBackend(options);
    const events = this.events;
    const held = this.writesHeld;
    return new Proxy(backend, {
      get(target, property) {
        if (property === 'snapshot')
          return (...args: Parameters<KeyedStateBackend['snapshot']>) => {
            const runner = target.snapshot(...args);
            return {
              write: async () => {
                events.push('write started');
                await held;
                const result = await runner.write();
                events.push('write finished');
                return result;
              },
              release: () => runner.release(),
            };
          };
        if (property === 'dispose')
          return () => {
            events.push('dispose');
            return target.dispose();
          };
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

/** Set by the failing function (functions are copied per subtask, so not a field of it). */
const failure = { thrown: false };

class CountOrFail {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext) {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count'));
  }
  map(x: number) {
    if (x < 0) {
      failure.thrown = true;
      throw new Error('injected failure');
    }
    this.count.update((this.count.value() ?? 0) + 1);
    return x;
  }
}

describe('a failed attempt', () => {
  it.each(['heap', 'disk'])('lets its snapshot writers finish before it disposes its keyed state and settles (%s)', async (kind) => {
    const root = mkdtempSync(join(tmpdir(), 'floe-failure-cleanup-'));
    failure.thrown = false;
    const backend = new ObservedBackend(kind === 'heap' ? new HeapStateBackend() : new DiskStateBackend({ dir: join(root, 'state') }));
    const source = new PausingSource();
    const seen: number[] = [];
    const env = StreamEnvironment.create({
      stateBackend: backend,
      checkpointing: { directory: join(root, 'chk') },
      restartStrategy: { type: 'none' },
      log: () => {},
    });
    env
      .fromSource(source)
      .keyBy((x) => x % 2)
      .map(new CountOrFail())
      .uid('count')
      .addSink((x: number) => seen.push(x));
    const client = env.executeAsync('failure-cleanup');
    const result = client.result.then(
      () => 'finished',
      (error: Error) => error.message,
    );
    await until(() => seen.length === 3);
    void client.triggerCheckpoint().catch(() => {});
    await until(() => backend.events.includes('write started'));
    source.paused = false; // the job now fails while the snapshot is being written
    await until(() => failure.thrown);
    await settle();
    backend.finishWrites();
    expect(await result).toMatch(/injected failure/);
    expect(backend.events).toEqual(['write started', 'write finished', 'dispose']);
  });
});
