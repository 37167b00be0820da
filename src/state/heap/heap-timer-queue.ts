// Timers of one kind (event or processing time) for one operator instance: stored per key
// group with set semantics per (key, namespace, timestamp), ordered for firing by a binary heap
// on (timestamp, registration order). Removal is lazy in the heap. No I/O.
import { type KeyId, keyFromId } from '../../core/key-encoding.js';
import type { KeyGroupedTimerQueue, Namespace, TimerEntry } from '../keyed-state-backend.js';
import type { KeyContext } from './heap-state-handle.js';

interface StoredTimer extends TimerEntry {
  readonly keyGroup: number;
  readonly dedupId: string;
  readonly seq: number;
}

/** A dedup id with type tags, so 1 and '1' (keys or namespaces) never collide. */
function dedupId(timestamp: number, namespace: Namespace, id: KeyId): string {
  return `${timestamp}|${typeof namespace === 'number' ? 'n' : 's'}${namespace}|${typeof id}:${String(id)}`;
}

export class HeapTimerQueue implements KeyGroupedTimerQueue {
  private readonly byKeyGroup = new Map<number, Map<string, StoredTimer>>();
  private heap: StoredTimer[] = [];
  private seq = 0;
  private count = 0;

  constructor(
    private readonly ctx: KeyContext,
    private readonly currentKeyGroup: () => number,
  ) {}

  get size(): number {
    return this.count;
  }

  add(timestamp: number, namespace: Namespace): boolean {
    const keyGroup = this.currentKeyGroup();
    const id = dedupId(timestamp, namespace, this.ctx.id);
    let group = this.byKeyGroup.get(keyGroup);
    if (group === undefined) this.byKeyGroup.set(keyGroup, (group = new Map()));
    if (group.has(id)) return false;
    const timer: StoredTimer = { timestamp, key: keyFromId(this.ctx.id), namespace, keyGroup, dedupId: id, seq: this.seq++ };
    group.set(id, timer);
    this.count++;
    this.push(timer);
    return true;
  }

  remove(timestamp: number, namespace: Namespace): boolean {
    const keyGroup = this.currentKeyGroup();
    const group = this.byKeyGroup.get(keyGroup);
    const id = dedupId(timestamp, namespace, this.ctx.id);
    if (group === undefined || !group.delete(id)) return false;
    if (group.size === 0) this.byKeyGroup.delete(keyGroup);
    this.count--;
    // Removed timers stay in the heap until they reach its head; rebuild before they dominate it.
    if (this.heap.length > 2 * this.count + 1024) this.rebuildHeap();
    return true;
  }

  private rebuildHeap(): void {
    this.heap = [];
    for (const group of this.byKeyGroup.values()) for (const timer of group.values()) this.push(timer);
  }

  peek(): TimerEntry | undefined {
    this.dropRemovedHead();
    const head = this.heap[0];
    return head === undefined ? undefined : publicTimer(head);
  }

  poll(): TimerEntry | undefined {
    this.dropRemovedHead();
    const head = this.heap[0];
    if (head === undefined) return undefined;
    this.pop();
    const group = this.byKeyGroup.get(head.keyGroup)!;
    group.delete(head.dedupId);
    if (group.size === 0) this.byKeyGroup.delete(head.keyGroup);
    this.count--;
    return publicTimer(head);
  }

  entriesOfKeyGroup(keyGroup: number): TimerEntry[] {
    const group = this.byKeyGroup.get(keyGroup);
    return group === undefined ? [] : [...group.values()].sort(compare).map(publicTimer);
  }

  entries(): TimerEntry[] {
    const all: StoredTimer[] = [];
    for (const group of this.byKeyGroup.values()) all.push(...group.values());
    return all.sort(compare).map(publicTimer);
  }

  /** Pops heap entries whose timer was removed (or removed and registered again: a newer entry exists). */
  private dropRemovedHead(): void {
    while (this.heap.length > 0) {
      const head = this.heap[0];
      if (this.byKeyGroup.get(head.keyGroup)?.get(head.dedupId) === head) return;
      this.pop();
    }
  }

  private push(timer: StoredTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compare(heap[parent], timer) <= 0) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = timer;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && compare(heap[r], heap[l]) < 0 ? r : l;
      if (compare(heap[child], last) >= 0) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
}

function compare(a: StoredTimer, b: StoredTimer): number {
  return a.timestamp - b.timestamp || a.seq - b.seq;
}

function publicTimer(t: StoredTimer): TimerEntry {
  return { timestamp: t.timestamp, key: t.key, namespace: t.namespace };
}
