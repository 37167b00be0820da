// Snapshot isolation on the heap: a snapshot written while processing goes on holds each entry as
// it was at its barrier, and the live values keep their shape (class, methods, functions) whether
// or not a snapshot is running.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { KeyGroupRange } from '../../../../src/core/key-groups.js';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../../../src/state/descriptors.js';
import { HeapStateBackend } from '../../../../src/state/heap/heap-state-backend.js';
import { concatChunks, restoredFromBytes } from '../../../../src/state/keyed-snapshot.js';
import type { KeyedStateBackend } from '../../../../src/state/keyed-state-backend.js';
import type { TypeSerializer } from '../../../../src/state/serde/type-serializer.js';

class Account {
  constructor(
    public balance: number,
    public readonly history: number[] = [],
  ) {}
  deposit(amount: number): void {
    this.balance += amount;
    this.history.push(amount);
  }
}

/** A serializer that gives back Account instances (what a user writes to keep a class in state). */
const accountSerializer: TypeSerializer<Account> = {
  id: 'account',
  version: 1,
  serialize: (a) => new TextEncoder().encode(JSON.stringify([a.balance, a.history])),
  deserialize: (bytes) => {
    const [balance, history] = JSON.parse(new TextDecoder().decode(bytes)) as [number, number[]];
    return new Account(balance, history);
  },
};

const createBackend = (): KeyedStateBackend =>
  new HeapStateBackend().createKeyedStateBackend({
    operator: 'accounts',
    subtask: 0,
    parallelism: 1,
    maxParallelism: 8,
    keyGroupRange: KeyGroupRange.of(0, 7),
    ttlClock: new ManualClock(0),
  });

async function restoreInto(result: Awaited<ReturnType<ReturnType<KeyedStateBackend['snapshot']>['write']>>): Promise<KeyedStateBackend> {
  const target = createBackend();
  await target.restore([restoredFromBytes(result.meta, concatChunks(result.data))]);
  return target;
}

describe('heap snapshots written while processing goes on', () => {
  it('leave a class instance in state the same object, with its prototype, while the snapshot holds its old balance', async () => {
    const backend = createBackend();
    const accounts = backend.getState(new ValueStateDescriptor<Account>('account', { serializer: accountSerializer }));
    backend.setCurrentKey('alice');
    const alice = new Account(10);
    accounts.update(alice);
    const runner = backend.snapshot({ checkpointId: 1 });
    const read = accounts.value()!;
    expect(read).toBe(alice);
    expect(read).toBeInstanceOf(Account);
    read.deposit(5); // in place, through the class's own method
    const result = await runner.write();
    expect(accounts.value()).toBe(alice);
    expect(alice.balance).toBe(15);
    const target = await restoreInto(result);
    const restored = target.getState(new ValueStateDescriptor<Account>('account', { serializer: accountSerializer }));
    target.setCurrentKey('alice');
    expect(restored.value()).toBeInstanceOf(Account);
    expect(restored.value()).toEqual(new Account(10));
  });

  it('read a value holding a function without throwing, and the function stays in the live value', async () => {
    const backend = createBackend();
    const handlers = backend.getState(new ValueStateDescriptor<{ n: number; format: (n: number) => string }>('handler'));
    backend.setCurrentKey('k');
    handlers.update({ n: 1, format: (n) => `#${n}` });
    const runner = backend.snapshot({ checkpointId: 1 });
    const value = handlers.value()!;
    value.n = 2;
    expect(value.format(value.n)).toBe('#2');
    await runner.write();
    expect(handlers.value()!.format(3)).toBe('#3');
  });

  it('hold lists and maps as they were at the barrier while the live ones keep changing in place', async () => {
    const backend = createBackend();
    const list = backend.getListState(new ListStateDescriptor<Account>('list', { serializer: accountSerializer }));
    const map = backend.getMapState(new MapStateDescriptor<string, number[]>('map'));
    backend.setCurrentKey('k');
    list.add(new Account(1));
    map.put('a', [1]);
    const runner = backend.snapshot({ checkpointId: 1 });
    list.add(new Account(2));
    map.get('a')!.push(2);
    map.put('b', [3]);
    const target = await restoreInto(await runner.write());
    const restoredList = target.getListState(new ListStateDescriptor<Account>('list', { serializer: accountSerializer }));
    const restoredMap = target.getMapState(new MapStateDescriptor<string, number[]>('map'));
    target.setCurrentKey('k');
    expect(restoredList.get()).toEqual([new Account(1)]);
    expect([...restoredMap.entries()]).toEqual([['a', [1]]]);
    expect(list.get().map((a) => a.balance)).toEqual([1, 2]);
    expect(map.get('a')).toEqual([1, 2]);
  });

  it('fail the snapshot, not the record, when a touched value cannot be serialized', async () => {
    const backend = createBackend();
    const broken: TypeSerializer<{ n: number }> = {
      id: 'broken',
      version: 1,
      serialize: (v) => {
        if (v.n > 1) throw new Error('cannot serialize n > 1');
        return new Uint8Array([v.n]);
      },
      deserialize: (b) => ({ n: b[0] }),
    };
    const state = backend.getState(new ValueStateDescriptor<{ n: number }>('s', { serializer: broken }));
    backend.setCurrentKey('k');
    state.update({ n: 2 });
    const runner = backend.snapshot({ checkpointId: 1 });
    expect(state.value()).toEqual({ n: 2 }); // the read works; the snapshot will report the error
    await expect(runner.write()).rejects.toThrow(/cannot serialize n > 1/);
  });
});
