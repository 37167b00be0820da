// Benchmark runner: `npm run bench -- <name> [--json]`. Each benchmark runs its engine case and a
// hand-written baseline in the same process and reports ratios, so machines can be compared.
import { channelTransportBenchmark } from './channel-transport.js';
import { checkpointLatencyBenchmark } from './checkpoint-latency.js';
import { checkpointOverheadBenchmark } from './checkpoint-overhead.js';
import { diskBenchmark } from './disk.js';
import { keyedCountBenchmark } from './keyed-count.js';
import { rescaleBenchmark } from './rescale.js';
import { savepointRestoreBenchmark } from './savepoint-restore.js';

const benchmarks: Record<string, (args: string[]) => Promise<Record<string, unknown>>> = {
  'keyed-count': keyedCountBenchmark,
  'checkpoint-overhead': checkpointOverheadBenchmark,
  'checkpoint-latency': checkpointLatencyBenchmark,
  disk: diskBenchmark,
  rescale: rescaleBenchmark,
  'savepoint-restore': savepointRestoreBenchmark,
  'channel-transport': channelTransportBenchmark,
};

const [name, ...rest] = process.argv.slice(2);
const json = rest.includes('--json');
const bench = name === undefined ? undefined : benchmarks[name];
if (bench === undefined) {
  process.stderr.write(`Usage: npm run bench -- <${Object.keys(benchmarks).join('|')}> [--json]\n`);
  process.exit(2);
}
const result = await bench(rest.filter((a) => a !== '--json'));
if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(24)} ${typeof v === 'number' ? v.toLocaleString('en-US') : String(v)}\n`);
