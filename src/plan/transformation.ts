// The user's graph as the API builds it: one Transformation per API call. Virtual nodes
// (keyBy, rebalance, forward, union) only change how edges are wired. Pure data.
import type { PartitionerSpec } from '../runtime/partitioner.js';
import type { StreamOperator } from '../runtime/operators/stream-operator.js';
import type { AnySource } from '../runtime/source.js';

interface TransformationBase {
  readonly id: number;
  /** Display name (`name(...)`). */
  name: string;
  /** Stable identity of the operator's state across runs (`uid(...)`); derived when unset. */
  uid: string | undefined;
  /** undefined: the environment's default. */
  parallelism: number | undefined;
  maxParallelism: number | undefined;
}

/** A source. */
export interface SourceTransformation extends TransformationBase {
  readonly type: 'source';
  readonly source: AnySource;
}

/** An operator with one logical input (which may be a union of several). */
export interface OneInputTransformation extends TransformationBase {
  readonly type: 'operator';
  readonly input: Transformation;
  /** Makes the operator instance of one subtask (user functions are copied per subtask). */
  readonly createOperator: () => StreamOperator;
  /** True when the operator reads keyed state: its input must be a keyed stream. */
  readonly keyed: boolean;
  /** Operator kind for default uids and display ("Map", "KeyedProcess"). */
  readonly kind: string;
  /** True for sinks: nothing may consume them. */
  readonly isSink: boolean;
}

/** An operator with two inputs (connect): input1 may be keyed, input2 is the broadcast side. */
export interface TwoInputTransformation extends TransformationBase {
  readonly type: 'two-input';
  readonly input1: Transformation;
  readonly input2: Transformation;
  readonly createOperator: () => StreamOperator;
  readonly keyed: boolean;
  readonly kind: string;
  readonly isSink: false;
  /** States the operator declares when the graph is built (its broadcast states), for inspection. */
  readonly declaredState?: readonly string[];
}

/** keyBy / rebalance / forward / broadcast: sets the partitioner of the edges out of `input`. */
export interface PartitionTransformation extends TransformationBase {
  readonly type: 'partition';
  readonly input: Transformation;
  readonly partitioner: PartitionerSpec;
}

/** union: the consumer reads every input. */
export interface UnionTransformation extends TransformationBase {
  readonly type: 'union';
  readonly inputs: Transformation[];
}

export type Transformation = SourceTransformation | OneInputTransformation | TwoInputTransformation | PartitionTransformation | UnionTransformation;

/** The physical nodes (sources and operators) of a graph. */
export type PhysicalTransformation = SourceTransformation | OneInputTransformation | TwoInputTransformation;

/** Operators (one or two inputs). */
export type OperatorTransformation = OneInputTransformation | TwoInputTransformation;
