// A bounded channel between two subtasks inside one worker: passes element references, never
// copies. Shaped like a serialized channel (push elements, poll elements) so a worker-thread
// channel can replace it without changing operators. No I/O.
import type { StreamElement } from '../core/stream-elements.js';

/** Wakes the consumer that waits on this channel. */
export interface ChannelListener {
  onAvailable(): void;
}

/**
 * A FIFO of stream elements with a capacity in elements (batches count as one). `push` never
 * blocks, so a user function emitting inside a batch cannot deadlock; the producer asks
 * `isFull()` between its input batches and awaits `whenWritable()`, so the queue exceeds its
 * capacity by at most the output of one input batch.
 */
export class LocalChannel {
  private queue: StreamElement[] = [];
  private head = 0;
  private writableWaiters: Array<() => void> = [];
  private listener: ChannelListener | undefined;
  /** Set on cancellation: from then on nobody consumes, so nobody may wait for room. */
  private released = false;

  constructor(
    readonly capacity: number,
    readonly description: string,
  ) {}

  setListener(listener: ChannelListener): void {
    this.listener = listener;
  }

  get size(): number {
    return this.queue.length - this.head;
  }

  isFull(): boolean {
    return this.size >= this.capacity;
  }

  push(element: StreamElement): void {
    this.queue.push(element);
    this.listener?.onAvailable();
  }

  poll(): StreamElement | undefined {
    if (this.head >= this.queue.length) return undefined;
    const element = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as StreamElement;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.writableWaiters.length > 0 && !this.isFull()) {
      const waiters = this.writableWaiters;
      this.writableWaiters = [];
      for (const wake of waiters) wake();
    }
    return element;
  }

  /** Resolves once the channel has room again (at once when it has, or once it was released). */
  whenWritable(): Promise<void> {
    if (!this.isFull() || this.released) return Promise.resolve();
    return new Promise((resolve) => this.writableWaiters.push(resolve));
  }

  /**
   * Wakes every waiting producer, now and later (used on cancellation so no promise is left
   * hanging: a producer that was busy with other work when it was cancelled, e.g. a checkpoint
   * mail, may ask for room only afterwards, when its consumer has stopped polling already).
   */
  releaseWaiters(): void {
    this.released = true;
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    for (const wake of waiters) wake();
  }
}
