// How state values become bytes (for snapshots and the disk backend). Heap state never
// serializes on access; the serializer's identity still guards state against type changes.
import { Packr } from 'msgpackr';

/**
 * Turns values of one type into bytes and back. `id` and `version` are recorded with every
 * snapshot so a restore can tell whether the bytes are still readable.
 */
export interface TypeSerializer<T> {
  /** Stable identity, for example `'msgpack'` or `'json'` or a user's `'order-v2'`. */
  readonly id: string;
  /** Bumped when the byte format changes. */
  readonly version: number;
  serialize(value: T): Uint8Array;
  deserialize(bytes: Uint8Array): T;
}

/**
 * The default serializer: msgpack (msgpackr) without shared structures, so bytes are
 * self-describing and survive process restarts. Handles plain objects, arrays, strings,
 * numbers, bigints, booleans, null, Map, Set, Date and binary.
 */
/** msgpackr options of the default serializer; snapshots that inline msgpack values use the same. */
export const MSGPACK_OPTIONS = { useRecords: false, moreTypes: true, largeBigIntToFloat: false } as const;

export class MsgpackSerializer<T = unknown> implements TypeSerializer<T> {
  readonly id = 'msgpack';
  readonly version = 1;
  private readonly packr = new Packr(MSGPACK_OPTIONS);

  serialize(value: T): Uint8Array {
    return this.packr.pack(value);
  }

  deserialize(bytes: Uint8Array): T {
    return this.packr.unpack(bytes) as T;
  }
}

/** JSON as UTF-8; readable in a hex dump, slower than msgpack, loses bigint/Map/Set. */
export class JsonSerializer<T = unknown> implements TypeSerializer<T> {
  readonly id = 'json';
  readonly version = 1;

  serialize(value: T): Uint8Array {
    return Buffer.from(JSON.stringify(value), 'utf8');
  }

  deserialize(bytes: Uint8Array): T {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T;
  }
}

/** The serializer used when a descriptor names none. Shared: it holds no per-state data. */
export const defaultSerializer: TypeSerializer<unknown> = new MsgpackSerializer();

/** `'msgpack@1'`: how a serializer is named in errors and snapshot metadata. */
export function serializerIdentity(serializer: TypeSerializer<unknown>): string {
  return `${serializer.id}@${serializer.version}`;
}

const builtIn: ReadonlyMap<string, TypeSerializer<unknown>> = new Map([
  ['msgpack@1', defaultSerializer],
  ['json@1', new JsonSerializer()],
]);

/**
 * The built-in serializer with this identity (`msgpack@1`, `json@1`), for bytes whose state no
 * descriptor has claimed yet; undefined for a user's serializer (only its descriptor has it).
 */
export function builtInSerializer(identity: string | undefined): TypeSerializer<unknown> | undefined {
  return identity === undefined ? undefined : builtIn.get(identity);
}
