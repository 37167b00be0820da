// How an edge picks the downstream subtask of each record: forward, rebalance, hash by key
// group, broadcast. Pure functions over plain data, no I/O.
import { FloeError, describeValue } from '../core/errors.js';
import { assignToKeyGroup, computeOperatorIndexForKeyGroup } from '../core/key-groups.js';

/** A key selector: the pure function that extracts a record's key. */
export type KeySelector<T = any, K = unknown> = (value: T) => K;

/** How records of one edge are distributed; planned in plan/, applied by the RecordWriter. */
export type PartitionerSpec =
  | { readonly type: 'forward' }
  | { readonly type: 'rebalance' }
  | { readonly type: 'hash'; readonly keySelector: KeySelector }
  | { readonly type: 'broadcast' };

/** Chooses the target channel of one record for `numChannels` downstream subtasks. */
export interface ChannelSelector {
  /** True when every record goes to every channel. */
  readonly isBroadcast: boolean;
  /** True when the selector computes a key that travels with the record. */
  readonly isKeyed: boolean;
  /** Sets `key` (for keyed selectors) and returns the channel. */
  select(value: unknown): number;
  /** The key computed by the last `select` call. */
  readonly lastKey: unknown;
}

export interface SelectorOptions {
  numChannels: number;
  /** Used to start rebalancing at a different channel per producer subtask. */
  producerSubtask: number;
  /** Max parallelism (number of key groups) of the consuming operator. */
  maxParallelism: number;
  /** Named in errors: the operator that receives the keyed stream. */
  consumer: string;
}

export function createChannelSelector(spec: PartitionerSpec, options: SelectorOptions): ChannelSelector {
  switch (spec.type) {
    case 'forward':
      return new FixedSelector(false);
    case 'broadcast':
      return new FixedSelector(true);
    case 'rebalance':
      return new RebalanceSelector(options.numChannels, options.producerSubtask);
    case 'hash':
      return new KeyGroupSelector(spec.keySelector, options);
  }
}

class FixedSelector implements ChannelSelector {
  readonly isKeyed = false;
  readonly lastKey = undefined;
  constructor(readonly isBroadcast: boolean) {}
  select(): number {
    return 0;
  }
}

class RebalanceSelector implements ChannelSelector {
  readonly isBroadcast = false;
  readonly isKeyed = false;
  readonly lastKey = undefined;
  private next: number;
  constructor(
    private readonly numChannels: number,
    start: number,
  ) {
    this.next = start % numChannels;
  }
  select(): number {
    const channel = this.next;
    this.next = channel + 1 === this.numChannels ? 0 : channel + 1;
    return channel;
  }
}

/** keyBy: the key's key group decides the subtask (Flink's KeyGroupStreamPartitioner). */
class KeyGroupSelector implements ChannelSelector {
  readonly isBroadcast = false;
  readonly isKeyed = true;
  lastKey: unknown = undefined;
  private readonly numChannels: number;
  private readonly maxParallelism: number;

  constructor(
    private readonly keySelector: KeySelector,
    private readonly options: SelectorOptions,
  ) {
    this.numChannels = options.numChannels;
    this.maxParallelism = options.maxParallelism;
  }

  select(value: unknown): number {
    let key: unknown;
    try {
      key = this.keySelector(value);
    } catch (cause) {
      throw new FloeError(
        'USER_FUNCTION_FAILED',
        `The key selector of operator '${this.options.consumer}' threw on record ${describeValue(value)}: ${(cause as Error)?.message ?? cause}`,
        { context: { operator: this.options.consumer }, cause },
      );
    }
    this.lastKey = key;
    // One subtask owns every key group: the key is still validated by the consumer's backend.
    if (this.numChannels === 1) return 0;
    let keyGroup: number;
    try {
      keyGroup = assignToKeyGroup(key, this.maxParallelism);
    } catch (cause) {
      throw new FloeError(
        'INVALID_KEY',
        `Operator '${this.options.consumer}': the key selector returned an unusable key for record ${describeValue(value)}. ${(cause as Error)?.message ?? cause}`,
        { context: { operator: this.options.consumer }, cause },
      );
    }
    return computeOperatorIndexForKeyGroup(this.maxParallelism, this.numChannels, keyGroup);
  }
}
