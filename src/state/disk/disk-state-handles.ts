// The state primitives of the disk backend (I/O through the store, synchronous): every access
// encodes the current key and namespace into a store key and reads or writes serialized bytes.
// TTL semantics follow the heap handles in ttl/ exactly (the contract suites hold both to them).
import { FloeError, describeValue } from '../../core/errors.js';
import { encodeKey } from '../../core/key-encoding.js';
import { VOID_NAMESPACE, checkNamespace, type InternalKvState, type Namespace, type StateEntry } from '../keyed-state-backend.js';
import type { AggregateFunction, AggregatingState, ListState, MapState, ReduceFunction, ReducingState, ValueState } from '../state.js';
import { checkListElement, checkedListElements } from '../heap/heap-list-state.js';
import type { DiskIncrementalCleanup, DiskStateTable } from './disk-state-table.js';
import { decodeStoredKey, decodeStoredNamespace, decodeUserKey, namespacePart, parseKey, sequenceSuffix } from './key-layout.js';

/** Allocates list sequence numbers (backend-wide, so appends never read the list). */
export interface SequenceSource {
  nextSequence(): number;
}

/** What every disk handle shares: the table, the namespace, the cached store key of (key, namespace). */
export abstract class DiskStateHandle implements InternalKvState {
  protected namespace: Namespace = VOID_NAMESPACE;
  private nsPart: Buffer = namespacePart(VOID_NAMESPACE);
  private cachedPrefix: Buffer | undefined;
  private cachedVersion = -1;
  private cachedKeyPart: Buffer | undefined;
  /** "job 'j', operator 'o', subtask 0/1, state 's'". */
  place = '';
  cleanup: DiskIncrementalCleanup | undefined;

  constructor(readonly table: DiskStateTable) {}

  setCurrentNamespace(namespace: Namespace): void {
    if (namespace === this.namespace) return;
    checkNamespace(namespace, this.place);
    this.namespace = namespace;
    this.nsPart = namespacePart(namespace);
    this.cachedPrefix = undefined;
  }

  /** The store key of the current key and namespace (cached until either changes). */
  protected prefix(): Buffer {
    const ctx = this.table.ctx;
    if (this.cachedPrefix === undefined || this.cachedVersion !== ctx.version || this.cachedKeyPart !== ctx.keyPart) {
      if (ctx.key === undefined) throw new FloeError('STATE_NOT_AVAILABLE', `${this.place}: no current key is set (keyed state is only available while processing a keyed record or timer)`);
      this.cachedPrefix = Buffer.concat([ctx.keyPart, this.nsPart]);
      this.cachedVersion = ctx.version;
      this.cachedKeyPart = ctx.keyPart;
    }
    return this.cachedPrefix;
  }

  /** A step of incremental TTL cleanup, before every access (as the heap's touch()). */
  protected touch(): void {
    this.cleanup?.run();
  }

  /** The stored entries of this state grouped per (key, namespace) as inspection shows them. */
  abstract inspect(): StateEntry[];
}

/** Groups consecutive entries of one (key, namespace) prefix: the shape of list and map inspection. */
function groupByPrefix(table: DiskStateTable, visit: (entries: Array<{ key: Buffer; value: Buffer }>) => StateEntry): StateEntry[] {
  const out: StateEntry[] = [];
  let group: Array<{ key: Buffer; value: Buffer }> = [];
  let groupPrefix: Buffer | undefined;
  for (const entry of table.all()) {
    const p = entry.key.subarray(0, parseKey(entry.key).prefixEnd);
    if (groupPrefix !== undefined && !p.equals(groupPrefix)) {
      out.push(visit(group));
      group = [];
    }
    groupPrefix = p;
    group.push(entry);
  }
  if (group.length > 0) out.push(visit(group));
  return out;
}

/** The latest access time of a group (a loop: spreading 100k+ elements into Math.max overflows the stack). */
function latestTimestamp(table: DiskStateTable, group: Array<{ value: Buffer }>): number {
  let latest = Number.NEGATIVE_INFINITY;
  for (const e of group) latest = Math.max(latest, table.timestampOf(e.value));
  return latest;
}

function entryOf(key: Buffer, value: unknown, lastAccessTime: number | undefined): StateEntry {
  const parsed = parseKey(key);
  const entry: StateEntry = { key: decodeStoredKey(key, parsed), namespace: decodeStoredNamespace(key, parsed), value };
  if (lastAccessTime !== undefined) entry.lastAccessTime = lastAccessTime;
  return entry;
}

// --- single values: value, reducing, aggregating ------------------------------------------------

