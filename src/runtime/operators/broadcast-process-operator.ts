// Runs a (Keyed)BroadcastProcessFunction: records of the first input see the broadcast state read
// only (and, when keyed, their key's state and timers); records of the broadcast input may change
// the broadcast state, which lives in operator state and is checkpointed with it. No I/O.
import { FloeError } from '../../core/errors.js';
import type { AnyStateDescriptor, MapStateDescriptor, StateDescriptor } from '../../state/descriptors.js';
import { OperatorStateStore } from '../../state/operator/operator-state-store.js';
import type { MapState } from '../../state/state.js';
import type { TimerEntry } from '../../state/keyed-state-backend.js';
import type {
  BroadcastProcessFunction,
  KeyedBroadcastContext,
  KeyedBroadcastProcessFunction,
  KeyedReadOnlyBroadcastContext,
  ReadOnlyBroadcastState,
  TimeDomain,
  TimerService,
} from '../functions.js';
import { InternalTimerService } from '../timer-service.js';
import { TimestampedCollector, UserFunctionOperator } from './basic-operators.js';
import type { OperatorRestore } from './stream-operator.js';

type AnyBroadcastFunction = BroadcastProcessFunction<unknown, unknown, unknown> | KeyedBroadcastProcessFunction<unknown, unknown, unknown, unknown>;

export class BroadcastProcessOperator extends UserFunctionOperator {
  private store!: OperatorStateStore;
  private collector!: TimestampedCollector;
  private timers: InternalTimerService | undefined;
  private domain: TimeDomain | undefined;
  private readonly names: Set<string>;
  private readonly fn: AnyBroadcastFunction;
  private readonly readOnlyContext: KeyedReadOnlyBroadcastContext<unknown> & { timeDomain(): TimeDomain };
  private readonly writeContext: KeyedBroadcastContext;

  constructor(
    fn: AnyBroadcastFunction,
    private readonly descriptors: MapStateDescriptor<unknown, unknown>[],
  ) {
    super(fn);
    this.fn = fn;
    this.names = new Set(descriptors.map((d) => d.name));
    const self = this;
    const common = {
      timestamp: () => {
        const ts = self.collector.timestamp;
        return ts === ts ? ts : undefined;
      },
      currentProcessingTime: () => self.ctx.processingTime.clock.now(),
      currentWatermark: () => self.inputWatermark,
    };
    this.readOnlyContext = {
      ...common,
      getBroadcastState: <K, V>(d: MapStateDescriptor<K, V>) => readOnly(self.broadcastState(d)),
      getCurrentKey: () => self.ctx.keyedBackend?.getCurrentKey(),
      timerService: (): TimerService => {
        if (self.timers === undefined) throw new FloeError('STATE_NOT_AVAILABLE', `Operator '${self.ctx.uid}': timers need a keyed stream (keyBy before connect)`);
        return self.timers;
      },
      timeDomain: () => self.domain ?? 'EVENT_TIME',
    };
    this.writeContext = {
      ...common,
      getBroadcastState: <K, V>(d: MapStateDescriptor<K, V>) => self.broadcastState(d),
      applyToKeyedState: <S>(descriptor: StateDescriptor & { kind: string }, visit: (key: unknown, state: S) => void) => {
        const backend = self.ctx.keyedBackend;
        if (backend === undefined) throw new FloeError('STATE_NOT_AVAILABLE', `Operator '${self.ctx.uid}': applyToKeyedState needs a keyed stream`);
        const handle = backend.getPartitionedState(descriptor as AnyStateDescriptor) as unknown as S;
        // Streamed in the backend's canonical key encoding (any key type, bigint included), as Flink's applyToAllKeys.
        for (const key of backend.keys(descriptor.name)) {
          backend.setCurrentKey(key);
          visit(key, handle);
        }
      },
    };
  }

  override async initializeState(restore: OperatorRestore | undefined): Promise<void> {
    this.store = new OperatorStateStore(`operator '${this.ctx.uid}' (subtask ${this.ctx.subtaskIndex})`);
    if (restore !== undefined) this.store.restore(restore.operatorState);
    for (const d of this.descriptors) this.store.getBroadcastState(d);
    await super.initializeState(restore);
  }

  override async open(): Promise<void> {
    this.collector = new TimestampedCollector(this.output);
    const backend = this.ctx.keyedBackend;
    if (backend !== undefined)
      this.timers = new InternalTimerService(backend, this.ctx.processingTime, this.ctx.post, (timer, domain) => this.onTimer(timer, domain));
    await super.open();
  }

  override processElement(value: unknown, timestamp: number): void {
    this.collector.timestamp = timestamp;
    try {
      this.fn.processElement(value, this.readOnlyContext, this.collector);
    } catch (cause) {
      throw this.userError(cause, 'processElement()', value);
    }
  }

  processElement2(value: unknown, timestamp: number): void {
    this.collector.timestamp = timestamp;
    try {
      this.fn.processBroadcastElement(value, this.writeContext, this.collector);
    } catch (cause) {
      throw this.userError(cause, 'processBroadcastElement()', value);
    }
  }

  override processWatermark(timestamp: number): void {
    this.inputWatermark = timestamp;
    this.timers?.advanceWatermark(timestamp);
    this.output.emitWatermark(timestamp);
  }

  override async snapshotState(checkpointId: number, timestamp: number): Promise<unknown> {
    const user = (await super.snapshotState(checkpointId, timestamp)) as { states: Record<string, unknown> } | undefined;
    const own = this.store.snapshot();
    return user === undefined ? own : { ...own, states: { ...own.states, ...user.states } };
  }

  override async close(): Promise<void> {
    this.timers?.close();
    await super.close();
  }

  private onTimer(timer: TimerEntry, domain: TimeDomain): void {
    const onTimer = (this.fn as KeyedBroadcastProcessFunction<unknown, unknown, unknown, unknown>).onTimer;
    if (onTimer === undefined) return;
    this.domain = domain;
    this.collector.timestamp = domain === 'EVENT_TIME' ? timer.timestamp : Number.NaN;
    try {
      onTimer.call(this.fn, timer.timestamp, this.readOnlyContext, this.collector);
    } catch (cause) {
      throw this.userError(cause, `onTimer(${timer.timestamp})`, timer.key);
    } finally {
      this.domain = undefined;
    }
  }

  private broadcastState<K, V>(d: MapStateDescriptor<K, V>): MapState<K, V> {
    if (!this.names.has(d.name))
      throw new FloeError(
        'STATE_NOT_AVAILABLE',
        `Operator '${this.ctx.uid}': broadcast state '${d.name}' was not declared; pass its descriptor to broadcast(...) (declared: ${[...this.names].join(', ') || 'none'})`,
      );
    return this.store.getBroadcastState(d);
  }
}

function readOnly<K, V>(map: MapState<K, V>): ReadOnlyBroadcastState<K, V> {
  return {
    get: (k) => map.get(k),
    contains: (k) => map.contains(k),
    entries: () => map.entries(),
    keys: () => map.keys(),
    values: () => map.values(),
    isEmpty: () => map.isEmpty(),
  };
}
