// Parses the `floe` command line. Pure: argv in, a command out (or a usage error).
import { FloeError } from '../core/errors.js';
import type { RestartStrategyOptions } from '../runtime/restart-strategy.js';

export interface RunCommand {
  /** `check` type-checks and plans the job without running it (same options). */
  command: 'run' | 'check';
  jobPath: string;
  parallelism: number | undefined;
  maxParallelism: number | undefined;
  /** No progress line (the summary is still printed). */
  quiet: boolean;
  checkpointDir: string | undefined;
  checkpointIntervalMs: number | undefined;
  /** Checkpoint failures tolerated in a row before the job fails (Flink's default 0). */
  tolerableFailedCheckpoints: number | undefined;
  fromCheckpoint: string | undefined;
  /** Start from this savepoint (or chk-N) directory. */
  fromSavepoint: string | undefined;
  restartStrategy: RestartStrategyOptions | undefined;
  stateBackend: 'heap' | 'disk' | undefined;
  stateDir: string | undefined;
  /** Resume past damaged completed checkpoints, accepting duplicate output. */
  allowFallbackDuplicates: boolean;
  /** Restore even when the checkpoint holds state of operators the job no longer has (dropping it). */
  allowNonRestoredState: boolean;
  /** Arguments after the job file (or after `--`) that floe does not know: passed to the job. */
  jobArgs: string[];
}

/** A command to a running job: `list`, `savepoint <job> [DIR]`, `stop [--savepoint DIR] <job>`, `cancel <job>`. */
export type JobControlCommand =
  | { command: 'list'; json: boolean }
  | { command: 'savepoint'; job: string; directory: string | undefined }
  | { command: 'stop'; job: string; savepoint: boolean; directory: string | undefined }
  | { command: 'cancel'; job: string }
  | { command: 'rekey'; from: string; to: string; maxParallelism: number };

export type CliCommand = RunCommand | JobControlCommand | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage: floe run [options] <job.ts|job.js> [job arguments]
       floe check [options] <job.ts|job.js> [job arguments]
       floe list [--json]                        running jobs on this machine
       floe savepoint <job> [DIR]                take a savepoint (into DIR, default:
                                                 savepoints/ next to the checkpoint directory)
       floe stop [--savepoint [DIR]] <job>       stop gracefully (with a final savepoint)
       floe cancel <job>                         stop at once
       floe savepoint rekey <savepoint> --max-parallelism M --out <new savepoint>
                                                 rewrite a savepoint's keyed state into M key groups
<job> is a job's id from \`floe list\` (or a unique prefix) or its name.

Runs a job file: a module whose default export receives the StreamEnvironment,
  export default (env: StreamEnvironment, args: string[]) => { ... }
TypeScript job files run directly, with no build step. \`floe check\` type-checks the job
file and prints its plan (chains, uids, parallelism, partitioning, warnings) without running it.

Options:
  -p, --parallelism N       default parallelism of every operator
  --max-parallelism M       number of key groups (bounds future rescaling)
  --checkpoint-dir DIR      checkpoint into DIR; resume from its latest valid checkpoint
  --checkpoint-interval MS  time between checkpoints (default 1000; needs --checkpoint-dir)
  --tolerable-failed-checkpoints N
                            checkpoint failures in a row before the job fails (default 0)
  --from-checkpoint PATH    restore the checkpoint PATH (a .../chk-N directory)
  --from-savepoint PATH     start from the savepoint PATH (any parallelism, either
                            backend; the savepoint is only read)
  --allow-fallback-duplicates
                            resume from an older checkpoint when newer completed ones
                            are damaged, although exactly-once sinks then commit
                            output again (default: refuse and say which are damaged)
  --allow-non-restored-state
                            restore a checkpoint that holds state of operators the job
                            no longer has, dropping that state (default: refuse, naming them)
  --restart-strategy S      what a failed job does: none, fixed-delay[:ATTEMPTS[:DELAY_MS]],
                            exponential-delay[:INITIAL_MS[:MAX_MS]] (the default with
                            checkpointing), failure-rate[:FAILURES[:INTERVAL_MS[:DELAY_MS]]]
  --state-backend B         heap (default: state in memory) or disk (state in an
                            embedded store on local disk, incremental checkpoints)
  --state-dir DIR           working directory of the disk backend (default: a
                            directory per job under the system's temp directory)
  -q, --quiet               no live progress line
  -h, --help                this text
  -v, --version             the version of floe
Options go before or after the job file. Other arguments after the job file, and everything
after \`--\`, are passed to the job (e.g. \`floe run examples/demo.ts --unbounded\`).
While a job runs, \`kill -USR2 <pid>\` takes a checkpoint on demand. Ctrl-C stops the job
cleanly; a second Ctrl-C stops the process at once.`;

type Flag = { names: string[]; value: 'none' | 'integer' | 'nonNegative' | 'path' | 'text'; apply: (run: RunCommand, value: string) => void };

