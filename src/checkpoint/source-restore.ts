// How a split source comes back from a checkpoint: its enumerator's state (in the checkpoint's
// job-level metadata) and its readers' splits (in each subtask's file). At the same parallelism
// every reader gets its own splits back; at another, every split goes back to the enumerator,
// which assigns each to exactly one new reader. Pure: the caller read the files.
import { Packr } from 'msgpackr';
import { FloeError } from '../core/errors.js';
import type { TaskSnapshotFile } from './restore-assignment.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** A split as restore sees it: plain data with an id unique within its source. */
export interface StoredSplit {
  id: string;
}

/** Per source uid, what the checkpoint's `_metadata` holds (`metadata.sources`). */
export type SourceCheckpointMetadata = Record<string, { enumerator: string }>;

/** The enumerator's state as stored in `_metadata` (JSON): msgpack, base64. */
export function encodeEnumeratorState(state: unknown): string {
  return Buffer.from(packr.pack(state)).toString('base64');
}

export function decodeEnumeratorState(encoded: string): unknown {
  return packr.unpack(Buffer.from(encoded, 'base64'));
}

/** The splits of a subtask file's reader state, or undefined when it is not split-based (Floe 0.1). */
export function readerSplitsOf(source: unknown): StoredSplit[] | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const splits = (source as { splits?: unknown }).splits;
  return Array.isArray(splits) && splits.every((s) => typeof s === 'object' && s !== null && typeof (s as StoredSplit).id === 'string') ? (splits as StoredSplit[]) : undefined;
}

export interface SourceRestorePlan<S extends StoredSplit = StoredSplit> {
  /** Per new subtask: the splits its reader starts with. */
  readers: S[][];
  /** Splits the enumerator gets back (`addSplitsBack`), by the old subtask that held them. */
  splitsBack: Array<{ subtask: number; splits: S[] }>;
}

/**
 * Where the splits of the checkpoint's readers go: at the same parallelism each new reader takes
 * its old reader's splits (nothing moves); at another parallelism all of them go back to the
 * enumerator, which decides the new assignment (so a source with affinities, or one that balances
 * by request, keeps its own policy). Fails when two readers held the same split: restoring it
 * would read its records twice.
 */
export function planSourceRestore<S extends StoredSplit>(input: { uid: string; parallelism: number; old: Array<{ index: number; splits: S[] }> }): SourceRestorePlan<S> {
  const holder = new Map<string, number>();
  for (const { index, splits } of input.old)
    for (const split of splits) {
      const other = holder.get(split.id);
      if (other !== undefined)
        throw new FloeError('CHECKPOINT_INVALID', `Source '${input.uid}': split '${split.id}' is held by subtasks ${other} and ${index} in the checkpoint; restoring it would read its records twice`, {
          context: { operator: input.uid },
        });
      holder.set(split.id, index);
    }
  const readers: S[][] = Array.from({ length: input.parallelism }, () => []);
  const sameParallelism = input.old.length === input.parallelism && input.old.every((o) => o.index < input.parallelism);
  if (sameParallelism) {
    for (const { index, splits } of input.old) readers[index] = [...splits];
    return { readers, splitsBack: [] };
  }
  const splitsBack = [...input.old].sort((a, b) => a.index - b.index).filter((o) => o.splits.length > 0).map((o) => ({ subtask: o.index, splits: [...o.splits] }));
  return { readers, splitsBack };
}

/** A source of the job being restored, as restore sees it. */
export interface RestoringSource {
  uid: string;
  parallelism: number;
  /** The source's conversion of positions written before split sources (Source.restoreLegacyPositions). */
  restoreLegacyPositions?(positions: readonly unknown[]): { readers: StoredSplit[][]; enumerator: unknown };
}

/** What one source restores: its enumerator's state, the splits given back to it, each reader's splits. */
export interface SourceRestore extends SourceRestorePlan {
  enumeratorState: unknown;
  /** True when the checkpoint was written before split sources and converted. */
  converted: boolean;
}

/**
 * What every source of the job restores from a checkpoint: `stored` is the checkpoint's
 * `metadata.sources`, `old(uid)` the subtask files of the chain the source heads. A source the
 * checkpoint has nothing for is left out (it starts afresh, as an operator added since does). A
 * checkpoint written before split sources (no `metadata.sources`) is converted by the source;
 * one it cannot convert is refused (STATE_NOT_RESTORED).
 */
export function planSourceRestores(input: {
  checkpointId: number;
  stored: SourceCheckpointMetadata | undefined;
  sources: RestoringSource[];
  old: (uid: string) => Array<{ index: number; file: TaskSnapshotFile }>;
}): Map<string, SourceRestore> {
  const plans = new Map<string, SourceRestore>();
  for (const source of input.sources) {
    const { uid } = source;
    const old = input.old(uid);
    let enumeratorState: unknown;
    let readers: Array<{ index: number; splits: StoredSplit[] }>;
    let converted = false;
    if (input.stored !== undefined) {
      const entry = input.stored[uid];
      if (entry === undefined) continue;
      enumeratorState = decodeEnumeratorState(entry.enumerator);
      readers = old.map((o) => ({ index: o.index, splits: readerSplitsOf(o.file.source) ?? [] }));
    } else {
      if (old.every((o) => o.file.source === undefined)) continue; // nothing was stored: it started afresh then too
      if (source.restoreLegacyPositions === undefined)
        throw new FloeError(
          'STATE_NOT_RESTORED',
          `Checkpoint ${input.checkpointId} was written by an older Floe whose sources kept a read position instead of splits, and source '${uid}' cannot convert it (it has no restoreLegacyPositions). Restore it with the Floe that wrote it, or start the job afresh.`,
          { context: { operator: uid } },
        );
      const positions: unknown[] = [];
      for (const o of old) positions[o.index] = o.file.source;
      const legacy = source.restoreLegacyPositions(positions);
      enumeratorState = legacy.enumerator;
      readers = legacy.readers.map((splits, index) => ({ index, splits }));
      converted = true;
    }
    plans.set(uid, { ...planSourceRestore({ uid, parallelism: source.parallelism, old: readers }), enumeratorState, converted });
  }
  return plans;
}
