// User metrics (Flink's metric group): counters, gauges and histograms that rich functions
// register through `ctx.metrics`, one group per operator and subtask, read by the progress line,
// the summary and JobResult. No I/O; a gauge runs user code only when metrics are read.
import { FloeError } from '../../core/errors.js';

/** Counts events; `inc`/`dec` are a field update, cheap on the hot path. */
export interface Counter {
  inc(n?: number): void;
  dec(n?: number): void;
  getCount(): number;
}

/** Distribution of recent values: the statistics cover the last `windowSize` updates. */
export interface Histogram {
  update(value: number): void;
  /** Updates since the start (not only those in the window). */
  getCount(): number;
  getStatistics(): HistogramStatistics;
}

export interface HistogramStatistics {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Where a function registers its metrics (`ctx.metrics` in `open`). Names are unique per operator. */
export interface MetricGroup {
  /** The counter `name` (the same one when asked twice). */
  counter(name: string): Counter;
  /** Reports `read()` whenever metrics are read; registering `name` again replaces the function. */
  gauge(name: string, read: () => number): void;
  /** The histogram `name` over the last `windowSize` (default 1024) values. */
  histogram(name: string, options?: { windowSize?: number }): Histogram;
}

/** One user metric of one operator, combined over its subtasks. */
export interface UserMetricSnapshot {
  operatorUid: string;
  operatorName: string;
  name: string;
  kind: 'counter' | 'gauge' | 'histogram';
  /** Counters: the sum over subtasks; gauges: the sum of the subtasks' values; histograms: the update count. */
  value: number;
  /** Per subtask index: its counter, gauge value or histogram update count. */
  subtasks: Record<number, number>;
  /** Histograms: statistics over the subtasks' windows together. */
  statistics?: HistogramStatistics;
}

class SimpleCounter implements Counter {
  private count = 0;
  inc(n = 1): void {
    this.count += n;
  }
  dec(n = 1): void {
    this.count -= n;
  }
  getCount(): number {
    return this.count;
  }
}

class WindowHistogram implements Histogram {
  private readonly window: Float64Array;
  private count = 0;

  constructor(windowSize: number) {
    this.window = new Float64Array(windowSize);
  }

  update(value: number): void {
    this.window[this.count % this.window.length] = value;
    this.count++;
  }

  getCount(): number {
    return this.count;
  }

  /** The values currently in the window (oldest first is not needed: statistics ignore order). */
  values(): Float64Array {
    return this.window.subarray(0, Math.min(this.count, this.window.length));
  }

  getStatistics(): HistogramStatistics {
    return statistics(this.values(), this.count);
  }
}

function statistics(values: ArrayLike<number>, count: number): HistogramStatistics {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return { count, min: NaN, max: NaN, mean: NaN, p50: NaN, p95: NaN, p99: NaN };
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count, min: sorted[0], max: sorted[sorted.length - 1], mean: sum / sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

type Registered = { kind: 'counter'; metric: SimpleCounter } | { kind: 'gauge'; read: () => number } | { kind: 'histogram'; metric: WindowHistogram };

interface OperatorGroups {
  operatorName: string;
  /** Metric name -> subtask index -> metric (insertion order: the order of first registration). */
  metrics: Map<string, Map<number, Registered>>;
}

/** All user metrics of one job run. */
export class MetricRegistry {
  private readonly operators = new Map<string, OperatorGroups>();

  /** The metric group of subtask `subtask` of operator `operatorUid`. */
  group(operatorUid: string, operatorName: string, subtask: number): MetricGroup {
    let groups = this.operators.get(operatorUid);
    if (groups === undefined) this.operators.set(operatorUid, (groups = { operatorName, metrics: new Map() }));
    const { metrics } = groups;
    const register = <K extends Registered['kind']>(name: string, kind: K, make: () => Extract<Registered, { kind: K }>): Extract<Registered, { kind: K }> => {
      if (typeof name !== 'string' || name.length === 0)
        throw new FloeError('INVALID_ARGUMENT', `Operator '${operatorName}' (uid ${operatorUid}): a metric needs a non-empty name`);
      let bySubtask = metrics.get(name);
      if (bySubtask === undefined) metrics.set(name, (bySubtask = new Map()));
      const existing = bySubtask.get(subtask);
      if (existing !== undefined && existing.kind !== kind)
        throw new FloeError('INVALID_ARGUMENT', `Operator '${operatorName}' (uid ${operatorUid}): metric '${name}' is already a ${existing.kind}, not a ${kind}`);
      if (existing !== undefined && kind !== 'gauge') return existing as Extract<Registered, { kind: K }>;
      const made = make();
      bySubtask.set(subtask, made);
      return made;
    };
    return {
      counter: (name) => register(name, 'counter', () => ({ kind: 'counter', metric: new SimpleCounter() })).metric,
      gauge: (name, read) => {
        if (typeof read !== 'function') throw new FloeError('INVALID_ARGUMENT', `Operator '${operatorName}': gauge '${name}' needs a function that returns its value`);
        register(name, 'gauge', () => ({ kind: 'gauge', read }));
      },
      histogram: (name, options = {}) => {
        const windowSize = options.windowSize ?? 1024;
        if (!Number.isInteger(windowSize) || windowSize < 1)
          throw new FloeError('INVALID_ARGUMENT', `Operator '${operatorName}': histogram '${name}' needs windowSize >= 1, got ${windowSize}`);
        return register(name, 'histogram', () => ({ kind: 'histogram', metric: new WindowHistogram(windowSize) })).metric;
      },
    };
  }

  /** Every metric combined over its subtasks, by operator then registration order. */
  snapshot(): UserMetricSnapshot[] {
    const out: UserMetricSnapshot[] = [];
    for (const [operatorUid, { operatorName, metrics }] of this.operators) {
      for (const [name, bySubtask] of metrics) {
        const subtasks: Record<number, number> = {};
        let value = 0;
        let kind: UserMetricSnapshot['kind'] = 'counter';
        const windows: number[] = [];
        for (const [index, m] of bySubtask) {
          kind = m.kind;
          const v = m.kind === 'counter' ? m.metric.getCount() : m.kind === 'histogram' ? m.metric.getCount() : readGauge(m.read);
          subtasks[index] = v;
          value += v;
          if (m.kind === 'histogram') windows.push(...m.metric.values());
        }
        out.push({ operatorUid, operatorName, name, kind, value, subtasks, ...(kind === 'histogram' ? { statistics: statistics(windows, value) } : {}) });
      }
    }
    return out;
  }
}

function readGauge(read: () => number): number {
  try {
    const v = read();
    return typeof v === 'number' ? v : Number(v);
  } catch {
    return NaN; // a gauge that throws must not break the progress line or the summary
  }
}
