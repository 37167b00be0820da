// Snapshots of the heap backend: the synchronous part copies each table's key and value
// references, marks every key group's timers pending (pending-parts.ts: a group's timers are read
// when the writer gets to them, or just before a record changes one, so no timer is copied or
// sorted here) and registers a copy-on-access log (entries touched later are encoded before they
// change); the asynchronous part encodes one block per key group in the
// canonical format (snapshot-format/), yielding to the event loop between chunks so records keep
// flowing. Checkpoints and canonical snapshots are the same bytes. Also the decoding side. No I/O.
import { keyFromId } from '../../core/key-decoding.js';
import type { KeyId } from '../../core/key-encoding.js';
import { assignToKeyGroup } from '../../core/key-groups.js';
import type { StateDescriptor } from '../descriptors.js';
import type { KeyedSnapshotMeta, KeyedSnapshotResult, KeyedSnapshotRunner, SnapshotStateMeta } from '../keyed-snapshot.js';
import type { Namespace } from '../keyed-state-backend.js';
import { BLOCK_FORMAT, BlockWriter, packPayload, readBlock } from '../snapshot-format/block-codec.js';
import { payloadEncoder, stateMeta } from '../snapshot-format/payload-codec.js';
import { CANONICAL_BACKEND } from '../snapshot-format/snapshot-labels.js';
import type { TtlPolicy } from '../ttl/ttl-support.js';
import type { HeapTimerQueue } from './heap-timer-queue.js';
import type { PendingParts } from './pending-parts.js';
import { SnapshotLog, type StateTable } from './state-table.js';
import { TimerSnapshot } from './timer-snapshot.js';

/** Entries encoded between two yields to the event loop. */
const CHUNK = 4096;

/** What the snapshot needs to know of one registered state. */
export interface SnapshotSource {
  descriptor: StateDescriptor;
  table: StateTable<any>;
  ttl: TtlPolicy | undefined;
}

/**
 * Restored entries of a state that no descriptor has claimed yet, kept as the block payloads they
 * were read as, so every later snapshot carries them unchanged (Flink's
 * testSnapshotNonAccessedState). `heldBy` counts the snapshots that still refer to `entries`:
 * while it is above zero, claiming the state must not hand these payload objects to the live table.
 */
export interface UnclaimedState {
  meta: SnapshotStateMeta;
  entries: Array<[Namespace, KeyId, unknown]>;
  heldBy: number;
}


export class HeapSnapshotRunner implements KeyedSnapshotRunner {
  private readonly logs: SnapshotLog[];
  /** The timers, read key group by key group. */
  private readonly timers: TimerSnapshot;
  /** Milliseconds the task's thread spent writing after the barrier (the barrier is the task's sync phase). */
  private cpuMs = 0;
  /** Per state, per namespace: the keys and values (references) when the snapshot was taken. */
  private readonly lists: Array<Array<[Namespace, KeyId[], unknown[]]>>;
  private released = false;
  /** Entries encoded so far and in all (progress reports; updated between chunks). */
  private encoded = 0;
  private total = 1;
  /** TTL time at the barrier: cleanup on full snapshot drops what had expired then, not when the snapshot is written. */
  private readonly barrierTime: number;

  constructor(
    private readonly sources: SnapshotSource[],
    /** Restored states nobody registered: written as they were read. */
    private readonly unclaimed: UnclaimedState[],
    /** The timer queues by name, and the key groups whose timers running snapshots have not read yet. */
    private readonly timerQueues: Array<[string, HeapTimerQueue]>,
    private readonly pendingTimers: PendingParts,
    private readonly firstKeyGroup: number,
    private readonly maxParallelism: number,
    now: () => number,
    /** Labels the snapshot canonical (a savepoint) instead of heap: the bytes are the same. */
    private readonly canonical = false,
  ) {
    for (const u of unclaimed) u.heldBy++;
    this.barrierTime = now();
    // Synchronous part: O(number of states + timers), no copy of keyed state.
    this.logs = sources.map((s) => {
      const encode = payloadEncoder(s.descriptor, s.ttl);
      const dropExpired = s.ttl !== undefined && s.ttl.config.cleanupFullSnapshot;
      const log = new SnapshotLog((stored) => {
        const payload = encode(stored, dropExpired ? this.barrierTime : undefined);
        return payload === undefined ? null : packPayload(payload);
      });
      s.table.snapshots.push(log);
      return log;
    });
    this.timers = new TimerSnapshot(
      timerQueues.map(([, queue]) => queue),
      pendingTimers,
      firstKeyGroup,
    );
    // The only O(entries) work here: native copies of each map's key and value references (no
    // value is copied; objects touched later are replaced by copies in the live table instead).
    this.lists = sources.map((s) =>
      [...s.table.namespaces].map(([ns, map]) => [ns, Array.from(map.keys()), Array.from(map.values())] as [Namespace, KeyId[], unknown[]]),
    );
  }

