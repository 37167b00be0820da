// How a split source comes back from a checkpoint: its enumerator's state (in the checkpoint's
// job-level metadata) and its readers' splits (in each subtask's file). At the same parallelism
// every reader gets its own splits back; at another, every split goes back to the enumerator,
// which assigns each to exactly one new reader. Pure: the caller read the files.
import { Packr } from 'msgpackr';
import { FloeError } from '../core/errors.js';

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