const FLAGS: Flag[] = [
  { names: ['-p', '--parallelism'], value: 'integer', apply: (r, v) => (r.parallelism = Number(v)) },
  { names: ['--max-parallelism'], value: 'integer', apply: (r, v) => (r.maxParallelism = Number(v)) },
  { names: ['-q', '--quiet'], value: 'none', apply: (r) => (r.quiet = true) },
  { names: ['--allow-fallback-duplicates'], value: 'none', apply: (r) => (r.allowFallbackDuplicates = true) },
  { names: ['--allow-non-restored-state'], value: 'none', apply: (r) => (r.allowNonRestoredState = true) },
  { names: ['--checkpoint-dir'], value: 'path', apply: (r, v) => (r.checkpointDir = v) },
  { names: ['--checkpoint-interval'], value: 'integer', apply: (r, v) => (r.checkpointIntervalMs = Number(v)) },
  { names: ['--tolerable-failed-checkpoints'], value: 'nonNegative', apply: (r, v) => (r.tolerableFailedCheckpoints = Number(v)) },
  { names: ['--from-checkpoint'], value: 'path', apply: (r, v) => (r.fromCheckpoint = v) },
  { names: ['--from-savepoint', '-s'], value: 'path', apply: (r, v) => (r.fromSavepoint = v) },
  { names: ['--restart-strategy'], value: 'text', apply: (r, v) => (r.restartStrategy = parseRestartStrategy(v)) },
  { names: ['--state-dir'], value: 'path', apply: (r, v) => (r.stateDir = v) },
  {
    names: ['--state-backend'],
    value: 'text',
    apply: (r, v) => {
      if (v !== 'heap' && v !== 'disk') throw usage(`--state-backend takes heap or disk, got ${v}`);
      r.stateBackend = v;
    },
  },
];

export function parseArgs(argv: string[]): CliCommand {
  if (argv.length === 0 || argv[0] === '-h' || argv[0] === '--help' || argv[0] === 'help') return { command: 'help' };
  if (argv[0] === '-v' || argv[0] === '--version') return { command: 'version' };
  if (CONTROL_COMMANDS.includes(argv[0])) return parseControl(argv);
  if (argv[0] !== 'run' && argv[0] !== 'check') throw usage(`Unknown command '${argv[0]}'${suggestion(argv[0], ['run', 'check', 'help', ...CONTROL_COMMANDS])}.\n\n${USAGE}`);
  const run: RunCommand = {
    command: argv[0],
    jobPath: '',
    parallelism: undefined,
    maxParallelism: undefined,
    quiet: false,
    checkpointDir: undefined,
    checkpointIntervalMs: undefined,
    tolerableFailedCheckpoints: undefined,
    fromCheckpoint: undefined,
    fromSavepoint: undefined,
    restartStrategy: undefined,
    stateBackend: undefined,
    stateDir: undefined,
    allowFallbackDuplicates: false,
    allowNonRestoredState: false,
    jobArgs: [],
  };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      run.jobArgs.push(...argv.slice(i + 1));
      break;
    }
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const flag = FLAGS.find((f) => f.names.includes(name));
    if (flag !== undefined) {
      if (flag.value === 'none') flag.apply(run, '');
      else flag.apply(run, checkValue(name, flag.value, inline ?? argv[++i]));
    } else if (run.jobPath === '' && !arg.startsWith('-')) run.jobPath = arg;
    else if (run.jobPath === '') {
      // Before the job file every option is floe's: a typo must not silently become a job argument.
      const known = FLAGS.flatMap((f) => f.names).filter((n) => n.startsWith('--'));
      throw usage(`Unknown option ${name}${suggestion(name, known)}. Job arguments go after the job file (or after --).`);
    } else run.jobArgs.push(arg);
  }
  if (run.jobPath === '') throw usage(`floe ${run.command} needs a job file.\n\n${USAGE}`);
  if (run.checkpointIntervalMs !== undefined && run.checkpointDir === undefined)
    throw usage('--checkpoint-interval needs --checkpoint-dir DIR: checkpoints need a directory to go to');
  if (run.fromSavepoint !== undefined && run.fromCheckpoint !== undefined) throw usage('--from-savepoint and --from-checkpoint exclude each other: give one');
  if (run.tolerableFailedCheckpoints !== undefined && run.checkpointDir === undefined)
    throw usage('--tolerable-failed-checkpoints needs --checkpoint-dir DIR (checkpointing is off without it)');
  return run;
}

const CONTROL_COMMANDS = ['list', 'savepoint', 'stop', 'cancel'];

