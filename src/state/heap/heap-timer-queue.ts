// Timers of one kind (event or processing time) for one operator instance: stored per key
// group and key with set semantics per (key, namespace, timestamp), ordered for firing by an indexed
// binary heap on (timestamp, registration order): each timer knows its heap slot, so removal is
// O(log n) and leaves no tombstones behind (Flink's HeapPriorityQueue does the same). No I/O.
import { FloeError, describeValue } from '../../core/errors.js';
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

/** Past this many timers, a key's timers are indexed by timestamp instead of scanned. */
const SMALL = 8;

/**
 * One key's timers: usually one or two, so a short array scanned linearly beats building a
 * composite dedup key per call; a key with many timers (one per record) gets an index by timestamp.
 */
type KeyTimers = StoredTimer[] | Map<number, StoredTimer[]>;

/**
 * A {@link KeyGroupedTimerQueue} in memory. Timers are kept per key group (for snapshots and
 * rescaling) and in one binary min-heap on (timestamp, registration order) for firing. `add` and
 * `remove` act on the backend's current key and key group. Costs: add/remove/poll O(log n), peek O(1).
 */
export class HeapTimerQueue implements KeyGroupedTimerQueue {
  /** key group -> key id -> that key's timers. */
  private readonly byKeyGroup = new Map<number, Map<KeyId, KeyTimers>>();
  private readonly heap: StoredTimer[] = [];
  private seq = 0;

  constructor(
    private readonly ctx: Pick<KeyContext, 'key' | 'id'>,
    private readonly currentKeyGroup: () => number,
    /** Called before a timer of `keyGroup` is added or removed (a running snapshot writes that group first). */
    private readonly beforeChange: (keyGroup: number) => void = () => {},
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(timestamp: number, namespace: Namespace): boolean {
    // NaN compares false both ways and would silently break the heap order.
    if (typeof timestamp !== 'number' || Number.isNaN(timestamp))
      throw new FloeError('INVALID_ARGUMENT', `A timer needs a numeric timestamp (epoch ms), got ${describeValue(timestamp)}`);
    const keyGroup = this.currentKeyGroup();
    this.beforeChange(keyGroup);
    const id = this.ctx.id;
    let group = this.byKeyGroup.get(keyGroup);
    if (group === undefined) this.byKeyGroup.set(keyGroup, (group = new Map()));
    const timers = group.get(id);
    if (timers !== undefined && find(timers, timestamp, namespace) !== undefined) return false;
    const timer: StoredTimer = { timestamp, key: this.ctx.key, namespace, keyGroup, keyId: id, seq: this.seq++, index: this.heap.length };
    if (timers === undefined) group.set(id, [timer]);
    else if (Array.isArray(timers) && timers.length >= SMALL) group.set(id, indexByTimestamp(timers, timer));
    else insert(timers, timer);
    this.heap.push(timer);
    this.siftUp(timer.index);
    return true;
  }

  remove(timestamp: number, namespace: Namespace): boolean {
    const timers = this.byKeyGroup.get(this.currentKeyGroup())?.get(this.ctx.id);
    const timer = timers === undefined ? undefined : find(timers, timestamp, namespace);
    if (timer === undefined) return false;
    this.beforeChange(timer.keyGroup);
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
    this.beforeChange(head.keyGroup);
    this.forget(head);
    this.removeAt(0);
    return publicTimer(head);
  }

  entriesOfKeyGroup(keyGroup: number): TimerEntry[] {
    const out: StoredTimer[] = [];
    this.visitKeyGroup(keyGroup, (t) => out.push(t));
    return out.sort(compare).map(publicTimer);
  }

  /** Calls `visit` for every timer of one key group (snapshots: `order` sorts a queue's timers back into firing order among equal timestamps). */
  forEachOfKeyGroup(keyGroup: number, visit: (timestamp: number, namespace: Namespace, key: unknown, keyId: KeyId, order: number) => void): void {
    this.visitKeyGroup(keyGroup, (t) => visit(t.timestamp, t.namespace, t.key, t.keyId, t.seq));
  }

  /** Every stored timer of one key group, in no particular order. */
  private visitKeyGroup(keyGroup: number, visit: (timer: StoredTimer) => void): void {
    const group = this.byKeyGroup.get(keyGroup);
    if (group === undefined) return;
    for (const timers of group.values()) {
      if (Array.isArray(timers)) for (const t of timers) visit(t);
      else for (const list of timers.values()) for (const t of list) visit(t);
    }
  }

  entries(): TimerEntry[] {
    return [...this.heap].sort(compare).map(publicTimer);
  }

  /** Removes a timer from its key's timers (not from the heap). */
  private forget(timer: StoredTimer): void {
    const group = this.byKeyGroup.get(timer.keyGroup)!;
    const timers = group.get(timer.keyId)!;
    if (Array.isArray(timers) ? removeFrom(timers, timer) : removeFromIndex(timers, timer)) {
      group.delete(timer.keyId);
      if (group.size === 0) this.byKeyGroup.delete(timer.keyGroup);
    }
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

/** The timer with this timestamp and namespace among one key's timers. */
function find(timers: KeyTimers, timestamp: number, namespace: Namespace): StoredTimer | undefined {
  const list = Array.isArray(timers) ? timers : timers.get(timestamp);
  if (list === undefined) return undefined;
  // === keeps namespace 1 and '1' apart, as key ids keep key 1 and '1' apart.
  for (let i = 0; i < list.length; i++) if (list[i].timestamp === timestamp && list[i].namespace === namespace) return list[i];
  return undefined;
}

function insert(timers: KeyTimers, timer: StoredTimer): void {
  if (Array.isArray(timers)) timers.push(timer);
  else {
    const list = timers.get(timer.timestamp);
    if (list === undefined) timers.set(timer.timestamp, [timer]);
    else list.push(timer);
  }
}

function indexByTimestamp(timers: StoredTimer[], timer: StoredTimer): Map<number, StoredTimer[]> {
  const index = new Map<number, StoredTimer[]>();
  for (const t of timers) insert(index, t);
  insert(index, timer);
  return index;
}

/** Removes `timer` from a key's list; true when the list is then empty. */
function removeFrom(list: StoredTimer[], timer: StoredTimer): boolean {
  if (list.length === 1) return true;
  list.splice(list.indexOf(timer), 1);
  return false;
}

/** Removes `timer` from a key's timestamp index; true when the index is then empty. */
function removeFromIndex(index: Map<number, StoredTimer[]>, timer: StoredTimer): boolean {
  const list = index.get(timer.timestamp)!;
  if (removeFrom(list, timer)) index.delete(timer.timestamp);
  return index.size === 0;
}

function compare(a: StoredTimer, b: StoredTimer): number {
  return a.timestamp - b.timestamp || a.seq - b.seq;
}

function publicTimer(t: StoredTimer): TimerEntry {
  return { timestamp: t.timestamp, key: t.key, namespace: t.namespace };
}
