// Snapshots of the heap backend: the synchronous part copies each table's key and value
// references and the timer queues, and registers a copy-on-access log (object values touched
// later get private copies in the live table); the asynchronous part encodes one block per key group,
// yielding to the event loop between chunks so records keep flowing. Also the decoding side.
import { keyFromId } from '../../core/key-decoding.js';
import { type KeyId, keyId } from '../../core/key-encoding.js';
import { assignToKeyGroup } from '../../core/key-groups.js';
import type { StateDescriptor, MapStateDescriptor } from '../descriptors.js';
import type { KeyedSnapshotMeta, KeyedSnapshotResult, KeyedSnapshotRunner, SnapshotStateMeta } from '../keyed-snapshot.js';
import type { Namespace, TimerEntry } from '../keyed-state-backend.js';
import { serializerIdentity, type TypeSerializer } from '../serde/type-serializer.js';
import type { TtlPolicy, TtlValue } from '../ttl/ttl-support.js';
import { SnapshotLog, type StateTable } from './state-table.js';
import { BLOCK_FORMAT, BlockWriter, packPayload, readBlock } from './block-codec.js';

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
  private readonly timers: Array<[string, TimerEntry[]]>;
  /** Per state, per namespace: the keys and values (references) when the snapshot was taken. */
  private readonly lists: Array<Array<[Namespace, KeyId[], unknown[]]>>;
  private released = false;
  /** TTL time at the barrier: cleanup on full snapshot drops what had expired then, not when the snapshot is written. */
  private readonly barrierTime: number;

  constructor(
    private readonly sources: SnapshotSource[],
    /** Restored states nobody registered: written as they were read. */
    private readonly unclaimed: UnclaimedState[],
    timerQueues: Array<[string, { entries(): TimerEntry[] }]>,
    private readonly maxParallelism: number,
    now: () => number,
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
    this.timers = timerQueues.map(([name, q]) => [name, q.entries()]);
    // The only O(entries) work here: native copies of each map's key and value references (no
    // value is copied; objects touched later are replaced by copies in the live table instead).
    this.lists = sources.map((s) =>
      [...s.table.namespaces].map(([ns, map]) => [ns, Array.from(map.keys()), Array.from(map.values())] as [Namespace, KeyId[], unknown[]]),
    );
  }

  async write(): Promise<KeyedSnapshotResult> {
    const blocks: Array<BlockWriter | undefined> = [];
    // Size each block for its share of the entries up front, so blocks rarely grow by copying.
    let total = 0;
    for (const lists of this.lists) for (const [, ids] of lists) total += ids.length;
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
            await yieldToEventLoop();
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
          await yieldToEventLoop();
        }
      }
    }
    this.release();
    const queueNames = this.timers.map(([name]) => name);
    for (let q = 0; q < this.timers.length; q++)
      this.timers[q][1].forEach((timer, order) => {
        const keyGroup = assignToKeyGroup(timer.key, this.maxParallelism);
        blockOf(keyGroup).timer(q, timer.timestamp, timer.namespace, keyId(timer.key), order);
      });
    const meta: KeyedSnapshotMeta = {
      format: BLOCK_FORMAT,
      backend: 'heap',
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
        await yieldToEventLoop();
      }
    }
    return { meta, data, bytes: offset };
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const u of this.unclaimed) u.heldBy--;
    this.sources.forEach((s, i) => {
      const at = s.table.snapshots.indexOf(this.logs[i]);
      if (at >= 0) s.table.snapshots.splice(at, 1);
    });
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function stateMeta(descriptor: StateDescriptor, ttl: boolean): SnapshotStateMeta {
  const meta: SnapshotStateMeta = { name: descriptor.name, kind: descriptor.kind, serializer: serializerIdentity(descriptor.serializer), ttl };
  if (descriptor.kind === 'map') meta.keySerializer = serializerIdentity((descriptor as MapStateDescriptor<unknown, unknown>).keySerializer);
  return meta;
}

/**
 * Encodes one stored value with the descriptor's serializers. With `now`, expired values,
 * elements and entries are left out (cleanup on full snapshot); returns undefined when nothing is left.
 */
