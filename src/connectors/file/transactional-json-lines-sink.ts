// An exactly-once JSON-lines sink on the two-phase-commit base (does I/O). Each transaction is
// an in-progress file in the output directory; pre-commit flushes and fsyncs it; commit renames it
// to `part-<subtask>-<checkpoint>-<id>.jsonl`, which is when its lines become visible. Commit is idempotent:
// when the in-progress file is gone and the part file exists, it was committed before.
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FloeError } from '../../core/errors.js';
import { ensureUsableDirectory } from '../../state/usable-directory.js';
import type { RuntimeContext } from '../../runtime/functions.js';
import { TwoPhaseCommitSink } from '../two-phase-commit/two-phase-commit-sink.js';

/** A transaction: plain data, stored in checkpoints. */
export interface FileTransaction {
  inProgress: string;
  final: string;
}

export class TransactionalJsonLinesSink<T = unknown> extends TwoPhaseCommitSink<T, FileTransaction> {
  private buffers = new Map<string, string[]>();
  private subtask = 0;
  private directoryChecked = false;

  constructor(readonly directory: string) {
    super();
  }

  protected async beginTransaction(ctx: RuntimeContext): Promise<FileTransaction> {
    this.subtask = ctx.getIndexOfThisSubtask();
    if (!this.directoryChecked) {
      // Fails at once (DIRECTORY_UNUSABLE) where a recursive mkdir would spin (under /proc).
      ensureUsableDirectory(this.directory, { what: 'output directory of the transactional sink', option: 'new TransactionalJsonLinesSink(dir)' });
      this.directoryChecked = true;
    }
    await mkdir(this.directory, { recursive: true });
    const id = randomUUID();
    // The final name is fixed at pre-commit, when the checkpoint is known (names sort in commit order).
    return { inProgress: join(this.directory, `.part-${this.subtask}-${id}.inprogress`), final: '' };
  }

  protected write(txn: FileTransaction, value: T): void {
    let buffer = this.buffers.get(txn.inProgress);
    if (buffer === undefined) this.buffers.set(txn.inProgress, (buffer = []));
    buffer.push(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  }

  protected override async flushTransaction(txn: FileTransaction): Promise<void> {
    const buffer = this.buffers.get(txn.inProgress);
    if (buffer === undefined || buffer.length < 1024) return;
    await this.append(txn);
  }

  protected async preCommit(txn: FileTransaction, checkpointId: number): Promise<void> {
    txn.final = join(this.directory, `part-${this.subtask}-${String(checkpointId).padStart(10, '0')}-${txn.inProgress.slice(-20, -12)}.jsonl`);
    await this.append(txn);
    const handle = await open(txn.inProgress, 'a').catch((cause) => {
      throw new FloeError('IO_ERROR', `Transactional sink: cannot open ${txn.inProgress}: ${(cause as Error).message}`, { cause });
    });
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** In-progress files of this subtask from a failed run were never pre-committed: delete them. */
  protected override async abortLeftovers(ctx: RuntimeContext, keep: FileTransaction[]): Promise<void> {
    const prefix = `.part-${ctx.getIndexOfThisSubtask()}-`;
    const kept = new Set(keep.map((t) => t.inProgress));
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch {
      return; // no directory yet: nothing left over
    }
    for (const name of names)
      if (name.startsWith(prefix) && name.endsWith('.inprogress') && !kept.has(join(this.directory, name))) await rm(join(this.directory, name), { force: true });
  }

  protected async commit(txn: FileTransaction): Promise<void> {
    try {
      await rename(txn.inProgress, txn.final);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT' && (await exists(txn.final))) return; // committed before
      throw new FloeError('IO_ERROR', `Transactional sink: cannot commit ${txn.inProgress} -> ${txn.final}: ${(cause as Error).message}`, { cause });
    }
  }

  protected async abort(txn: FileTransaction): Promise<void> {
    this.buffers.delete(txn.inProgress);
    await rm(txn.inProgress, { force: true });
  }

  private async append(txn: FileTransaction): Promise<void> {
    const buffer = this.buffers.get(txn.inProgress) ?? [];
    this.buffers.delete(txn.inProgress);
    const handle = await open(txn.inProgress, 'a');
    try {
      if (buffer.length > 0) await handle.write(buffer.join(''));
    } finally {
      await handle.close();
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads the committed output of a transactional JSON-lines sink: every part file, in name order. */
export async function readCommittedJsonLines<T = unknown>(directory: string): Promise<T[]> {
  const names = (await readdir(directory)).filter((n) => n.startsWith('part-') && n.endsWith('.jsonl')).sort();
  const { readFile } = await import('node:fs/promises');
  const out: T[] = [];
  for (const name of names) {
    const text = await readFile(join(directory, name), 'utf8');
    for (const line of text.split('\n')) if (line.length > 0) out.push(JSON.parse(line) as T);
  }
  return out;
}