/** Reads and writes the single stored value of the current key (a value or an accumulator). */
abstract class DiskSingleValueHandle extends DiskStateHandle {
  /** The stored value for a read: expired ones are removed, returned once with ReturnExpiredIfNotCleanedUp. */
  protected read(): unknown {
    this.touch();
    const key = this.prefix();
    const stored = this.table.get(key);
    if (stored === undefined) return undefined;
    const ttl = this.table.ttl;
    if (ttl === undefined) return this.table.decode(stored);
    const now = ttl.now();
    if (this.table.isExpired(stored, now)) {
      const value = ttl.returnExpired ? this.table.decode(stored) : undefined;
      this.table.remove(key);
      return value;
    }
    const value = this.table.decode(stored);
    if (ttl.refreshOnRead) this.table.put(key, this.table.restamp(stored, now));
    return value;
  }

  /** The accumulator an add folds into (an expired one only with ReturnExpiredIfNotCleanedUp, as Flink). */
  protected readForAdd(): unknown {
    this.touch();
    const stored = this.table.get(this.prefix());
    if (stored === undefined) return undefined;
    const ttl = this.table.ttl;
    if (ttl !== undefined && !ttl.returnExpired && this.table.isExpired(stored, ttl.now())) return undefined;
    return this.table.decode(stored);
  }

  protected write(value: unknown): void {
    this.table.put(this.prefix(), this.table.encode(value));
  }

  clear(): void {
    this.touch();
    this.table.remove(this.prefix());
  }

  inspect(): StateEntry[] {
    const t = this.table;
    return [...t.all()].map(({ key, value }) => entryOf(key, this.shown(t.decode(value)), t.ttl === undefined ? undefined : t.timestampOf(value)));
  }

  protected shown(value: unknown): unknown {
    return value;
  }
}

export class DiskValueState<T> extends DiskSingleValueHandle implements ValueState<T> {
  private readonly copyDefault: boolean;

  constructor(
    table: DiskStateTable,
    private readonly defaultValue: T | undefined,
  ) {
    super(table);
    // As Flink, the default is ignored with TTL.
    if (table.ttl !== undefined) this.defaultValue = undefined;
    this.copyDefault = typeof this.defaultValue === 'object' && this.defaultValue !== null;
  }

  value(): T | undefined {
    const v = this.read() as T | undefined;
    if (v !== undefined) return v;
    return this.copyDefault ? structuredClone(this.defaultValue) : this.defaultValue;
  }

  /** Stores `value`; `undefined` or `null` clears, as Flink's `update(null)`. */
  update(value: T): void {
    this.touch();
    if (value === undefined || value === null) this.table.remove(this.prefix());
    else this.write(value);
  }
}

export class DiskReducingState<T> extends DiskSingleValueHandle implements ReducingState<T> {
  constructor(
    table: DiskStateTable,
    private readonly reduce: ReduceFunction<T>,
  ) {
    super(table);
  }

  get(): T | undefined {
    return this.read() as T | undefined;
  }

  add(value: T): void {
    const acc = this.readForAdd() as T | undefined;
    this.write(acc === undefined ? value : this.reduce(acc, value));
  }
}

export class DiskAggregatingState<IN, ACC, OUT> extends DiskSingleValueHandle implements AggregatingState<IN, OUT> {
  constructor(
    table: DiskStateTable,
    private readonly aggregate: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(table);
  }

  get(): OUT | undefined {
    const acc = this.read() as ACC | undefined;
    return acc === undefined ? undefined : this.aggregate.getResult(acc);
  }

  add(value: IN): void {
    const acc = this.readForAdd() as ACC | undefined;
    this.write(this.aggregate.add(value, acc === undefined ? this.aggregate.createAccumulator() : acc));
  }
}

// --- lists ----------------------------------------------------------------------------------------

/** One store entry per element, keyed by an increasing sequence number: `add` never reads the list. */
export class DiskListState<T> extends DiskStateHandle implements ListState<T> {
  constructor(
    table: DiskStateTable,
    private readonly sequences: SequenceSource,
  ) {
    super(table);
  }

  get(): T[] {
    this.touch();
    const entries = this.table.scan(this.prefix());
    const ttl = this.table.ttl;
    if (ttl === undefined) return entries.map((e) => this.table.decode(e.value) as T);
    const now = ttl.now();
    const visible: T[] = [];
    for (const { key, value } of entries) {
      if (this.table.isExpired(value, now)) {
        if (ttl.returnExpired) visible.push(this.table.decode(value) as T);
        this.table.remove(key);
        continue;
      }
      visible.push(this.table.decode(value) as T);
      if (ttl.refreshOnRead) this.table.put(key, this.table.restamp(value, now));
    }
    return visible;
  }

  add(value: T): void {
    checkListElement(value, this.place);
    this.touch();
    this.append(value, this.table.ttl?.now());
  }

  addAll(values: Iterable<T>): void {
    const items = checkedListElements(values, this.place);
    if (items.length === 0) return;
    this.touch();
    const now = this.table.ttl?.now();
    for (const item of items) this.append(item, now);
  }

