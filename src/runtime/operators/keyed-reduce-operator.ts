// Rolling reduce on a keyed stream (reduce, sum, min, max): keeps the reduced value per key in
// ValueState and emits it after every record, as Flink's StreamGroupedReduceOperator. No I/O.
import { ValueStateDescriptor } from '../../state/descriptors.js';
import type { TypeSerializer } from '../../state/serde/type-serializer.js';
import type { ValueState } from '../../state/state.js';
import { UserFunctionOperator } from './basic-operators.js';

/**
 * Stores a copy of each reduced object, made with the state's serializer, and emits the object the
 * reduce function returned: downstream functions that change their input can never reach the
 * state (Flink copies records between chained operators for the same reason). Costs one
 * serialize and deserialize per record whose reduced value is an object.
 */
export class KeyedReduceOperator extends UserFunctionOperator {
  private state!: ValueState<unknown>;
  private readonly descriptor = new ValueStateDescriptor<unknown>('_reduce');
  private readonly serializer: TypeSerializer<unknown> = this.descriptor.serializer;

  constructor(
    private readonly reduce: (accumulated: any, value: any) => unknown,
    private readonly what: string,
  ) {
    super(reduce);
  }

  override async open(): Promise<void> {
    await super.open();
    this.state = this.runtimeContext.getState(this.descriptor);
  }

  override processElement(value: unknown, timestamp: number): void {
    const current = this.state.value();
    let next: unknown;
    if (current === undefined) next = value;
    else {
      try {
        next = this.reduce(current, value);
      } catch (cause) {
        throw this.userError(cause, this.what, value);
      }
    }
    this.state.update(typeof next === 'object' && next !== null ? this.serializer.deserialize(this.serializer.serialize(next)) : next);
    this.output.collect(next, timestamp);
  }
}

/** Reads `field` of a record: a property name of an object or an index of an array (tuple). */
function read(record: any, field: string | number): unknown {
  return record?.[field];
}

/** Copies a record with `field` replaced (arrays stay arrays). */
function withField(record: any, field: string | number, value: unknown): unknown {
  if (Array.isArray(record)) {
    const copy = record.slice();
    copy[field as number] = value;
    return copy;
  }
  return { ...record, [field]: value };
}

/**
 * Flink's field aggregations: `sum` adds the field, `min`/`max` keep its extreme; the other
 * fields come from the first record of the key (use reduce for "the whole record with the minimum").
 */
export function fieldAggregation(kind: 'sum' | 'min' | 'max', field: string | number): (a: any, b: any) => unknown {
  return (acc, value) => {
    const a = read(acc, field) as any;
    const b = read(value, field) as any;
    if (typeof b !== 'number' && typeof b !== 'bigint')
      throw new TypeError(`${kind}('${String(field)}'): the field is ${b === undefined ? 'missing' : `a ${typeof b}`}, expected a number`);
    if (kind === 'sum') return withField(acc, field, a + b);
    if (kind === 'min') return b < a ? withField(acc, field, b) : acc;
    return b > a ? withField(acc, field, b) : acc;
  };
}
