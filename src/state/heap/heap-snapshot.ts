// Snapshots of the heap backend: the synchronous part registers a copy-on-access log with every
// state table and copies the (small) timer queues; the asynchronous part walks the live tables,
// reading logged originals where entries changed since, and encodes one block per key group,
// yielding to the event loop between chunks so records keep flowing. Also the decoding side.
import { Packr } from 'msgpackr';
import { decodeKey, encodeKey, type KeyId, keyFromId } from '../../core/key-encoding.js';
import { assignToKeyGroup } from '../../core/key-groups.js';
import type { StateDescriptor, MapStateDescriptor } from '../descriptors.js';
import type { KeyedSnapshotMeta, KeyedSnapshotResult, KeyedSnapshotRunner, SnapshotStateMeta } from '../keyed-snapshot.js';
import type { Namespace, TimerEntry } from '../keyed-state-backend.js';
import { serializerIdentity, type TypeSerializer } from '../serde/type-serializer.js';
import type { TtlPolicy, TtlValue } from '../ttl/ttl-support.js';
import { ABSENT, SnapshotLog, type StateTable, WRITTEN } from './state-table.js';

/** Entries encoded between two yields to the event loop. */
const CHUNK = 4096;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** What the snapshot needs to know of one registered state. */
export interface SnapshotSource {
  descriptor: StateDescriptor;
  table: StateTable<any>;
  ttl: TtlPolicy | undefined;
}

/** One key group's block: state entries [stateIndex, namespace, key bytes, payload] and timers [queueIndex, timestamp, namespace, key bytes, firing order]. */
interface Block {
  e: Array<[number, Namespace, Uint8Array, unknown]>;
  t: Array<[number, number, Namespace, Uint8Array, number]>;
}

export class HeapSnapshotRunner implements KeyedSnapshotRunner {
  private readonly logs: SnapshotLog<any>[];
  private readonly timers: Array<[string, TimerEntry[]]>;
  private released = false;

  constructor(
    private readonly sources: SnapshotSource[],
    timerQueues: Array<[string, { entries(): TimerEntry[] }]>,
    private readonly maxParallelism: number,
    private readonly now: () => number,
  ) {
    // Synchronous part: O(number of states + timers), no copy of keyed state.
    this.logs = sources.map((s) => {
      const log = new SnapshotLog<any>();
      s.table.snapshots.push(log);
      return log;
    });
    this.timers = timerQueues.map(([name, q]) => [name, q.entries()]);
  }

  async write(): Promise<KeyedSnapshotResult> {
    const blocks = new Map<number, Block>();
    const blockOf = (keyGroup: number): Block => {
      let b = blocks.get(keyGroup);
      if (b === undefined) blocks.set(keyGroup, (b = { e: [], t: [] }));
      return b;
    };
    let entries = 0;
    let sinceYield = 0;
    const keyCache = new Map<KeyId, [number, Uint8Array]>();
    const keyInfo = (id: KeyId): [number, Uint8Array] => {
      let info = keyCache.get(id);
      if (info === undefined) {
        const key = keyFromId(id);
        info = [assignToKeyGroup(key, this.maxParallelism), encodeKey(key)];
        keyCache.set(id, info);
      }
      return info;
    };
    for (let s = 0; s < this.sources.length; s++) {
      const { descriptor, table, ttl } = this.sources[s];
      const log = this.logs[s];
      const encode = payloadEncoder(descriptor, ttl);
      const dropExpired = ttl !== undefined && ttl.config.cleanupFullSnapshot;
      const emit = (namespace: Namespace, id: KeyId, stored: unknown): void => {
        const payload = encode(stored, dropExpired ? this.now() : undefined);
        if (payload === undefined) return;
        const [keyGroup, keyBytes] = keyInfo(id);
        blockOf(keyGroup).e.push([s, namespace, keyBytes, payload]);
        entries++;
      };
      for (const [namespace, map] of [...table.namespaces]) {
        let saved = log.saved.get(namespace);
        if (saved === undefined) log.saved.set(namespace, (saved = new Map()));
        for (const [id, live] of map) {
          const original = saved.get(id);
          // Mark it written: a later change then needs no saving (and it is never written twice).
          if (original === undefined) {
            saved.set(id, WRITTEN);
            emit(namespace, id, live);
          } else if (original !== WRITTEN) {
            saved.set(id, WRITTEN);
            if (original !== ABSENT) emit(namespace, id, original);
          }
          if (++sinceYield >= CHUNK) {
            sinceYield = 0;
            await yieldToEventLoop();
          }
        }
      }
      // Entries changed and then removed before the walk reached them: only the log has them.
      for (const [namespace, saved] of log.saved)
        for (const [id, original] of saved) if (original !== ABSENT && original !== WRITTEN) emit(namespace, id, original);
    }
    this.release();
    const queueNames = this.timers.map(([name]) => name);
    for (let q = 0; q < this.timers.length; q++)
      this.timers[q][1].forEach((timer, order) => {
        const keyGroup = assignToKeyGroup(timer.key, this.maxParallelism);
        blockOf(keyGroup).t.push([q, timer.timestamp, timer.namespace, encodeKey(timer.key), order]);
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
    for (const keyGroup of [...blocks.keys()].sort((a, b) => a - b)) {
      const bytes = packr.pack(blocks.get(keyGroup));
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

/** Decodes a payload back into what the heap table stores for this kind. */
export function payloadDecoder(descriptor: StateDescriptor, ttl: boolean, toId: (userKey: unknown) => KeyId): (payload: any) => unknown {
  const ser = descriptor.serializer as TypeSerializer<unknown>;
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

/** Decodes one key group's block. */
export function decodeBlock(bytes: Uint8Array): { entries: Array<[number, Namespace, unknown, unknown]>; timers: Array<[number, number, Namespace, unknown, number]> } {
  const block = packr.unpack(bytes) as Block;
  return {
    entries: block.e.map(([s, ns, k, p]) => [s, ns, decodeKey(k), p]),
    timers: block.t.map(([q, ts, ns, k, order]) => [q, ts, ns, decodeKey(k), order]),
  };
}
