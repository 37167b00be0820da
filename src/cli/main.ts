// The `floe` command: runs job files (TypeScript directly, through tsx) with a live progress
// line and a final summary. Does process I/O: argv, stdout/stderr, signals, exit codes.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StreamEnvironment, type JobClient } from '../api/stream-environment.js';
import { FloeError } from '../core/errors.js';
import { USAGE, parseArgs, type RunCommand } from './args.js';
import { checkJob, formatCheck } from './check.js';
import { runControlCommand } from './job-control.js';
import { startControlServer, type ControlServer } from '../control/control-server.js';
import { registerJob } from '../control/job-registry.js';
import { randomBytes } from 'node:crypto';
import { loadJob } from './load-job.js';
import { ProgressReporter, formatSummary } from './progress.js';

export type { JobFunction } from './load-job.js';

export async function main(argv: string[]): Promise<number> {
  let command: ReturnType<typeof parseArgs>;
  try {
    command = parseArgs(argv);
  } catch (error) {
    return fail(error);
  }
  if (command.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command.command === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`floe ${pkg.version}\n`);
    return 0;
  }
  try {
    if (command.command === 'list' || command.command === 'savepoint' || command.command === 'stop' || command.command === 'cancel' || command.command === 'rekey')
      return await runControlCommand(command);
    if (command.command === 'check') {
      const result = await checkJob(command);
      process.stdout.write(`${formatCheck(result, command.jobPath)}\n`);
      return result.typeErrors.length === 0 ? 0 : 1;
    }
    return await runJob(command);
  } catch (error) {
    return fail(error);
  }
}

