// Terminal operators: a user SinkFunction, the collect sink of executeAndCollect, and print.
import { inspect } from 'node:util';
import type { SinkFunction } from '../functions.js';
import { UserFunctionOperator, bindUserFunction } from './basic-operators.js';

/** Runs a SinkFunction: `invoke` per record, `flush` after each batch and at end of input. */
export class SinkOperator extends UserFunctionOperator {
  private readonly invoke: (value: unknown, timestamp: number | undefined) => void;
  private readonly sink: SinkFunction<unknown>;

  constructor(sink: SinkFunction<any> | ((value: any) => void)) {
    super(sink);
    this.invoke = bindUserFunction(sink, 'invoke');
    this.sink = (typeof sink === 'function' ? {} : sink) as SinkFunction<unknown>;
  }

  override processElement(value: unknown, timestamp: number): void {
    try {
      this.invoke(value, timestamp === timestamp ? timestamp : undefined);
    } catch (cause) {
      throw this.userError(cause, 'sink invoke()', value);
    }
  }

  override onBatchEnd(): void | Promise<void> {
    if (this.sink.flush === undefined) return;
    return this.callFlush(false);
  }

  override endInput(): void | Promise<void> {
    if (this.sink.flush === undefined) return;
    return this.callFlush(true);
  }

  private async callFlush(endOfInput: boolean): Promise<void> {
    try {
      await this.sink.flush?.(endOfInput);
    } catch (cause) {
      throw this.userError(cause, 'sink flush()', undefined, false);
    }
  }
}

/** Appends every record to an array owned by the job (executeAndCollect). */
export function collectSink(target: unknown[]): SinkFunction<unknown> {
  return { invoke: (value) => void target.push(value) };
}

/** Flink's print(): `value` at parallelism 1, `index> value` otherwise, to stdout. */
export class PrintSink implements SinkFunction<unknown> {
  private prefix = '';
  private lines: string[] = [];

  constructor(
    private readonly identifier: string | undefined,
    private readonly write: (text: string) => void = (text) => process.stdout.write(text),
  ) {}

  open(ctx: import('../functions.js').RuntimeContext): void {
    const parts: string[] = [];
    if (this.identifier !== undefined) parts.push(this.identifier);
    if (ctx.getNumberOfParallelSubtasks() > 1) parts.push(String(ctx.getIndexOfThisSubtask() + 1));
    this.prefix = parts.length > 0 ? `${parts.join(':')}> ` : '';
  }

  invoke(value: unknown): void {
    this.lines.push(this.prefix + (typeof value === 'string' ? value : inspect(value, { breakLength: Number.POSITIVE_INFINITY, depth: 6 })));
  }

  flush(): void {
    if (this.lines.length === 0) return;
    this.write(`${this.lines.join('\n')}\n`);
    this.lines = [];
  }
}
