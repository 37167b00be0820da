// The keyed state handles user functions get from the runtime context. Each parallel subtask runs
// its own copy of a function, but JavaScript cannot copy a closure (Flink serializes the whole
// function), so a handle kept in a closure variable is shared by every copy: the last subtask to
// open wins. These handles therefore resolve, on every access, to the subtask whose keyed code
// runs now (the backend whose key was set last). No I/O.
import type { AnyStateDescriptor } from '../state/descriptors.js';
import { executingKeyedBackend, type KeyedStateBackend } from '../state/keyed-state-backend.js';
import type { AggregatingState, ListState, MapState, ValueState } from '../state/state.js';

/** Which operator (job and uid) each keyed backend serves: a handle only moves between subtasks of its own operator. */
const operatorOfBackend = new WeakMap<KeyedStateBackend, string>();

/** Records that `backend` serves `operator`; called when an operator instance builds its runtime context. */
export function registerOperatorBackend(backend: KeyedStateBackend, operator: string): void {
  operatorOfBackend.set(backend, operator);
}

/**
 * The shared part: the backend a handle last resolved to and its handle there. The common case
 * (the handle's own subtask runs) costs one property read and one compare per access; a switch
 * to another subtask looks the handle up in that subtask's backend (registered by its own open()).
 */
abstract class SubtaskStateHandle<H> {
  private backend: KeyedStateBackend;
  private handle: H;
  private readonly byBackend = new WeakMap<KeyedStateBackend, H>();

  constructor(
    private readonly ownBackend: KeyedStateBackend,
    private readonly operator: string,
    private readonly descriptor: AnyStateDescriptor,
    private readonly ownHandle: H,
  ) {
    this.backend = ownBackend;
    this.handle = ownHandle;
    this.byBackend.set(ownBackend, ownHandle);
  }

  /** The handle of the subtask that runs now. */
  protected target(): H {
    const executing = executingKeyedBackend.current;
    if (executing === this.backend || executing === undefined) return this.handle;
    return this.switchTo(executing);
  }

  private switchTo(executing: KeyedStateBackend): H {
    // Code of another operator runs (a handle passed between operators): stay with the own subtask.
    if (operatorOfBackend.get(executing) !== this.operator) return this.ownHandle;
    let handle = this.byBackend.get(executing);
    if (handle === undefined) this.byBackend.set(executing, (handle = executing.getPartitionedState(this.descriptor) as H));
    this.backend = executing;
    this.handle = handle;
    return handle;
  }
}

export class SubtaskValueState<T> extends SubtaskStateHandle<ValueState<T>> implements ValueState<T> {
  value(): T | undefined {
    return this.target().value();
  }
  update(value: T): void {
    this.target().update(value);
  }
  clear(): void {
    this.target().clear();
  }
}

export class SubtaskListState<T> extends SubtaskStateHandle<ListState<T>> implements ListState<T> {
  get(): T[] {
    return this.target().get();
  }
  add(value: T): void {
    this.target().add(value);
  }
  addAll(values: Iterable<T>): void {
    this.target().addAll(values);
  }
  update(values: Iterable<T>): void {
    this.target().update(values);
  }
  clear(): void {
    this.target().clear();
  }
}

export class SubtaskMapState<UK, UV> extends SubtaskStateHandle<MapState<UK, UV>> implements MapState<UK, UV> {
  get(key: UK): UV | undefined {
    return this.target().get(key);
  }
  put(key: UK, value: UV): void {
    this.target().put(key, value);
  }
  putAll(entries: Iterable<readonly [UK, UV]> | ReadonlyMap<UK, UV>): void {
    this.target().putAll(entries);
  }
  remove(key: UK): void {
    this.target().remove(key);
  }
  contains(key: UK): boolean {
    return this.target().contains(key);
  }
  entries(): IterableIterator<[UK, UV]> {
    return this.target().entries();
  }
  keys(): IterableIterator<UK> {
    return this.target().keys();
  }
  values(): IterableIterator<UV> {
    return this.target().values();
  }
  isEmpty(): boolean {
    return this.target().isEmpty();
  }
  clear(): void {
    this.target().clear();
  }
}

/** Reducing and aggregating state (Flink's AppendingState): a ReducingState<T> is an AggregatingState<T, T>. */
export class SubtaskAppendingState<IN, OUT> extends SubtaskStateHandle<AggregatingState<IN, OUT>> implements AggregatingState<IN, OUT> {
  get(): OUT | undefined {
    return this.target().get();
  }
  add(value: IN): void {
    this.target().add(value);
  }
  clear(): void {
    this.target().clear();
  }
}
