import { describe, expect, it } from 'vitest';
import { parseArgs, parseRestartStrategy, suggestion, type RunCommand } from '../../../src/cli/args.js';

const run = (...argv: string[]) => parseArgs(['run', ...argv]) as RunCommand;

describe('floe run arguments', () => {
  it('takes options before and after the job file and passes unknown ones after it to the job', () => {
    const r = run('-p', '2', 'job.ts', '--events', '100', '--checkpoint-dir', 'cp', '-q');
    expect(r).toMatchObject({ jobPath: 'job.ts', parallelism: 2, checkpointDir: 'cp', quiet: true, jobArgs: ['--events', '100'] });
  });

  it('passes everything after -- to the job, floe options included', () => {
    expect(run('job.ts', '--', '-p', '3', 'x').jobArgs).toEqual(['-p', '3', 'x']);
    expect(run('job.ts', '--', '-p', '3').parallelism).toBeUndefined();
  });

  it('rejects an unknown option before the job file and suggests the closest one', () => {
    expect(() => run('--paralellism', '2', 'job.ts')).toThrow(/Unknown option --paralellism \(did you mean --parallelism\?\)/);
    expect(() => run('--checkpoint-directory', 'x', 'job.ts')).toThrow(/Unknown option --checkpoint-directory/);
    expect(() => run('--bogus', 'job.ts')).toThrow(/Job arguments go after the job file/);
  });

  it('rejects --checkpoint-interval and --tolerable-failed-checkpoints without --checkpoint-dir', () => {
    expect(() => run('job.ts', '--checkpoint-interval', '500')).toThrow(/--checkpoint-interval needs --checkpoint-dir/);
    expect(() => run('job.ts', '--tolerable-failed-checkpoints', '3')).toThrow(/needs --checkpoint-dir/);
    expect(run('job.ts', '--checkpoint-dir', 'cp', '--checkpoint-interval', '500', '--tolerable-failed-checkpoints', '0')).toMatchObject({
      checkpointIntervalMs: 500,
      tolerableFailedCheckpoints: 0,
    });
  });

  it('parses every restart strategy Flink has, with optional numbers', () => {
    expect(run('job.ts', '--restart-strategy', 'none').restartStrategy).toEqual({ type: 'none' });
    expect(parseRestartStrategy('fixed-delay:3:500')).toEqual({ type: 'fixed-delay', attempts: 3, delayMs: 500 });
    expect(parseRestartStrategy('fixed-delay')).toEqual({ type: 'fixed-delay', attempts: undefined, delayMs: undefined });
    expect(parseRestartStrategy('exponential-delay:100:2000')).toEqual({ type: 'exponential-delay', initialBackoffMs: 100, maxBackoffMs: 2000 });
    expect(parseRestartStrategy('failure-rate:2:60000:10')).toEqual({ type: 'failure-rate', maxFailuresPerInterval: 2, failureRateIntervalMs: 60000, delayMs: 10 });
    expect(run('job.ts', '--restart-strategy=fixed-delay:1:0').restartStrategy).toEqual({ type: 'fixed-delay', attempts: 1, delayMs: 0 });
  });

  it('explains a malformed restart strategy', () => {
    expect(() => parseRestartStrategy('fixed-dealy:3')).toThrow(/did you mean fixed-delay\?/);
    expect(() => parseRestartStrategy('fixed-delay:x')).toThrow(/'x' is not an integer/);
    expect(() => parseRestartStrategy('none:1')).toThrow(/at most 0 numbers/);
  });

  it('names what a numeric option needs', () => {
    expect(() => run('job.ts', '-p', '0')).toThrow(/-p needs a positive integer, got 0/);
    expect(() => run('job.ts', '--checkpoint-dir')).toThrow(/--checkpoint-dir needs a path/);
    expect(() => run('job.ts', '--state-backend', 'rocks')).toThrow(/heap or disk/);
  });

  it('suggests only near misses', () => {
    expect(suggestion('--quite', ['--quiet', '--parallelism'])).toBe(' (did you mean --quiet?)');
    expect(suggestion('--xyz', ['--quiet', '--parallelism'])).toBe('');
  });
});