async function runJob(command: RunCommand): Promise<number> {
  const jobPath = resolve(command.jobPath);
  const job = await loadJob(jobPath);
  if (command.fromSavepoint !== undefined && !existsSync(resolve(command.fromSavepoint)))
    throw new FloeError('INVALID_ARGUMENT', `--from-savepoint ${command.fromSavepoint}: no such savepoint directory (${resolve(command.fromSavepoint)} does not exist)`);
  if (command.fromCheckpoint !== undefined && !/^\d+$/.test(command.fromCheckpoint) && !existsSync(resolve(command.fromCheckpoint)))
    throw new FloeError('INVALID_ARGUMENT', `--from-checkpoint ${command.fromCheckpoint}: no such checkpoint directory (${resolve(command.fromCheckpoint)} does not exist)`);
  const checkpointing =
    command.checkpointDir === undefined
      ? undefined
      : {
          directory: resolve(command.checkpointDir),
          intervalMs: command.checkpointIntervalMs ?? 1000,
          ...(command.tolerableFailedCheckpoints === undefined ? {} : { tolerableFailures: command.tolerableFailedCheckpoints }),
        };
  const env = StreamEnvironment.create({
    parallelism: command.parallelism,
    maxParallelism: command.maxParallelism,
    jobName: command.jobPath,
    ...(command.stateBackend === 'disk' || (command.stateBackend === undefined && command.stateDir !== undefined)
      ? { stateBackend: { kind: 'disk' as const, ...(command.stateDir === undefined ? {} : { dir: resolve(command.stateDir) }) } }
      : {}),
    checkpointing,
    restore: command.fromSavepoint ?? command.fromCheckpoint ?? (checkpointing === undefined ? undefined : 'latest'),
    allowFallbackDuplicates: command.allowFallbackDuplicates,
    allowNonRestoredState: command.allowNonRestoredState,
    ...(command.restartStrategy === undefined ? {} : { restartStrategy: command.restartStrategy }),
  });
  await job(env, command.jobArgs);
  if (env.executed) return 0; // the job ran itself
  if (!env.hasSinks) {
    process.stderr.write(
      `floe: warning: ${command.jobPath} defines no sink, so nothing ran and its results would go nowhere. End a stream with .print(), .writeAsJsonLines(path) or .addSink(...).\n`,
    );
    return 0;
  }

  // Signal listeners come first: the job takes its checkpoint directory's lock as it starts, and
  // whoever sees that lock may already signal the process.
  let client: JobClient | undefined;
  let interrupted = false;
  // The first signal stops the job cleanly; a second one stops the process at once, even while
  // the job is still busy stopping (a disk backend flushing, a sink closing).
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      process.stderr.write(`\nfloe: ${signal} again: stopping now without waiting for the job\n`);
      // Re-raised with no listener left, the signal's default action ends the process at once:
      // no 'exit' handlers run (the disk store's could wait for the very work that is stuck).
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.kill(process.pid, signal);
      return;
    }
    interrupted = true;
    if (client === undefined) return; // listeners run between events: the job exists by then
    const running = client;
    if (env.checkpointDirectory === undefined) {
      process.stderr.write(`\nfloe: ${signal}: stopping the job (press Ctrl-C again to stop at once)\n`);
      running.cancel();
      return;
    }
    // Checkpointing is on: stop gracefully, so the sinks commit everything up to a last checkpoint.
    process.stderr.write(`\nfloe: ${signal}: taking a last checkpoint and committing, then stopping (press Ctrl-C again to stop at once)\n`);
    running.stop().then(
      (id) => process.stderr.write(`floe: stopped at checkpoint ${id}; run the same command again to resume from it\n`),
      (error) => {
        process.stderr.write(`floe: the last checkpoint failed (${(error as Error).message}); stopping without it (the next run resumes from the last completed checkpoint)\n`);
        running.cancel();
      },
    );
  };
  // `kill -USR2 <pid>` takes a checkpoint now (checkpointing must be on).
  const onCheckpointSignal = (): void => {
    client?.triggerCheckpoint().then(
      (id) => process.stderr.write(`\n[checkpoint] checkpoint ${id} completed (triggered by SIGUSR2)\n`),
      (error) => process.stderr.write(`\n[checkpoint] the triggered checkpoint failed: ${(error as Error).message}\n`),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGUSR2', onCheckpointSignal);
  let progress: ProgressReporter | undefined;
  let control: ControlServer | undefined;
  let unregister: (() => void) | undefined;
  try {
    const running = env.executeAsync();
    client = running;
    // `floe list | savepoint | stop | cancel` reach the job through its control endpoint.
    const jobId = randomBytes(4).toString('hex');
    const startedAt = new Date().toISOString();
    const savepointDirectory = env.checkpointDirectory === undefined ? undefined : resolve(dirname(resolve(env.checkpointDirectory)), 'savepoints');
    try {
      control = await startControlServer(running, { jobId, savepointDirectory, startedAt });
      unregister = registerJob({ id: jobId, name: running.jobName, pid: process.pid, port: control.port, token: control.token, startedAt, savepointDirectory });
    } catch (error) {
      // The job runs anyway; only the commands that reach it (list, savepoint, stop, cancel) cannot.
      process.stderr.write(
        `floe: warning: this job cannot be reached by floe list/savepoint/stop/cancel: ${(error as Error).message} (set FLOE_HOME to a writable directory)\n`,
      );
    }
    progress = command.quiet ? undefined : new ProgressReporter(() => running.metrics());
    progress?.start();
    try {
      const result = await running.result;
      progress?.stop();
      const stopped = result.stoppedAtCheckpoint !== undefined;
      const how = result.stoppedWithSavepoint !== undefined ? `stopped with savepoint ${result.stoppedWithSavepoint}` : stopped ? `stopped at checkpoint ${result.stoppedAtCheckpoint}` : 'finished';
      process.stderr.write(`${formatSummary(running.jobName, running.metrics(), how)}\n`);
      return stopped && interrupted ? 130 : 0;
    } catch (error) {
      progress?.stop();
      if (interrupted && error instanceof FloeError && error.code === 'JOB_CANCELLED') {
        process.stderr.write(`${formatSummary(running.jobName, running.metrics(), 'cancelled')}\n`);
        return 130;
      }
      throw error;
    }
  } finally {
    unregister?.();
    await control?.close(2000);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGUSR2', onCheckpointSignal);
  }
}

function fail(error: unknown): number {
  if (error instanceof FloeError) {
    process.stderr.write(`floe: error [${error.code}]: ${error.message}\n`);
    const cause = error.cause;
    if (cause instanceof Error && cause.stack && error.code === 'USER_FUNCTION_FAILED') {
      // Enough of the user's stack to find the line; compiled job frames can be very long.
      const lines = cause.stack.split('\n').slice(0, 8).map((l) => (l.length > 240 ? `${l.slice(0, 240)}…` : l));
      process.stderr.write(`caused by: ${lines.join('\n')}\n`);
    }
    return error.code === 'INVALID_ARGUMENT' ? 2 : 1;
  }
  process.stderr.write(`floe: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}
