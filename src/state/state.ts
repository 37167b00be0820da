// The user-facing keyed state primitives (Flink's names and semantics). Every access is scoped to
// the current key (and namespace) that the runtime set before calling the user function.
// Access is synchronous on every backend: no per-record await.

/** A single value per key. `value()` is `undefined` when absent (or the descriptor's default). */
export interface ValueState<T> {
  value(): T | undefined;
  update(value: T): void;
  /** Removes the value of the current key only. */
  clear(): void;
}

/** A list per key. `get()` is an empty array when absent. */
export interface ListState<T> {
  /** A snapshot of the list; changing the array does not change the state. */
  get(): T[];
  add(value: T): void;
  addAll(values: Iterable<T>): void;
  /** Replaces the list; an empty iterable clears it. */
  update(values: Iterable<T>): void;
  clear(): void;
}

/** A map per key; entries are separate, so point access does not read the whole map. */
export interface MapState<UK, UV> {
  get(key: UK): UV | undefined;
  put(key: UK, value: UV): void;
  putAll(entries: Iterable<readonly [UK, UV]> | ReadonlyMap<UK, UV>): void;
  remove(key: UK): void;
  contains(key: UK): boolean;
  entries(): IterableIterator<[UK, UV]>;
  keys(): IterableIterator<UK>;
  values(): IterableIterator<UV>;
  isEmpty(): boolean;
  clear(): void;
}

/** Folds added values with a reduce function; `get()` is `undefined` when nothing was added. */
export interface ReducingState<T> {
  get(): T | undefined;
  add(value: T): void;
  clear(): void;
}

/** Aggregates IN values into an accumulator; `get()` returns the result, `undefined` when empty. */
export interface AggregatingState<IN, OUT> {
  get(): OUT | undefined;
  add(value: IN): void;
  clear(): void;
}

/** Flink's ReduceFunction. */
export type ReduceFunction<T> = (accumulated: T, value: T) => T;

/** Flink's AggregateFunction: IN values fold into ACC, read out as OUT. */
export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  /** Merges two accumulators (merging windows); optional until such windows exist. */
  merge?(a: ACC, b: ACC): ACC;
}

/** The kinds of keyed state. */
export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';
