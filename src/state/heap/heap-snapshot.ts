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
import { BlockWriter, readBlock } from './block-codec.js';

/** Entries encoded between two yields to the event loop. */
const CHUNK = 4096;

/** What the snapshot needs to know of one registered state. */
export interface SnapshotSource {
  descriptor: StateDescriptor;
  table: StateTable<any>;
  ttl: TtlPolicy | undefined;
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
    timerQueues: Array<[string, { entries(): TimerEntry[] }]>,
    private readonly maxParallelism: number,
    now: () => number,
  ) {
    this.barrierTime = now();
    // Synchronous part: O(number of states + timers), no copy of keyed state.
    this.logs = sources.map((s) => {
      const log = new SnapshotLog();
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
      const emit = (namespace: Namespace, id: KeyId, stored: unknown): void => {
        const payload = encode(stored, dropExpired ? this.barrierTime : undefined);
        if (payload === undefined) return;
        blockOf(assignToKeyGroup(keyFromId(id), maxParallelism)).entry(s, namespace, id, payload);
        entries++;
      };
      for (const [namespace, ids, values] of this.lists[s]) {
        for (let i = 0; i < ids.length; i++) {
          emit(namespace, ids[i], values[i]);
          if (++sinceYield >= CHUNK) {
            sinceYield = 0;
            await yieldToEventLoop();
          }
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
      format: 1,
      backend: 'heap',
      maxParallelism: this.maxParallelism,
      states: this.sources.map(({ descriptor, ttl }) => stateMeta(descriptor, ttl !== undefined)),
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

/** Decodes one key group's block; keys come back as the user's keys. */
export function decodeBlock(bytes: Uint8Array): { entries: Array<[number, Namespace, unknown, unknown]>; timers: Array<[number, number, Namespace, unknown, number]> } {
  const block = readBlock(bytes);
  return {
    entries: block.entries.map(([s, ns, id, p]) => [s, ns, keyFromId(id), p]),
    timers: block.timers.map(([q, ts, ns, id, order]) => [q, ts, ns, keyFromId(id), order]),
  };
}