  /** Replaces the list; an empty iterable clears it. */
  update(values: Iterable<T>): void {
    const items = checkedListElements(values, this.place);
    this.touch();
    this.table.removePrefix(this.prefix());
    const now = this.table.ttl?.now();
    for (const item of items) this.append(item, now);
  }

  clear(): void {
    this.touch();
    this.table.removePrefix(this.prefix());
  }

  private append(value: T, now: number | undefined): void {
    this.table.put(Buffer.concat([this.prefix(), sequenceSuffix(this.sequences.nextSequence())]), this.table.encode(value, now));
  }

  inspect(): StateEntry[] {
    const t = this.table;
    return groupByPrefix(t, (group) => {
      const latest = t.ttl === undefined ? undefined : latestTimestamp(t, group);
      return entryOf(group[0].key, group.map((e) => t.decode(e.value)), latest);
    });
  }
}

// --- maps -----------------------------------------------------------------------------------------

/** One store entry per map entry, keyed by the canonical encoding of the user key: point access reads one entry. */
export class DiskMapState<UK, UV> extends DiskStateHandle implements MapState<UK, UV> {
  get(key: UK): UV | undefined {
    const entryKey = this.entryKey(key);
    this.touch();
    const stored = this.table.get(entryKey);
    if (stored === undefined) return undefined;
    const value = this.table.decode(stored) as UV;
    return this.visible(entryKey, stored) ? value : undefined;
  }

  put(key: UK, value: UV): void {
    const entryKey = this.entryKey(key);
    this.touch();
    this.table.put(entryKey, this.table.encode(value));
  }

  putAll(entries: Iterable<readonly [UK, UV]> | ReadonlyMap<UK, UV>): void {
    const items: Array<[Buffer, UV]> = [];
    for (const [k, v] of entries as Iterable<readonly [UK, UV]>) items.push([this.entryKey(k), v]);
    if (items.length === 0) return;
    this.touch();
    const now = this.table.ttl?.now();
    for (const [k, v] of items) this.table.put(k, this.table.encode(v, now));
  }

  remove(key: UK): void {
    const entryKey = this.entryKey(key);
    this.touch();
    if (this.table.get(entryKey) !== undefined) this.table.remove(entryKey);
  }

  contains(key: UK): boolean {
    const entryKey = this.entryKey(key);
    this.touch();
    const stored = this.table.get(entryKey);
    return stored !== undefined && this.visible(entryKey, Buffer.from(stored));
  }

  entries(): IterableIterator<[UK, UV]> {
    return this.readAll().map(([k, v]) => [k, v] as [UK, UV]).values();
  }

  keys(): IterableIterator<UK> {
    return this.readAll().map(([k]) => k).values();
  }

  values(): IterableIterator<UV> {
    return this.readAll().map(([, v]) => v).values();
  }

  /** True when no entry is visible; reads up to the first visible entry. */
  isEmpty(): boolean {
    this.touch();
    if (this.table.ttl === undefined) return this.table.first(this.prefix()) === undefined;
    for (const { key, value } of this.table.scan(this.prefix())) if (this.visible(key, value)) return false;
    return true;
  }

  clear(): void {
    this.touch();
    this.table.removePrefix(this.prefix());
  }

  inspect(): StateEntry[] {
    const t = this.table;
    return groupByPrefix(t, (group) => {
      const latest = t.ttl === undefined ? undefined : latestTimestamp(t, group);
      return entryOf(group[0].key, new Map(group.map((e) => [decodeUserKey(e.key), t.decode(e.value)])), latest);
    });
  }

  /** Every visible entry, decoded (a copy: the state may change while the caller iterates). */
  private readAll(): Array<[UK, UV]> {
    this.touch();
    const out: Array<[UK, UV]> = [];
    for (const { key, value } of this.table.scan(this.prefix()))
      if (this.visible(key, value)) out.push([decodeUserKey(key) as UK, this.table.decode(value) as UV]);
    return out;
  }

  /** Whether a read returns this entry: expired ones are deleted and count only with ReturnExpiredIfNotCleanedUp; live ones are refreshed with OnReadAndWrite. */
  private visible(entryKey: Buffer, stored: Buffer): boolean {
    const ttl = this.table.ttl;
    if (ttl === undefined) return true;
    const now = ttl.now();
    if (this.table.isExpired(stored, now)) {
      this.table.remove(entryKey);
      return ttl.returnExpired;
    }
    if (ttl.refreshOnRead) this.table.put(entryKey, this.table.restamp(stored, now));
    return true;
  }

  private entryKey(userKey: UK): Buffer {
    let bytes: Uint8Array;
    try {
      bytes = encodeKey(userKey);
    } catch (cause) {
      throw new FloeError('INVALID_KEY', `${this.place}: unusable map key ${describeValue(userKey)}. ${(cause as Error).message}`, { cause });
    }
    return Buffer.concat([this.prefix(), bytes]);
  }
}
