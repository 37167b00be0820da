// Renders a running job's metrics: a live progress line on a terminal (a line every few
// seconds otherwise) and the final summary. Writes to the given stream only.
import type { JobMetrics } from '../runtime/job-runner.js';
import type { UserMetricSnapshot } from '../runtime/metrics/user-metrics.js';

const fmt = new Intl.NumberFormat('en-US');
const n = (x: number): string => fmt.format(Math.round(x));

const plural = (count: number, one: string, many = `${one}s`): string => `${n(count)} ${count === 1 ? one : many}`;

export function formatProgress(m: JobMetrics, recordsPerSec: number): string {
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
  return (
    `${n(m.sourceRecords)} records | ${n(recordsPerSec)} rec/s | ${n(m.distinctKeys)} keys | ` +
    `${n(m.stateEntries)} state entries, ${n(m.timers)} timers | heap ${n(heapMb)} MB | ` +
    `${m.lastCheckpointId === undefined ? '' : `checkpoint ${m.lastCheckpointId} | `}${(m.elapsedMs / 1000).toFixed(1)} s`
  );
}

export function formatSummary(jobName: string, m: JobMetrics, status: string): string {
  const secs = m.elapsedMs / 1000;
  // A rate over less than a second says more about timer resolution than about speed.
  const rate = secs >= 1 ? ` (${n(m.sourceRecords / secs)} rec/s)` : '';
  const sinks = m.operators.filter((o) => o.isSink);
  const written = sinks.length === 0 ? 'no sink' : `${n(m.sinkRecords)} record${m.sinkRecords === 1 ? '' : 's'} written by ${sinks.length === 1 ? 'its sink' : `${sinks.length} sinks`}`;
  const lines = [
    `Job '${jobName}' ${status} in ${secs.toFixed(2)} s: ${n(m.sourceRecords)} record${m.sourceRecords === 1 ? '' : 's'} read${rate}, ${written}.`,
    `Keyed state at the end: ${plural(m.distinctKeys, 'key')}, ${plural(m.stateEntries, 'entry', 'entries')}, ${plural(m.timers, 'timer')}.` +
      (m.lastCheckpointId === undefined ? '' : ` Last completed checkpoint: ${m.lastCheckpointId}.`),
    'Operators:',
  ];
  const width = Math.max(...m.operators.map((o) => o.name.length), 8);
  for (const o of m.operators) {
    const counts = o.isSink
      ? `wrote ${n(o.recordsIn).padStart(11)}`
      : o.isSource
        ? `read  ${n(o.recordsOut).padStart(11)}`
        : `in    ${n(o.recordsIn).padStart(11)}  out ${n(o.recordsOut).padStart(11)}`;
    lines.push(`  ${o.name.padEnd(width)}  x${o.parallelism}  ${counts}`);
  }
  if (m.userMetrics.length > 0) lines.push('User metrics:', ...m.userMetrics.map((u) => `  ${formatUserMetric(u)}`));
  return lines.join('\n');
}

/** `Enrich / alerts (counter): 1,234  [subtasks 600, 634]`; histograms with their percentiles. */
export function formatUserMetric(u: UserMetricSnapshot): string {
  const place = `${u.operatorName} / ${u.name} (${u.kind})`;
  const perSubtask = Object.values(u.subtasks);
  const split = perSubtask.length > 1 ? `  [subtasks ${perSubtask.map(num).join(', ')}]` : '';
  if (u.kind !== 'histogram' || u.statistics === undefined) return `${place}: ${num(u.value)}${split}`;
  const s = u.statistics;
  return `${place}: ${n(s.count)} values; min ${num(s.min)}, p50 ${num(s.p50)}, p95 ${num(s.p95)}, p99 ${num(s.p99)}, max ${num(s.max)}, mean ${num(s.mean)}`;
}

/** Integers with separators, fractions with up to 3 decimals, NaN as NaN. */
function num(x: number): string {
  return Number.isInteger(x) ? fmt.format(x) : Number.isFinite(x) ? x.toFixed(3).replace(/\.?0+$/, '') : String(x);
}

/** Polls metrics and redraws the progress line until stopped. */
export class ProgressReporter {
  private timer: NodeJS.Timeout | undefined;
  private lastRecords = 0;
  private lastTime = 0;
  private drawn = false;

  constructor(
    private readonly metrics: () => JobMetrics,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  start(): void {
    const tty = this.out.isTTY === true;
    this.lastTime = Date.now();
    this.timer = setInterval(() => this.draw(tty), tty ? 250 : 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.drawn && this.out.isTTY) this.out.write('\n');
  }

  private draw(tty: boolean): void {
    const m = this.metrics();
    const now = Date.now();
    const rate = ((m.sourceRecords - this.lastRecords) * 1000) / Math.max(1, now - this.lastTime);
    this.lastRecords = m.sourceRecords;
    this.lastTime = now;
    const line = formatProgress(m, rate);
    this.out.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    this.drawn = true;
  }
}
