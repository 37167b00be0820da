// Which jobs run on this machine (does I/O): each running `floe run` writes one file into the
// registry directory with its id, name, pid, control port and token (readable by this user only),
// and removes it when it ends. A file whose process is gone (kill -9) is stale and is removed by
// whoever lists the jobs. The directory is $FLOE_HOME/jobs, by default ~/.floe/jobs.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { FloeError } from '../core/errors.js';

/** One running job, as its registry file records it. */
export interface RegisteredJob {
  id: string;
  name: string;
  pid: number;
  /** The control endpoint: http://127.0.0.1:<port>. */
  port: number;
  /** Every request carries it: `Authorization: Bearer <token>`. */
  token: string;
  startedAt: string;
  /** Where `floe savepoint <job>` writes when no directory is given. */
  savepointDirectory: string | undefined;
}

export function registryDirectory(): string {
  return join(process.env.FLOE_HOME ?? join(homedir(), '.floe'), 'jobs');
}

/** Records `job`; returns a function that removes the record again. */
export function registerJob(job: RegisteredJob): () => void {
  const dir = registryDirectory();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${job.id}.json`);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(job, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return () => rmSync(path, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, but another user's
  }
}

/** Running jobs, oldest first; records of processes that are gone are removed. */
export function listJobs(): RegisteredJob[] {
  const dir = registryDirectory();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const jobs: RegisteredJob[] = [];
  for (const name of names) {
    let job: RegisteredJob;
    try {
      job = JSON.parse(readFileSync(join(dir, name), 'utf8')) as RegisteredJob;
    } catch {
      continue; // being written, or not ours
    }
    if (isAlive(job.pid)) jobs.push(job);
    else rmSync(join(dir, name), { force: true });
  }
  return jobs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** The running job `ref` names: its id (or a unique prefix of it), or its name (or job file's base name) when only one job has it. */
export function findJob(ref: string): RegisteredJob {
  const jobs = listJobs();
  const byId = jobs.filter((j) => j.id === ref);
  if (byId.length === 1) return byId[0];
  // A job run by `floe run` is named after its file: its base name (without extension) names it too.
  const shortName = (name: string) => basename(name).replace(/\.[cm]?[jt]s$/, '');
  const matches = jobs.filter((j) => j.id.startsWith(ref) || j.name === ref || shortName(j.name) === ref);
  if (matches.length === 1) return matches[0];
  if (matches.length === 0)
    throw new FloeError(
      'INVALID_ARGUMENT',
      jobs.length === 0 ? `No running job is named '${ref}': no Floe job runs on this machine (as this user)` : `No running job is named '${ref}'; running: ${jobs.map((j) => `${j.id} (${j.name})`).join(', ')}`,
    );
  throw new FloeError('INVALID_ARGUMENT', `'${ref}' names ${matches.length} running jobs: ${matches.map((j) => `${j.id} (${j.name})`).join(', ')}; give the id`);
}
