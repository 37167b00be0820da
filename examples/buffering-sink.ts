// The seed's BufferingSink (Flink "Working with State", operator state): buffers elements and
// sends them in groups of `threshold`; the buffer lives in operator list state, so elements
// buffered at a checkpoint survive a failure.
import {
  type CheckpointedFunction,
  type FunctionInitializationContext,
  type ListState,
  ListStateDescriptor,
  type SinkFunction,
} from 'floe';

export class BufferingSink<T> implements SinkFunction<T>, CheckpointedFunction {
  private checkpointedState!: ListState<T>;
  private bufferedElements: T[] = [];

  constructor(
    private readonly threshold: number,
    /** Where a full buffer goes (a database, a socket...). */
    private readonly send: (elements: T[]) => void,
  ) {}

  invoke(value: T): void {
    this.bufferedElements.push(value);
    if (this.bufferedElements.length >= this.threshold) {
      this.send(this.bufferedElements);
      this.bufferedElements = [];
    }
  }

  snapshotState(): void {
    this.checkpointedState.update(this.bufferedElements);
  }

  initializeState(ctx: FunctionInitializationContext): void {
    this.checkpointedState = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<T>('buffered-elements'));
    if (ctx.isRestored()) this.bufferedElements = this.checkpointedState.get();
  }
}
