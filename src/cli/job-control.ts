// `floe list | savepoint | stop | cancel`: commands to jobs running on this machine, through the
// registry and each job's control endpoint. Does process I/O (stdout/stderr).
import { resolve } from 'node:path';
import type { JobControlCommand } from './args.js';
import { awaitOperation, callJob } from '../control/control-client.js';
import type { ControlOperation } from '../control/control-server.js';
import { findJob, listJobs } from '../control/job-registry.js';
import { rekeySavepoint } from '../checkpoint/savepoint-rekey.js';

export async function runControlCommand(command: JobControlCommand): Promise<number> {
  if (command.command === 'list') {
    const jobs = listJobs();
    if (command.json) process.stdout.write(`${JSON.stringify(jobs.map(({ token: _token, ...job }) => job))}\n`);
    else if (jobs.length === 0) process.stdout.write('No Floe job runs on this machine.\n');
    else {
      const rows = jobs.map((j) => [j.id, j.name, String(j.pid), j.startedAt, uptime(j.startedAt)]);
      process.stdout.write(table([['ID', 'NAME', 'PID', 'STARTED', 'UPTIME'], ...rows]));
    }
    return 0;
  }
  if (command.command === 'rekey') {
    const result = await rekeySavepoint({ from: resolve(command.from), to: resolve(command.to), maxParallelism: command.maxParallelism, log: (m) => process.stderr.write(`${m}\n`) });
    if (result.operators.length === 0) process.stderr.write('floe: the savepoint holds no keyed state; its copy is unchanged otherwise\n');
    process.stdout.write(`${result.directory}\n`);
    return 0;
  }
  const job = findJob(command.job);
  if (command.command === 'cancel') {
    await callJob(job, 'POST', '/v1/cancel');
    process.stderr.write(`floe: cancelling job ${job.id} (${job.name})\n`);
    return 0;
  }
  const body =
    command.command === 'savepoint'
      ? { ...(command.directory === undefined ? {} : { directory: resolve(command.directory) }) }
      : { savepoint: command.savepoint, ...(command.directory === undefined ? {} : { directory: resolve(command.directory) }) };
  const path = command.command === 'savepoint' ? '/v1/savepoints' : '/v1/stop';
  const what = command.command === 'savepoint' ? 'savepoint' : command.savepoint ? 'stop with a savepoint' : 'stop (last checkpoint, sinks commit)';
  process.stderr.write(`floe: ${what} of job ${job.id} (${job.name})\n`);
  const op = await callJob<ControlOperation>(job, 'POST', path, body);
  const interactive = process.stderr.isTTY === true;
  let lastLine = '';
  const done = await awaitOperation(job, op, (current) => {
    const parts = (current.snapshotsInProgress ?? []).map(
      (s) => `${s.kind} ${s.checkpointId}: ${Math.floor((s.written ?? 0) * 100)}% written, ${s.acknowledged}/${s.total} subtasks done, ${(s.elapsedMs / 1000).toFixed(1)} s`,
    );
    const line = parts.length === 0 ? 'waiting for the job' : parts.join('; ');
    if (line === lastLine) return;
    lastLine = line;
    process.stderr.write(interactive ? `\r\x1b[2K${line}` : `${line}\n`);
  });
  if (interactive && lastLine !== '') process.stderr.write('\n');
  if (done.directory !== undefined) process.stdout.write(`${done.directory}\n`);
  else if (done.checkpointId !== undefined) process.stderr.write(`floe: stopped at checkpoint ${done.checkpointId}\n`);
  return 0;
}

function uptime(startedAt: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(startedAt)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n') + '\n';
}
