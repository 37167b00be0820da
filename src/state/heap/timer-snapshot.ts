// The timers of one snapshot, read key group by key group (no I/O): a key group's timers are read
// when the writer gets to them, or just before a record adds, removes or fires one of them
// (pending-parts.ts), so the barrier neither copies nor sorts the timer queues. Used by the heap
// and the disk backend, whose timers both live in HeapTimerQueues.
import type { KeyId } from '../../core/key-encoding.js';
import type { Namespace, TimerEntry } from '../keyed-state-backend.js';
import type { HeapTimerQueue } from './heap-timer-queue.js';
import type { PendingParts } from './pending-parts.js';

/** One timer as a snapshot holds it: queue index, timestamp, namespace, key, key id, order of registration. */
export type TimerRow = [queue: number, timestamp: number, namespace: Namespace, key: unknown, keyId: KeyId, order: number];

/**
 * The hook a backend gives its timer queues: before a timer of a key group changes, the running
 * snapshots that have not read that key group's timers read them.
 */
export function beforeTimerChange(pending: PendingParts, firstKeyGroup: number): (keyGroup: number) => void {
  return (keyGroup) => {
    if (pending.active) pending.touch(keyGroup - firstKeyGroup);
  };
}

export class TimerSnapshot {
  /** Per key group index: its timers once read. */
  private readonly groups: Array<TimerRow[] | undefined>;
  private released = false;
  /** Milliseconds spent reading timers (the task's thread). */
  cpuMs = 0;

  constructor(
    private readonly queues: HeapTimerQueue[],
    private readonly pending: PendingParts,
    private readonly firstKeyGroup: number,
  ) {
    this.groups = new Array<TimerRow[] | undefined>(pending.size).fill(undefined);
    pending.start(this.read);
  }

  /** Reads key group index `group` as it is now: before the first change to its timers after the barrier. */
  private readonly read = (group: number): void => {
    if (this.groups[group] !== undefined) return;
    const started = performance.now();
    const rows: TimerRow[] = [];
    this.queues.forEach((queue, q) =>
      queue.forEachOfKeyGroup(this.firstKeyGroup + group, (timestamp, namespace, key, id, order) => rows.push([q, timestamp, namespace, key, id, order])),
    );
    this.groups[group] = rows;
    if (!this.released) this.pending.done(group); // a released snapshot no longer counts in the pending set
    this.cpuMs += performance.now() - started;
  };

  /** The timers of key group index `group` at the barrier (read now when they were not yet). */
  group(group: number): TimerRow[] {
    this.read(group);
    return this.groups[group]!;
  }

  /** Per queue, every timer of the barrier in firing order (the order of equal timestamps kept). */
  byQueue(): TimerEntry[][] {
    const rows: TimerRow[] = [];
    for (let group = 0; group < this.groups.length; group++) rows.push(...this.group(group));
    rows.sort((a, b) => a[1] - b[1] || a[5] - b[5]);
    const out: TimerEntry[][] = this.queues.map(() => []);
    for (const [q, timestamp, namespace, key] of rows) out[q].push({ timestamp, key, namespace });
    return out;
  }

  /** The snapshot is done or given up: records stop reading timers for it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const unread: number[] = [];
    for (let group = 0; group < this.groups.length; group++) if (this.groups[group] === undefined) unread.push(group);
    this.pending.stop(this.read, unread);
  }
}
