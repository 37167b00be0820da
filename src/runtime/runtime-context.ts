// The RuntimeContext handed to `open(ctx)`: task facts plus keyed state handles from the
// operator's keyed backend (handles that follow the executing subtask, see
// subtask-state-handles.ts). No I/O.
import { FloeError } from '../core/errors.js';
import type { AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, ValueStateDescriptor } from '../state/descriptors.js';
import type { KeyedStateBackend } from '../state/keyed-state-backend.js';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/state.js';
import type { RuntimeContext } from './functions.js';
import type { OperatorContext } from './operators/stream-operator.js';
import {
  SubtaskAppendingState,
  SubtaskListState,
  SubtaskMapState,
  SubtaskValueState,
  registerOperatorBackend,
} from './subtask-state-handles.js';

/** Builds the RuntimeContext of one operator instance. */
export function createRuntimeContext(ctx: OperatorContext): RuntimeContext {
  const backend = (stateName: string): KeyedStateBackend => {
    if (ctx.keyedBackend === undefined)
      throw new FloeError(
        'STATE_NOT_AVAILABLE',
        `Operator '${ctx.uid}' asked for keyed state '${stateName}', but it does not run on a keyed stream. Keyed state exists only after keyBy(...): use stream.keyBy(selector).process(...) or .map(...).`,
        { context: { job: ctx.jobName, operator: ctx.uid, subtask: ctx.subtaskIndex, state: stateName } },
      );
    return ctx.keyedBackend;
  };
  const operator = `${ctx.jobName}\u0000${ctx.uid}`;
  if (ctx.keyedBackend !== undefined) registerOperatorBackend(ctx.keyedBackend, operator);
  return {
    metrics: ctx.metrics,
    getMetricGroup: () => ctx.metrics,
    getJobName: () => ctx.jobName,
    getOperatorUid: () => ctx.uid,
    getTaskName: () => ctx.name,
    getIndexOfThisSubtask: () => ctx.subtaskIndex,
    getNumberOfParallelSubtasks: () => ctx.parallelism,
    getMaxNumberOfParallelSubtasks: () => ctx.maxParallelism,
    getState: <T>(d: ValueStateDescriptor<T>): ValueState<T> => {
      const b = backend(d.name);
      return new SubtaskValueState<T>(b, operator, d, b.getState(d));
    },
    getListState: <T>(d: ListStateDescriptor<T>): ListState<T> => {
      const b = backend(d.name);
      return new SubtaskListState<T>(b, operator, d, b.getListState(d));
    },
    getMapState: <UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV> => {
      const b = backend(d.name);
      return new SubtaskMapState<UK, UV>(b, operator, d, b.getMapState(d));
    },
    getReducingState: <T>(d: ReducingStateDescriptor<T>): ReducingState<T> => {
      const b = backend(d.name);
      return new SubtaskAppendingState<T, T>(b, operator, d, b.getReducingState(d));
    },
    getAggregatingState: <IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> => {
      const b = backend(d.name);
      return new SubtaskAppendingState<IN, OUT>(b, operator, d, b.getAggregatingState(d));
    },
  };
}
