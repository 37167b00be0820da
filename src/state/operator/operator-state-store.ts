// Operator (non-keyed) state of one operator instance: even-split list state, union list state,
// broadcast state and raw bytes. Snapshots encode every element on its own, so redistribution
// can move elements between instances. No I/O.
import { FloeError } from '../../core/errors.js';
import type { ListStateDescriptor, MapStateDescriptor, StateDescriptor } from '../descriptors.js';
import { serializerIdentity, type TypeSerializer } from '../serde/type-serializer.js';
import type { ListState, MapState } from '../state.js';

export type OperatorStateMode = 'split' | 'union' | 'broadcast';

/** One named operator state in a snapshot. */
export interface OperatorStateSnapshotEntry {
  mode: OperatorStateMode;
  serializer: string;
  /** List elements, or broadcast entries as [key, value] pairs, each serialized on its own. */
  elements: Uint8Array[];
}

/** The operator state of one instance at one checkpoint. */
export interface OperatorStateSnapshot {
  states: Record<string, OperatorStateSnapshotEntry>;
  raw?: Uint8Array;
}

interface Registered {
  mode: OperatorStateMode;
  descriptor: StateDescriptor;
  list?: unknown[];
  map?: Map<unknown, unknown>;
}

export class OperatorStateStore {
  private readonly states = new Map<string, Registered>();
  private raw: Uint8Array | undefined;
  private restored: OperatorStateSnapshot[] = [];
  private isRestoredFlag = false;

  constructor(private readonly place: string) {}

  /** Loads the parts redistributed to this instance (see checkpoint/redistribution). */
  restore(parts: OperatorStateSnapshot[]): void {
    this.restored = parts;
    this.isRestoredFlag = true;
    const raws = parts.map((p) => p.raw).filter((r): r is Uint8Array => r !== undefined);
    this.raw = raws[0];
  }

  isRestored(): boolean {
    return this.isRestoredFlag;
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.listState(descriptor, 'split');
  }

  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.listState(descriptor, 'union');
  }

  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    const r = this.register(descriptor, 'broadcast', () => {
      const map = new Map<unknown, unknown>();
      for (const e of this.restoredElements(descriptor.name, 'broadcast', descriptor)) {
        const [k, v] = descriptor.serializer.deserialize(e) as [K, V];
        map.set(k, v);
      }
      return { map };
    });
    return broadcastHandle(r.map as Map<K, V>);
  }

  setRawState(bytes: Uint8Array | undefined): void {
    this.raw = bytes;
  }

  getRawState(): Uint8Array | undefined {
    return this.raw;
  }

  /** Encodes every state now (the synchronous part of a checkpoint). */
  snapshot(): OperatorStateSnapshot {
    const states: Record<string, OperatorStateSnapshotEntry> = {};
    for (const [name, r] of this.states) {
      const ser = r.descriptor.serializer as TypeSerializer<unknown>;
      const elements = r.mode === 'broadcast' ? [...r.map!].map((pair) => ser.serialize(pair)) : r.list!.map((v) => ser.serialize(v));
      states[name] = { mode: r.mode, serializer: serializerIdentity(ser), elements };
    }
    // States restored but not registered again this run are carried over, not silently dropped.
    for (const part of this.restored)
      for (const [name, entry] of Object.entries(part.states)) if (!this.states.has(name) && states[name] === undefined) states[name] = entry;
    return this.raw === undefined ? { states } : { states, raw: this.raw };
  }

  /** Inspection: the elements of a list state or the entries of a broadcast state. */
  entries(name: string): unknown[] {
    const r = this.states.get(name);
    if (r === undefined) return [];
    return r.mode === 'broadcast' ? [...r.map!] : [...r.list!];
  }

  private listState<T>(descriptor: ListStateDescriptor<T>, mode: 'split' | 'union'): ListState<T> {
    const r = this.register(descriptor, mode, () => ({
      list: this.restoredElements(descriptor.name, mode, descriptor).map((e) => descriptor.serializer.deserialize(e)),
    }));
    return listHandle<T>(r, `${this.place}, operator state '${descriptor.name}'`);
  }

  private restoredElements(name: string, mode: OperatorStateMode, descriptor: StateDescriptor): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const part of this.restored) {
      const entry = part.states[name];
      if (entry === undefined) continue;
      if (entry.mode !== mode || entry.serializer !== serializerIdentity(descriptor.serializer))
        throw new FloeError(
          'STATE_TYPE_MISMATCH',
          `${this.place}: operator state '${name}' was checkpointed as ${entry.mode} state with ${entry.serializer}, the job now asks for ${mode} state with ${serializerIdentity(descriptor.serializer)}. Keep the old descriptor or use a new name.`,
        );
      out.push(...entry.elements);
      if (mode === 'broadcast') break; // every copy is the same; one is enough
    }
    return out;
  }

  private register(descriptor: StateDescriptor, mode: OperatorStateMode, create: () => Partial<Registered>): Registered {
    const existing = this.states.get(descriptor.name);
    if (existing !== undefined) {
      if (existing.mode !== mode || serializerIdentity(existing.descriptor.serializer) !== serializerIdentity(descriptor.serializer))
        throw new FloeError(
          'STATE_TYPE_MISMATCH',
          `${this.place}: operator state '${descriptor.name}' is already registered as ${existing.mode} state with ${serializerIdentity(existing.descriptor.serializer)}; use another name`,
        );
      return existing;
    }
    const r: Registered = { mode, descriptor, ...create() };
    this.states.set(descriptor.name, r);
    return r;
  }
}

function listHandle<T>(r: Registered, place: string): ListState<T> {
  const check = (v: T) => {
    if (v === undefined || v === null) throw new FloeError('INVALID_ARGUMENT', `${place}: list state elements may not be ${v}`);
  };
  return {
    get: () => [...(r.list as T[])],
    add: (v) => {
      check(v);
      (r.list as T[]).push(v);
    },
    addAll: (vs) => {
      for (const v of vs) {
        check(v);
        (r.list as T[]).push(v);
      }
    },
    update: (vs) => {
      const items = [...vs];
      items.forEach(check);
      r.list = items;
    },
    clear: () => {
      r.list = [];
    },
  };
}

function broadcastHandle<K, V>(map: Map<K, V>): MapState<K, V> {
  return {
    get: (k) => map.get(k),
    put: (k, v) => void map.set(k, v),
    putAll: (entries) => {
      for (const [k, v] of entries as Iterable<readonly [K, V]>) map.set(k, v);
    },
    remove: (k) => void map.delete(k),
    contains: (k) => map.has(k),
    entries: () => map.entries(),
    keys: () => map.keys(),
    values: () => map.values(),
    isEmpty: () => map.size === 0,
    clear: () => map.clear(),
  };
}
