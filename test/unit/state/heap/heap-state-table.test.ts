// The heap tables do not keep a map per namespace that was used once (windows would otherwise
// leak one map each), whether the namespace is emptied by the user or by TTL cleanup.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { HeapListState } from '../../../../src/state/heap/heap-list-state.js';
import type { KeyContext } from '../../../../src/state/heap/heap-state-handle.js';
import { HeapValueState } from '../../../../src/state/heap/heap-value-state.js';
import { StateTable } from '../../../../src/state/heap/state-table.js';
import { StateTtlConfig } from '../../../../src/state/ttl/state-ttl-config.js';
import { TtlPolicy, type TtlValue } from '../../../../src/state/ttl/ttl-support.js';
import { TtlHeapValueState } from '../../../../src/state/ttl/ttl-value-state.js';

const ctx = (key: string): KeyContext => ({ key, id: key, keyGroup: -1 });

describe('heap state tables', () => {
  it('drop the map of a namespace once its last entry is cleared', () => {
    const table = new StateTable<number[]>();
    const list = new HeapListState<number>(ctx('a'), table);
    for (let w = 0; w < 1000; w++) {
      list.setCurrentNamespace(w);
      list.add(w);
      list.clear();
    }
    list.setCurrentNamespace(5);
    expect(list.get()).toEqual([]);
    list.update([]);
    expect([...table.namespaces.keys()]).toEqual(['']);
  });

  it('create no map for a namespace that is only read', () => {
    const table = new StateTable<string>();
    const value = new HeapValueState<string>(ctx('a'), table, undefined);
    for (let w = 0; w < 100; w++) {
      value.setCurrentNamespace(`w${w}`);
      expect(value.value()).toBeUndefined();
      value.clear();
    }
    expect(table.namespaces.size).toBe(1);
  });

  it('keep the void namespace map even when it is empty', () => {
    const table = new StateTable<string>();
    const value = new HeapValueState<string>(ctx('a'), table, undefined);
    value.update('x');
    value.clear();
    expect([...table.namespaces.keys()]).toEqual(['']);
  });

  it('write to a new map after TTL cleanup dropped the current namespace', () => {
    const clock = new ManualClock(0);
    const table = new StateTable<TtlValue<string>>();
    const ttl = new TtlPolicy(StateTtlConfig.newBuilder(10).cleanupIncrementally(10, false).build(), clock);
    const key = ctx('a');
    const value = new TtlHeapValueState<string>(key, table, ttl);
    value.setCurrentNamespace('w');
    value.update('old');
    clock.advance(10);
    key.id = 'b';
    value.update('new'); // cleanup during this access drops 'a', then the namespace, then writes 'b'
    expect(value.value()).toBe('new');
    expect([...table.namespaces.get('w')!.keys()]).toEqual(['b']);
  });
});
