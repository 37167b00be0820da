// The control endpoint of a running job (does I/O): a small JSON-over-HTTP API on 127.0.0.1 (a
// random port) through which `floe savepoint|stop|cancel` and later the dashboard reach the job.
// Every request must carry the job's token (`Authorization: Bearer <token>`, from the registry
// file, readable by this user only). Savepoints and stops take a while: they start an operation
// whose status is polled. The routes are documented in docs/control-api.md.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { JobClient } from '../api/stream-environment.js';
import { FloeError } from '../core/errors.js';

/** An operation started through the endpoint (a savepoint, a stop). */
export interface ControlOperation {
  id: string;
  kind: 'savepoint' | 'stop-with-savepoint' | 'stop' | 'checkpoint';
  status: 'in-progress' | 'completed' | 'failed';
  startedAt: string;
  /** A savepoint's directory, once it completed. */
  directory?: string;
  /** The checkpoint a graceful stop or a triggered checkpoint completed. */
  checkpointId?: number;
  error?: { code: string; message: string };
}

export interface ControlServer {
  readonly port: number;
  readonly token: string;
  /**
   * Closes the endpoint once every finished operation was read by whoever started it (a stop's
   * caller learns the savepoint's directory after the job ended), at most after `graceMs`.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ControlServerOptions {
  jobId: string;
  /** Where savepoints go when a request names no directory (undefined: a request must name one). */
  savepointDirectory: string | undefined;
  startedAt: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Serves `client` on 127.0.0.1 (a random port); resolves once it listens. */
export async function startControlServer(client: JobClient, options: ControlServerOptions): Promise<ControlServer> {
  const token = randomBytes(24).toString('hex');
  const operations = new Map<string, ControlOperation>();
  /** Finished operations whose outcome was read. */
  const delivered = new Set<string>();
  let nextOperation = 1;

  const start = (kind: ControlOperation['kind'], work: () => Promise<{ directory?: string; checkpointId?: number }>): ControlOperation => {
    const op: ControlOperation = { id: String(nextOperation++), kind, status: 'in-progress', startedAt: new Date().toISOString() };
    operations.set(op.id, op);
    work().then(
      (done) => Object.assign(op, { status: 'completed' }, done),
      (error: unknown) => Object.assign(op, { status: 'failed', error: { code: error instanceof FloeError ? error.code : 'FAILED', message: (error as Error).message } }),
    );
    return op;
  };

  const savepointDirectory = (body: Record<string, unknown>): string => {
    const dir = typeof body.directory === 'string' ? body.directory : options.savepointDirectory;
    if (dir === undefined) throw new HttpError(400, 'INVALID_ARGUMENT', 'No savepoint directory: name one (the job has no checkpoint directory to put savepoints next to)');
    return resolve(dir);
  };

  const describe = () => ({
    id: options.jobId,
    name: client.jobName,
    pid: process.pid,
    startedAt: options.startedAt,
    checkpointDirectory: client.checkpointDirectory,
    savepointDirectory: options.savepointDirectory,
    snapshotsInProgress: client.snapshotsInProgress(),
    metrics: client.metrics(),
  });

  const route = async (method: string, path: string, body: Record<string, unknown>): Promise<[number, unknown]> => {
    if (method === 'GET' && path === '/v1/job') return [200, describe()];
    if (method === 'POST' && path === '/v1/savepoints') {
      const dir = savepointDirectory(body);
      return [202, start('savepoint', async () => ({ directory: await client.triggerSavepoint(dir) }))];
    }
    if (method === 'POST' && path === '/v1/checkpoints') return [202, start('checkpoint', async () => ({ checkpointId: await client.triggerCheckpoint() }))];
    if (method === 'POST' && path === '/v1/stop') {
      if (body.savepoint === true || typeof body.directory === 'string') {
        const dir = savepointDirectory(body);
        return [202, start('stop-with-savepoint', async () => ({ directory: await client.stopWithSavepoint(dir) }))];
      }
      return [202, start('stop', async () => ({ checkpointId: await client.stop() }))];
    }
    if (method === 'POST' && path === '/v1/cancel') {
      client.cancel();
      return [202, { cancelled: true }];
    }
    const op = /^\/v1\/operations\/(\d+)$/.exec(path);
    if (method === 'GET' && op !== null) {
      const found = operations.get(op[1]);
      if (found === undefined) throw new HttpError(404, 'NOT_FOUND', `No operation ${op[1]}`);
      if (found.status !== 'in-progress') delivered.add(found.id);
      return [200, { ...found, snapshotsInProgress: found.status === 'in-progress' ? client.snapshotsInProgress() : [] }];
    }
    throw new HttpError(404, 'NOT_FOUND', `No route ${method} ${path} (see docs/control-api.md)`);
  };

  const expected = Buffer.from(`Bearer ${token}`);
  const authorized = (req: IncomingMessage): boolean => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const send = (res: ServerResponse, status: number, payload: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(payload)}\n`);
  };

  const server = createServer((req, res) => {
    if (!authorized(req)) return send(res, 401, { error: { code: 'UNAUTHORIZED', message: 'Missing or wrong token: send Authorization: Bearer <token> from the job registry file' } });
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 65_536) req.destroy();
    });
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        if (text.trim() !== '') body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return send(res, 400, { error: { code: 'INVALID_ARGUMENT', message: 'The request body is not JSON' } });
      }
      const path = (req.url ?? '/').split('?')[0];
      route(req.method ?? 'GET', path, body).then(
        ([status, payload]) => send(res, status, payload),
        (error: unknown) => {
          if (error instanceof HttpError) send(res, error.status, { error: { code: error.code, message: error.message } });
          else send(res, 500, { error: { code: error instanceof FloeError ? error.code : 'INTERNAL', message: (error as Error).message } });
        },
      );
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveListen());
  });
  server.unref(); // the job, not its control endpoint, keeps the process alive
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    token,
    close: async (graceMs = 0) => {
      const until = Date.now() + graceMs;
      const unread = () => [...operations.values()].some((op) => !delivered.has(op.id) && op.kind !== 'checkpoint');
      while (unread() && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
    },
  };
}
