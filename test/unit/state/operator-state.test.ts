import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ListStateDescriptor, MapStateDescriptor, StreamEnvironment, type FunctionInitializationContext, type ListState } from '../../../src/index.js';
import { OperatorStateStore } from '../../../src/state/operator/operator-state-store.js';

describe('OperatorStateStore', () => {
  it('snapshots list, union, broadcast and raw state independently of later changes, and restores them', () => {
    const store = new OperatorStateStore('op');
    store.getListState(new ListStateDescriptor<number>('split')).addAll([1, 2]);
    store.getUnionListState(new ListStateDescriptor<string>('union')).add('u');
    store.getBroadcastState(new MapStateDescriptor<string, number>('rules')).put('a', 5);
    store.setRawState(Buffer.from('raw bytes'));
    const snapshot = store.snapshot();
    store.getListState(new ListStateDescriptor<number>('split')).add(3);
    expect(snapshot.states.split.elements).toHaveLength(2); // one encoded element each: the unit of redistribution
    const restored = new OperatorStateStore('op');
    restored.restore([snapshot]);
    expect(restored.isRestored()).toBe(true);
    expect(restored.getListState(new ListStateDescriptor<number>('split')).get()).toEqual([1, 2]);
    expect(restored.getUnionListState(new ListStateDescriptor<string>('union')).get()).toEqual(['u']);
    expect([...restored.getBroadcastState(new MapStateDescriptor<string, number>('rules')).entries()]).toEqual([['a', 5]]);
    expect(Buffer.from(restored.getRawState()!).toString()).toBe('raw bytes');
  });

  it('rejects a name registered again with another mode', () => {
    const store = new OperatorStateStore("operator 'x'");
    store.getListState(new ListStateDescriptor<number>('s'));
    expect(() => store.getUnionListState(new ListStateDescriptor<number>('s'))).toThrow(/operator 'x'.*'s' is already registered as split state/);
  });

  it('rejects a restore into another mode, naming the state', () => {
    const store = new OperatorStateStore('op');
    store.getUnionListState(new ListStateDescriptor<number>('s')).add(1);
    const restored = new OperatorStateStore('op');
    restored.restore([store.snapshot()]);
    expect(() => restored.getListState(new ListStateDescriptor<number>('s'))).toThrow(/'s' was checkpointed as union state/);
  });
});

describe('union list state in a running job', () => {
  it('gives every subtask every element of every subtask after a restore', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'floe-union-'));
    const seenAfterRestore: string[] = [];
    let failed = false;
    class Tagger {
      private state!: ListState<string>;
      private subtask = -1;
      initializeState(ctx: FunctionInitializationContext) {
        this.state = ctx.getOperatorStateStore().getUnionListState(new ListStateDescriptor<string>('tags'));
        if (ctx.isRestored()) seenAfterRestore.push(this.state.get().sort().join(','));
      }
      snapshotState() {
        this.state.update([`from-${this.subtask}`]);
      }
      open(ctx: { getIndexOfThisSubtask(): number }) {
        this.subtask = ctx.getIndexOfThisSubtask();
      }
      map(x: number) {
        if (x === 3000 && !failed) {
          failed = true;
          throw new Error('injected');
        }
        return x;
      }
    }
    const env = StreamEnvironment.create({
      parallelism: 3,
      checkpointing: { directory: join(dir, 'chk'), intervalMs: 20 },
      restartStrategy: { type: 'fixed-delay', attempts: 2, delayMs: 1 },
      log: () => {},
    });
    env.fromGenerator((i) => i, { count: 6000, eventsPerSecond: 12_000 }).map(new Tagger()).uid('tagger').addSink(() => {});
    const result = await env.execute();
    expect(result.restarts).toBe(1);
    expect(seenAfterRestore).toEqual(['from-0,from-1,from-2', 'from-0,from-1,from-2', 'from-0,from-1,from-2']);
  });
});