function parseControl(argv: string[]): JobControlCommand {
  const [command, ...rest] = argv;
  if (command === 'savepoint' && rest[0] === 'rekey') return parseRekey(rest.slice(1));
  const options = rest.filter((a) => a.startsWith('-'));
  const words = rest.filter((a) => !a.startsWith('-'));
  const unknown = (allowed: string[]) => {
    for (const o of options) if (!allowed.includes(o)) throw usage(`floe ${command} does not take ${o}${suggestion(o, allowed)}.\n\n${USAGE}`);
  };
  if (command === 'list') {
    unknown(['--json']);
    if (words.length > 0) throw usage(`floe list takes no arguments, got ${words.join(' ')}`);
    return { command: 'list', json: options.includes('--json') };
  }
  if (command === 'savepoint') {
    unknown([]);
    if (words.length < 1 || words.length > 2) throw usage(`floe savepoint needs a job (id or name) and optionally a directory: floe savepoint <job> [DIR]`);
    return { command: 'savepoint', job: words[0], directory: words[1] };
  }
  if (command === 'stop') {
    unknown(['--savepoint']);
    const withSavepoint = options.includes('--savepoint');
    // `stop --savepoint DIR <job>` or `stop --savepoint <job>` (the job's default directory) or `stop <job>`.
    if (words.length < 1 || words.length > (withSavepoint ? 2 : 1)) throw usage('floe stop needs a job: floe stop [--savepoint [DIR]] <job>');
    return { command: 'stop', job: words.at(-1)!, savepoint: withSavepoint, directory: words.length === 2 ? words[0] : undefined };
  }
  unknown([]);
  if (words.length !== 1) throw usage('floe cancel needs a job: floe cancel <job>');
  return { command: 'cancel', job: words[0] };
}

/** `floe savepoint rekey P --max-parallelism M --out P2`. */
function parseRekey(args: string[]): JobControlCommand {
  const form = 'floe savepoint rekey <savepoint> --max-parallelism M --out <new savepoint>';
  let from: string | undefined;
  let to: string | undefined;
  let maxParallelism: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--max-parallelism') maxParallelism = Number(checkValue(arg, 'integer', args[++i]));
    else if (arg === '--out') to = checkValue(arg, 'path', args[++i]);
    else if (arg.startsWith('-')) throw usage(`floe savepoint rekey does not take ${arg}${suggestion(arg, ['--max-parallelism', '--out'])}: ${form}`);
    else if (from === undefined) from = arg;
    else throw usage(`floe savepoint rekey takes one savepoint, got ${from} and ${arg}: ${form}`);
  }
  if (from === undefined || to === undefined || maxParallelism === undefined) throw usage(`floe savepoint rekey needs a savepoint, --max-parallelism and --out: ${form}`);
  return { command: 'rekey', from, to, maxParallelism };
}

function checkValue(flag: string, kind: Flag['value'], text: string | undefined): string {
  if (kind === 'integer' || kind === 'nonNegative') {
    const n = Number(text);
    const min = kind === 'integer' ? 1 : 0;
    if (text === undefined || text === '' || !Number.isInteger(n) || n < min)
      throw usage(`${flag} needs ${kind === 'integer' ? 'a positive integer' : 'an integer >= 0'}, got ${text ?? 'nothing'}`);
    return text;
  }
  if (text === undefined || text === '' || text.startsWith('-')) throw usage(`${flag} needs ${kind === 'path' ? 'a path' : 'a value'}`);
  return text;
}

/**
 * `none`, `fixed-delay[:ATTEMPTS[:DELAY_MS]]`, `exponential-delay[:INITIAL_MS[:MAX_MS]]` or
 * `failure-rate[:FAILURES[:INTERVAL_MS[:DELAY_MS]]]`, as Flink's restart-strategy settings.
 */
export function parseRestartStrategy(text: string): RestartStrategyOptions {
  const [type, ...parts] = text.split(':');
  const numbers = parts.map((p) => {
    const n = Number(p);
    if (p === '' || !Number.isInteger(n) || n < 0) throw usage(`--restart-strategy ${text}: '${p}' is not an integer >= 0`);
    return n;
  });
  const tooMany = (max: number) => {
    if (numbers.length > max) throw usage(`--restart-strategy ${type} takes at most ${max} numbers, got ${text}`);
  };
  switch (type) {
    case 'none':
      tooMany(0);
      return { type: 'none' };
    case 'fixed-delay':
      tooMany(2);
      return { type: 'fixed-delay', attempts: numbers[0], delayMs: numbers[1] };
    case 'exponential-delay':
      tooMany(2);
      return { type: 'exponential-delay', initialBackoffMs: numbers[0], maxBackoffMs: numbers[1] };
    case 'failure-rate':
      tooMany(3);
      return { type: 'failure-rate', maxFailuresPerInterval: numbers[0], failureRateIntervalMs: numbers[1], delayMs: numbers[2] };
    default:
      throw usage(
        `--restart-strategy takes none, fixed-delay[:ATTEMPTS[:DELAY_MS]], exponential-delay[:INITIAL_MS[:MAX_MS]] or failure-rate[:FAILURES[:INTERVAL_MS[:DELAY_MS]]], got ${text}${suggestion(type, ['none', 'fixed-delay', 'exponential-delay', 'failure-rate'])}`,
      );
  }
}

function usage(message: string): FloeError {
  return new FloeError('INVALID_ARGUMENT', message);
}

/** ` (did you mean --parallelism?)` for the closest known word within a few typos, else ''. */
export function suggestion(word: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length];
}