function payloadEncoder(descriptor: StateDescriptor, ttl: TtlPolicy | undefined): (stored: any, now: number | undefined) => unknown {
  const ser = descriptor.serializer as TypeSerializer<unknown>;
  const alive = (e: TtlValue<unknown>, now: number | undefined) => now === undefined || !ttl!.isExpired(e, now);
  if (inlinesValues(descriptor)) return rawPayload(descriptor.kind, ttl, alive);
  switch (descriptor.kind) {
    case 'list':
      if (ttl === undefined) return (stored: unknown[]) => stored.map((v) => ser.serialize(v));
      return (stored: TtlValue<unknown>[], now) => {
        const out = stored.filter((e) => alive(e, now)).map((e) => [ser.serialize(e.v), e.t]);
        return out.length === 0 ? undefined : out;
      };
    case 'map': {
      const keySer = (descriptor as MapStateDescriptor<unknown, unknown>).keySerializer as TypeSerializer<unknown>;
      if (ttl === undefined) return (stored: Map<KeyId, unknown>) => [...stored].map(([k, v]) => [keySer.serialize(keyFromId(k)), ser.serialize(v)]);
      return (stored: Map<KeyId, TtlValue<unknown>>, now) => {
        const out = [...stored].filter(([, e]) => alive(e, now)).map(([k, e]) => [keySer.serialize(keyFromId(k)), ser.serialize(e.v), e.t]);
        return out.length === 0 ? undefined : out;
      };
    }
    default:
      if (ttl === undefined) return (stored: unknown) => ser.serialize(stored);
      return (stored: TtlValue<unknown>, now) => (alive(stored, now) ? [ser.serialize(stored.v), stored.t] : undefined);
  }
}

/**
 * With the msgpack serializer (the default) values go into the block as they are stored: the
 * block encodes them with the same msgpack options, so there are no per-value byte arrays.
 */
function inlinesValues(descriptor: StateDescriptor): boolean {
  const ids = [descriptor.serializer, ...(descriptor.kind === 'map' ? [(descriptor as MapStateDescriptor<unknown, unknown>).keySerializer] : [])].map(
    (s) => serializerIdentity(s as TypeSerializer<unknown>),
  );
  return ids.every((id) => id === 'msgpack@1');
}

/** The stored structure itself (map entries as [user key id, value] pairs). */
function rawPayload(kind: StateDescriptor['kind'], ttl: TtlPolicy | undefined, alive: (e: TtlValue<unknown>, now: number | undefined) => boolean) {
  if (ttl === undefined) return kind === 'map' ? (stored: Map<KeyId, unknown>) => [...stored] : (stored: unknown) => stored;
  return (stored: any, now: number | undefined): unknown => {
    if (now === undefined) return kind === 'map' ? [...stored] : stored;
    if (kind === 'list') {
      const live = (stored as TtlValue<unknown>[]).filter((e) => alive(e, now));
      return live.length === 0 ? undefined : live;
    }
    if (kind === 'map') {
      const live = [...(stored as Map<KeyId, TtlValue<unknown>>)].filter(([, e]) => alive(e, now));
      return live.length === 0 ? undefined : live;
    }
    return alive(stored, now) ? stored : undefined;
  };
}

/** Decodes a payload back into what the heap table stores for this kind. */
export function payloadDecoder(descriptor: StateDescriptor, ttl: boolean, toId: (userKey: unknown) => KeyId): (payload: any) => unknown {
  const ser = descriptor.serializer as TypeSerializer<unknown>;
  if (inlinesValues(descriptor)) return descriptor.kind === 'map' ? (p: Array<[KeyId, unknown]>) => new Map(p) : (p: unknown) => p;
  switch (descriptor.kind) {
    case 'list':
      return ttl
        ? (p: Array<[Uint8Array, number]>) => p.map(([b, t]) => ({ v: ser.deserialize(b), t }))
        : (p: Uint8Array[]) => p.map((b) => ser.deserialize(b));
    case 'map': {
      const keySer = (descriptor as MapStateDescriptor<unknown, unknown>).keySerializer as TypeSerializer<unknown>;
      return ttl
        ? (p: Array<[Uint8Array, Uint8Array, number]>) => new Map(p.map(([k, v, t]) => [toId(keySer.deserialize(k)), { v: ser.deserialize(v), t }]))
        : (p: Array<[Uint8Array, Uint8Array]>) => new Map(p.map(([k, v]) => [toId(keySer.deserialize(k)), ser.deserialize(v)]));
    }
    default:
      return ttl ? (p: [Uint8Array, number]) => ({ v: ser.deserialize(p[0]), t: p[1] }) : (p: Uint8Array) => ser.deserialize(p);
  }
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
