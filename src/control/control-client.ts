// Talks to a running job's control endpoint (does I/O): what `floe savepoint|stop|cancel` use.
import { request } from 'node:http';
import { FloeError, type FloeErrorCode } from '../core/errors.js';
import type { PendingSnapshotInfo } from '../checkpoint/coordinator/checkpoint-coordinator.js';
import type { ControlOperation } from './control-server.js';
import type { RegisteredJob } from './job-registry.js';

/** One request to `job`'s endpoint; rejects with the endpoint's error (code and message). */
export function callJob<T>(job: RegisteredJob, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port: job.port,
        method,
        path,
        headers: { authorization: `Bearer ${job.token}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let parsed: any;
          try {
            parsed = JSON.parse(text);
          } catch {
            return reject(new FloeError('JOB_FAILED', `Job ${job.id} answered ${res.statusCode} with something that is not JSON`));
          }
          if ((res.statusCode ?? 500) >= 400) return reject(new FloeError((parsed?.error?.code ?? 'JOB_FAILED') as FloeErrorCode, parsed?.error?.message ?? `HTTP ${res.statusCode}`));
          resolve(parsed as T);
        });
      },
    );
    req.on('error', (error) =>
      reject(new FloeError('INVALID_ARGUMENT', `Cannot reach job ${job.id} (${job.name}) at 127.0.0.1:${job.port}: ${error.message}; is it still running? (floe list)`)),
    );
    req.end(payload);
  });
}

/** An operation as polled: with the checkpoints and savepoints in progress while it runs. */
export type PolledOperation = ControlOperation & { snapshotsInProgress?: PendingSnapshotInfo[] };

/**
 * Polls operation `op` until it completes or fails; `onProgress` hears about it every `everyMs`.
 * Resolves with the completed operation, rejects with its failure.
 */
export async function awaitOperation(
  job: RegisteredJob,
  op: ControlOperation,
  onProgress: (op: PolledOperation) => void,
  everyMs = 250,
): Promise<ControlOperation> {
  for (;;) {
    const current = await callJob<PolledOperation>(job, 'GET', `/v1/operations/${op.id}`);
    if (current.status === 'completed') return current;
    if (current.status === 'failed') throw new FloeError((current.error?.code ?? 'JOB_FAILED') as FloeErrorCode, current.error?.message ?? 'the operation failed');
    onProgress(current);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
