// Canonical payloads as objects (layout in block-codec.ts): what a state's meta records, whether
// its values are inlined, and the conversion between payloads and the in-memory shapes the heap
// keeps (values, TtlValue wrappers, arrays, Maps keyed by KeyId). Pure.
import { keyFromId } from '../../core/key-decoding.js';
import type { KeyId } from '../../core/key-encoding.js';
import type { MapStateDescriptor, StateDescriptor } from '../descriptors.js';
import type { SnapshotStateMeta } from '../keyed-snapshot.js';
import { serializerIdentity, type TypeSerializer } from '../serde/type-serializer.js';
import type { StateKind } from '../state.js';
import type { TtlPolicy, TtlValue } from '../ttl/ttl-support.js';

/** The identity of the serializer whose values a payload inlines. */
export const INLINED_SERIALIZER = 'msgpack@1';

/** How one state is recorded in a snapshot's metadata. */
export function stateMeta(descriptor: StateDescriptor, ttl: boolean): SnapshotStateMeta {
  const meta: SnapshotStateMeta = { name: descriptor.name, kind: descriptor.kind, serializer: serializerIdentity(descriptor.serializer), ttl };
  if (descriptor.kind === 'map') meta.keySerializer = serializerIdentity((descriptor as MapStateDescriptor<unknown, unknown>).keySerializer);
  return meta;
}

/**
 * True when the payloads of a state with these serializer identities hold values themselves
 * (msgpack@1, the default, for the value and, for map state, the key): the block encodes them
 * with the same msgpack options, so there are no per-value byte arrays.
 */
export function inlinesValues(meta: Pick<SnapshotStateMeta, 'kind' | 'serializer' | 'keySerializer'>): boolean {
  return meta.serializer === INLINED_SERIALIZER && (meta.kind !== 'map' || meta.keySerializer === INLINED_SERIALIZER);
}

function descriptorInlines(descriptor: StateDescriptor): boolean {
  return inlinesValues(stateMeta(descriptor, false));
}

/**
 * Encodes one stored heap value with the descriptor's serializers into its payload. With `now`,
 * expired values, elements and entries are left out (cleanup on full snapshot); returns undefined
 * when nothing is left.
 */
export function payloadEncoder(descriptor: StateDescriptor, ttl: TtlPolicy | undefined): (stored: any, now: number | undefined) => unknown {
  const ser = descriptor.serializer as TypeSerializer<unknown>;
  const alive = (e: TtlValue<unknown>, now: number | undefined) => now === undefined || !ttl!.isExpired(e, now);
  if (descriptorInlines(descriptor)) return rawPayload(descriptor.kind, ttl, alive);
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

/** The stored structure itself (map entries as [user key id, value] pairs). */
function rawPayload(kind: StateKind, ttl: TtlPolicy | undefined, alive: (e: TtlValue<unknown>, now: number | undefined) => boolean) {
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

/** Decodes a payload (of a state recorded with or without `ttl`) back into what the heap stores for this kind. */
export function payloadDecoder(descriptor: StateDescriptor, ttl: boolean, toId: (userKey: unknown) => KeyId): (payload: any) => unknown {
  const ser = descriptor.serializer as TypeSerializer<unknown>;
  if (descriptorInlines(descriptor)) return descriptor.kind === 'map' ? (p: Array<[KeyId, unknown]>) => new Map(p) : (p: unknown) => p;
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
