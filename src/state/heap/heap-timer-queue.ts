// Timers of one kind (event or processing time) for one operator instance: stored per key
// group and key with set semantics per (key, namespace, timestamp), ordered for firing by an indexed
// binary heap on (timestamp, registration order): each timer knows its heap slot, so removal is
// O(log n) with no tombstones (Flink's HeapPriorityQueue does the same). No I/O.
import type { KeyId } from '../../core/key-encoding.js';
import type { KeyGroupedTimerQueue, Namespace, TimerEntry } from '../keyed-state-backend.js';
import type { KeyContext } from './heap-state-handle.js';

interface StoredTimer extends TimerEntry {
  readonly keyGroup: number;
  readonly keyId: KeyId;
  readonly seq: number;
  /** Slot in the heap array. */
  index: number;
}

export class HeapTimerQueue implements KeyGroupedTimerQueue {
  /** key group -> key id -> that key's timers (usually one or two, so a scan beats a composite key). */
  private readonly byKeyGroup = new Map<number, Map<KeyId, StoredTimer[]>>();
  private readonly heap: StoredTimer[] = [];
  private seq = 0;

  constructor(
    private readonly ctx: KeyContext,
    private readonly currentKeyGroup: () => number,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(timestamp: number, namespace: Namespace): boolean {
    const keyGroup = this.currentKeyGroup();
    const id = this.ctx.id;
    let group = this.byKeyGroup.get(keyGroup);
    if (group === undefined) this.byKeyGroup.set(keyGroup, (group = new Map()));
    let timers = group.get(id);
    if (timers === undefined) group.set(id, (timers = []));
    else if (find(timers, timestamp, namespace) >= 0) return false;
    const timer: StoredTimer = { timestamp, key: this.ctx.key, namespace, keyGroup, keyId: id, seq: this.seq++, index: this.heap.length };
    timers.push(timer);
    this.heap.push(timer);
    this.siftUp(timer.index);
    return true;
  }

  remove(timestamp: number, namespace: Namespace): boolean {
    const timers = this.byKeyGroup.get(this.currentKeyGroup())?.get(this.ctx.id);
    if (timers === undefined) return false;
    const at = find(timers, timestamp, namespace);
    if (at < 0) return false;
    const timer = timers[at];
    this.forget(timer);
    this.removeAt(timer.index);
    return true;
  }

  peek(): TimerEntry | undefined {
    const head = this.heap[0];
    return head === undefined ? undefined : publicTimer(head);
  }

  poll(): TimerEntry | undefined {
    const head = this.heap[0];
    if (head === undefined) return undefined;
    this.forget(head);
    this.removeAt(0);
    return publicTimer(head);
  }

  entriesOfKeyGroup(keyGroup: number): TimerEntry[] {
    const group = this.byKeyGroup.get(keyGroup);
    return group === undefined ? [] : [...group.values()].flat().sort(compare).map(publicTimer);
  }

  entries(): TimerEntry[] {
    return [...this.heap].sort(compare).map(publicTimer);
  }

  private forget(timer: StoredTimer): void {
    const group = this.byKeyGroup.get(timer.keyGroup)!;
    const timers = group.get(timer.keyId)!;
    if (timers.length === 1) {
      group.delete(timer.keyId);
      if (group.size === 0) this.byKeyGroup.delete(timer.keyGroup);
    } else timers.splice(timers.indexOf(timer), 1);
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (index === heap.length) return;
    heap[index] = last;
    last.index = index;
    this.siftDown(index);
    this.siftUp(last.index);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const timer = heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (compare(parent, timer) <= 0) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = timer;
    timer.index = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const n = heap.length;
    const timer = heap[index];
    for (;;) {
      const l = 2 * index + 1;
      if (l >= n) break;
      const r = l + 1;
      const childIndex = r < n && compare(heap[r], heap[l]) < 0 ? r : l;
      const child = heap[childIndex];
      if (compare(child, timer) >= 0) break;
      heap[index] = child;
      child.index = index;
      index = childIndex;
    }
    heap[index] = timer;
    timer.index = index;
  }
}

/** Position of the timer with this timestamp and namespace in one key's list, or -1. */
function find(timers: StoredTimer[], timestamp: number, namespace: Namespace): number {
  for (let i = 0; i < timers.length; i++) if (timers[i].timestamp === timestamp && timers[i].namespace === namespace) return i;
  return -1;
}

function compare(a: StoredTimer, b: StoredTimer): number {
  return a.timestamp - b.timestamp || a.seq - b.seq;
}

function publicTimer(t: StoredTimer): TimerEntry {
  return { timestamp: t.timestamp, key: t.key, namespace: t.namespace };
}
