// Finds the files of a file source, one split per file, and hands them to readers that ask (Flink's
// StaticFileSplitEnumerator; with `watch`, its ContinuousFileSplitEnumerator: the directory is
// listed again every interval and new files become splits). Lists directories (I/O) at start and
// through the context's asynchronous calls.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FloeError } from '../../core/errors.js';
import type { SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../../runtime/source.js';

/** One file and how far it was read: `offset` bytes (a line boundary), `line` lines. */
export interface FileSplit extends SourceSplit {
  path: string;
  offset: number;
  line: number;
  /** Lines still to skip before reading: only in splits converted from checkpoints of Floe 0.1 (which counted lines). */
  skipLines?: number;
}

/**
 * Files not yet assigned, and the paths made splits (so a restore or a new listing never reads a
 * file twice). A watching source forgets a path once a listing no longer shows it, so this stays
 * as large as the directory (a file removed and later written again under the same name is read
 * again, as a new file).
 */
export interface FileEnumeratorState {
  pending: FileSplit[];
  seen: string[];
}

export interface FileSplitEnumeratorOptions {
  /** A file, or a directory whose files (not hidden: no leading '.' or '_') are read. */
  path: string;
  /** List the directory again every `intervalMs` for new files; the source is then unbounded. */
  watch?: { intervalMs: number };
  /** How errors name the source ("JSON lines source 'events'"). */
  describe: string;
}

/** A new, unread split of the file at `path`. */
export function fileSplit(path: string): FileSplit {
  return { id: path, path, offset: 0, line: 0 };
}

/**
 * The files at `path`: the file itself, or the files directly in the directory, sorted by name;
 * names starting with '.' or '_' are left out (files being written, as Flink's default filter).
 */
export async function listFiles(path: string, describe: string): Promise<string[]> {
  try {
    if (!(await stat(path)).isDirectory()) return [path];
    const entries = await readdir(path, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && !e.name.startsWith('.') && !e.name.startsWith('_'))
      .map((e) => e.name)
      .sort()
      .map((name) => join(path, name));
  } catch (cause) {
    throw new FloeError('IO_ERROR', `${describe}: cannot open ${path}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Pull-based: a reader asks when it has nothing to read and gets the next pending file (in name
 * order), so large and small files balance over the readers. Bounded (no `watch`): lists once
 * at the first start and tells a reader there are no more files once none is pending. Watching:
 * readers that asked wait until a listing finds a new file.
 */
export class FileSplitEnumerator implements SplitEnumerator<FileSplit, FileEnumeratorState> {
  private readonly pending: FileSplit[];
  private readonly seen: Set<string>;
  /** Readers that asked and got nothing yet, in the order they asked. */
  private readonly awaiting = new Set<number>();

  constructor(
    private readonly ctx: SplitEnumeratorContext<FileSplit>,
    private readonly options: FileSplitEnumeratorOptions,
    private readonly restored?: FileEnumeratorState,
  ) {
    this.pending = [...(restored?.pending ?? [])];
    this.seen = new Set(restored?.seen ?? []);
  }

  async start(): Promise<void> {
    const { path, watch, describe } = this.options;
    // A restored bounded source reads what it had listed, as Flink's static enumerator; a watching one lists on.
    if (this.restored === undefined) this.addDiscovered(await listFiles(path, describe));
    if (watch !== undefined)
      this.ctx.callAsync(
        () => listFiles(path, describe),
        (paths) => {
          const found = this.addDiscovered(paths);
          this.forgetGone(paths);
          if (found > 0) this.ctx.log(`found ${found} new file(s) in ${path}`);
        },
        { initialDelayMs: watch.intervalMs, periodMs: watch.intervalMs },
      );
  }

  handleSplitRequest(subtask: number): void {
    this.awaiting.add(subtask);
    this.assignAwaiting();
  }

  /** Splits of files being read when the source was rescaled: read first. */
  addSplitsBack(splits: FileSplit[]): void {
    this.pending.unshift(...splits);
    this.assignAwaiting();
  }

  snapshotState(): FileEnumeratorState {
    return { pending: [...this.pending], seen: [...this.seen] };
  }

  /** Makes a split of every path not seen before and hands them to waiting readers; returns how many were new. */
  private addDiscovered(paths: string[]): number {
    let found = 0;
    for (const path of paths) {
      if (this.seen.has(path)) continue;
      this.seen.add(path);
      this.pending.push(fileSplit(path));
      found++;
    }
    this.assignAwaiting();
    return found;
  }

  /**
   * Forgets the seen paths a listing no longer shows (processed files that were moved or deleted),
   * so `seen` does not grow with every file a long-running source ever read. A pending path stays:
   * its split is still to be read.
   */
  private forgetGone(listed: string[]): void {
    const present = new Set(listed);
    const waiting = new Set(this.pending.map((split) => split.path));
    for (const path of this.seen) if (!present.has(path) && !waiting.has(path)) this.seen.delete(path);
  }

  private assignAwaiting(): void {
    for (const subtask of this.awaiting) {
      const split = this.pending.shift();
      if (split !== undefined) this.ctx.assignSplit(split, subtask);
      else if (this.options.watch === undefined) this.ctx.signalNoMoreSplits(subtask);
      else return;
      this.awaiting.delete(subtask);
    }
  }
}