  async write(): Promise<KeyedSnapshotResult> {
    let sliceStarted = performance.now();
    // Lets records run; counts the slice of work before it.
    const pause = async (): Promise<void> => {
      this.cpuMs += performance.now() - sliceStarted;
      await yieldToEventLoop();
      sliceStarted = performance.now();
    };
    const blocks: Array<BlockWriter | undefined> = [];
    // Size each block for its share of the entries up front, so blocks rarely grow by copying.
    let total = 0;
    for (const lists of this.lists) for (const [, ids] of lists) total += ids.length;
    this.total = Math.max(1, total + this.unclaimed.reduce((n, u) => n + u.entries.length, 0));
    const initialBlockBytes = Math.min(1 << 20, Math.max(4096, Math.ceil((total / Math.min(this.maxParallelism, Math.max(1, total))) * 24)));
    const blockOf = (keyGroup: number): BlockWriter => blocks[keyGroup] ?? (blocks[keyGroup] = new BlockWriter(initialBlockBytes));
    let entries = 0;
    let sinceYield = 0;
    const maxParallelism = this.maxParallelism;
    for (let s = 0; s < this.sources.length; s++) {
      const { descriptor, ttl } = this.sources[s];
      const encode = payloadEncoder(descriptor, ttl);
      const dropExpired = ttl !== undefined && ttl.config.cleanupFullSnapshot;
      const log = this.logs[s];
      const emit = (namespace: Namespace, id: KeyId, stored: unknown, saved: Map<KeyId, [object, Uint8Array | null]> | undefined): void => {
        // An entry the live table touched since the barrier was encoded then (when it still held this object).
        const early = saved?.get(id);
        if (early !== undefined && early[0] === stored) {
          if (early[1] === null) return;
          blockOf(assignToKeyGroup(keyFromId(id), maxParallelism)).packedEntry(s, namespace, id, early[1]);
          entries++;
          return;
        }
        const payload = encode(stored, dropExpired ? this.barrierTime : undefined);
        if (payload === undefined) return;
        blockOf(assignToKeyGroup(keyFromId(id), maxParallelism)).entry(s, namespace, id, payload);
        entries++;
      };
      for (const [namespace, ids, values] of this.lists[s]) {
        // Entries are saved only while processing runs, that is during the yields below.
        let saved = log.saved.get(namespace);
        for (let i = 0; i < ids.length; i++) {
          emit(namespace, ids[i], values[i], saved);
          if (++sinceYield >= CHUNK) {
            sinceYield = 0;
            this.encoded = entries;
            await pause();
            saved = log.saved.get(namespace);
          }
        }
      }
      if (log.error !== undefined) {
        this.release();
        throw log.error;
      }
    }
    for (let u = 0; u < this.unclaimed.length; u++) {
      const s = this.sources.length + u;
      for (const [namespace, id, payload] of this.unclaimed[u].entries) {
        blockOf(assignToKeyGroup(keyFromId(id), maxParallelism)).entry(s, namespace, id, payload);
        entries++;
        if (++sinceYield >= CHUNK) {
          sinceYield = 0;
          this.encoded = entries;
          await pause();
        }
      }
    }
    // Timers records had read before changing them (outside the slices timed here)...
    this.cpuMs += this.timers.cpuMs;
    // ...and the rest now (nothing can change them before this turn ends).
    for (let group = 0; group < this.pendingTimers.size; group++)
      for (const [q, timestamp, namespace, , id, order] of this.timers.group(group)) blockOf(this.firstKeyGroup + group).timer(q, timestamp, namespace, id, order);
    this.encoded = this.total;
    this.release();
    const queueNames = this.timerQueues.map(([name]) => name);
    const meta: KeyedSnapshotMeta = {
      format: BLOCK_FORMAT,
      backend: this.canonical ? CANONICAL_BACKEND : 'heap',
      maxParallelism: this.maxParallelism,
      states: [...this.sources.map(({ descriptor, ttl }) => stateMeta(descriptor, ttl !== undefined)), ...this.unclaimed.map((u) => u.meta)],
      timerQueues: queueNames,
      keyGroups: [],
      entries,
    };
    const data: Uint8Array[] = [];
    let offset = 0;
    for (let keyGroup = 0; keyGroup < blocks.length; keyGroup++) {
      const block = blocks[keyGroup];
      if (block === undefined) continue;
      const bytes = block.finish();
      meta.keyGroups.push([keyGroup, offset, bytes.length]);
      data.push(bytes);
      offset += bytes.length;
      if (++sinceYield >= 64) {
        sinceYield = 0;
        await pause();
      }
    }
    this.cpuMs += performance.now() - sliceStarted;
    return { meta, data, bytes: offset, cpuMs: this.cpuMs };
  }

  progress(): number {
    return Math.min(1, this.encoded / this.total);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const u of this.unclaimed) u.heldBy--;
    this.sources.forEach((s, i) => {
      const at = s.table.snapshots.indexOf(this.logs[i]);
      if (at >= 0) s.table.snapshots.splice(at, 1);
    });
    this.timers.release();
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Decodes one key group's block written in `format`; entries keep their key ids, timers come back with the user's keys. */
export function decodeBlock(
  bytes: Uint8Array,
  format: number,
): { entries: Array<[number, Namespace, KeyId, unknown]>; timers: Array<[number, number, Namespace, unknown, number]> } {
  const block = readBlock(bytes, format);
  return {
    entries: block.entries,
    timers: block.timers.map(([q, ts, ns, id, order]) => [q, ts, ns, keyFromId(id), order]),
  };
}
