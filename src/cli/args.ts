// Parses the `floe` command line. Pure: argv in, a command out (or a usage error).
import { FloeError } from '../core/errors.js';

export interface RunCommand {
  command: 'run';
  jobPath: string;
  parallelism: number | undefined;
  maxParallelism: number | undefined;
  /** No progress line (the summary is still printed). */
  quiet: boolean;
  checkpointDir: string | undefined;
  checkpointIntervalMs: number | undefined;
  fromCheckpoint: string | undefined;
  stateBackend: 'heap' | 'disk' | undefined;
  stateDir: string | undefined;
  /** Resume past damaged completed checkpoints, accepting duplicate output. */
  allowFallbackDuplicates: boolean;
  /** Arguments after the job path that `floe` does not know: passed to the job. */
  jobArgs: string[];
}

export type CliCommand = RunCommand | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage: floe run <job.ts|job.js> [options] [job arguments]

Runs a job file: a module whose default export receives the StreamEnvironment,
  export default (env: StreamEnvironment, args: string[]) => { ... }
TypeScript job files run directly, with no build step.

Options:
  -p, --parallelism N       default parallelism of every operator
  --max-parallelism M       number of key groups (bounds future rescaling)
  --checkpoint-dir DIR      checkpoint into DIR; resume from its latest valid checkpoint
  --checkpoint-interval MS  time between checkpoints (default 1000 with --checkpoint-dir)
  --from-checkpoint PATH    restore the checkpoint PATH (a .../chk-N directory)
  --allow-fallback-duplicates
                            resume from an older checkpoint when newer completed ones
                            are damaged, although exactly-once sinks then commit
                            output again (default: refuse and say which are damaged)
  --state-backend B         heap (default: state in memory) or disk (state in an
                            embedded store on local disk, incremental checkpoints)
  --state-dir DIR           working directory of the disk backend (default: a
                            directory per job under the system's temp directory)
  -q, --quiet               no live progress line
  -h, --help                this text
  -v, --version             the version of floe
Arguments floe does not know are passed to the job (e.g. --unbounded for the demo).
While a job runs, \`kill -USR2 <pid>\` takes a checkpoint on demand. Ctrl-C stops the job
cleanly; a second Ctrl-C stops the process at once.`;

export function parseArgs(argv: string[]): CliCommand {
  if (argv.length === 0 || argv[0] === '-h' || argv[0] === '--help' || argv[0] === 'help') return { command: 'help' };
  if (argv[0] === '-v' || argv[0] === '--version') return { command: 'version' };
  if (argv[0] !== 'run') throw new FloeError('INVALID_ARGUMENT', `Unknown command '${argv[0]}'.\n\n${USAGE}`);
  const run: RunCommand = { command: 'run', jobPath: '', parallelism: undefined, maxParallelism: undefined, quiet: false, checkpointDir: undefined, checkpointIntervalMs: undefined, fromCheckpoint: undefined, stateBackend: undefined, stateDir: undefined, allowFallbackDuplicates: false, jobArgs: [] };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): number => {
      const text = inline ?? argv[++i];
      const n = Number(text);
      if (text === undefined || !Number.isInteger(n) || n < 1) throw new FloeError('INVALID_ARGUMENT', `${flag} needs a positive integer, got ${text ?? 'nothing'}`);
      return n;
    };
    if (flag === '-p' || flag === '--parallelism') run.parallelism = value();
    else if (flag === '--max-parallelism') run.maxParallelism = value();
    else if (flag === '-q' || flag === '--quiet') run.quiet = true;
    else if (flag === '--allow-fallback-duplicates') run.allowFallbackDuplicates = true;
    else if (flag === '--checkpoint-interval') run.checkpointIntervalMs = value();
    else if (flag === '--state-backend') {
      const text = inline ?? argv[++i];
      if (text !== 'heap' && text !== 'disk') throw new FloeError('INVALID_ARGUMENT', `--state-backend takes heap or disk, got ${text ?? 'nothing'}`);
      run.stateBackend = text;
    } else if (flag === '--checkpoint-dir' || flag === '--from-checkpoint' || flag === '--state-dir') {
      const text = inline ?? argv[++i];
      if (text === undefined || text.startsWith('-')) throw new FloeError('INVALID_ARGUMENT', `${flag} needs a path`);
      if (flag === '--checkpoint-dir') run.checkpointDir = text;
      else if (flag === '--state-dir') run.stateDir = text;
      else run.fromCheckpoint = text;
    }
    else if (run.jobPath === '' && !arg.startsWith('-')) run.jobPath = arg;
    else run.jobArgs.push(arg);
  }
  if (run.jobPath === '') throw new FloeError('INVALID_ARGUMENT', `floe run needs a job file.\n\n${USAGE}`);
  return run;
}
