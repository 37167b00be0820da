// Which checkpoint a job resumes from, what in its checkpoint directory is garbage, and which id
// its next checkpoint gets. Pure: decisions over what the caller read from the directory.
import { FloeError } from '../core/errors.js';

/** What the caller found about one `chk-<id>` directory. */
export interface FoundCheckpoint {
  id: number;
  hasMetadata: boolean;
  /**
   * Verification problems (empty: restorable). Undefined when not verified: the caller verifies
   * newest first and stops at the first valid checkpoint.
   */
  problems: string[] | undefined;
}

/** A checkpoint directory as read at start. */
export interface CheckpointDirectoryListing {
  /** Every `chk-<id>` directory, any order. */
  checkpoints: FoundCheckpoint[];
  /** The newest id the storage recorded as completed (its `_last-completed` marker), if any. */
  lastCompletedId: number | undefined;
}

/** A checkpoint that completed (so exactly-once sinks may have committed its output) and cannot be restored. */
export interface DamagedCheckpoint {
  id: number;
  why: string;
}

export type RecoveryChoice =
  | { kind: 'restore'; checkpointId: number; skipped: DamagedCheckpoint[] }
  | { kind: 'fresh'; skipped: DamagedCheckpoint[] };

/**
 * Chooses the newest valid checkpoint. Checkpoints newer than it that completed but cannot be
 * restored (damaged files or `_metadata`, a deleted `_metadata`, a deleted directory) are
 * "skipped": falling back past them replays input whose output exactly-once sinks already
 * committed, so that fails with CHECKPOINT_DAMAGED unless `allowFallbackDuplicates`. A directory
 * without `_metadata` newer than the last completed id is an attempt that never completed (a
 * kill while writing it): nothing of it was committed, so it is not damage.
 */
export function chooseRecovery(listing: CheckpointDirectoryListing, options: { allowFallbackDuplicates: boolean; directory: string }): RecoveryChoice {
  const newestFirst = [...listing.checkpoints].sort((a, b) => b.id - a.id);
  const valid = newestFirst.find((c) => c.hasMetadata && c.problems !== undefined && c.problems.length === 0);
  const floor = valid?.id ?? 0;
  const last = listing.lastCompletedId ?? Number.NEGATIVE_INFINITY;
  const skipped: DamagedCheckpoint[] = [];
  for (const c of newestFirst) {
    if (c.id <= floor) break;
    if (c.hasMetadata) skipped.push({ id: c.id, why: (c.problems ?? ['not verified']).join('; ') });
    else if (c.id <= last) skipped.push({ id: c.id, why: `chk-${c.id}/_metadata is missing, but checkpoint ${c.id} had completed` });
  }
  if (last > floor && !listing.checkpoints.some((c) => c.id === last))
    skipped.unshift({ id: last, why: `the directory chk-${last} of completed checkpoint ${last} is gone` });
  if (skipped.length > 0 && !options.allowFallbackDuplicates) throw fallbackRefused(skipped, valid?.id, options.directory);
  return valid === undefined ? { kind: 'fresh', skipped } : { kind: 'restore', checkpointId: valid.id, skipped };
}

function fallbackRefused(skipped: DamagedCheckpoint[], fallback: number | undefined, directory: string): FloeError {
  const ids = skipped.map((s) => s.id).sort((a, b) => a - b);
  const target = fallback === undefined ? 'starting from scratch' : `falling back to checkpoint ${fallback}`;
  return new FloeError(
    'CHECKPOINT_DAMAGED',
    `Cannot resume from ${directory}: completed checkpoint${ids.length > 1 ? 's' : ''} ${ids.join(', ')} cannot be restored ` +
      `(${skipped.map((s) => `${s.id}: ${s.why}`).join('; ')}). Exactly-once sinks may already have committed the output of ${ids.length > 1 ? `checkpoints up to ${ids[ids.length - 1]}` : `checkpoint ${ids[0]}`}; ` +
      `${target} would write that output again. To accept the duplicates, run again with --allow-fallback-duplicates (allowFallbackDuplicates: true); ` +
      `or repair: restore the damaged files from a backup, or remove the sinks' output committed after checkpoint ${fallback ?? 0} and then accept the fallback.`,
  );
}

/** The first id of a new run: after every id the directory has ever used (valid, damaged or abandoned). */
export function nextCheckpointId(listing: CheckpointDirectoryListing, alsoUsed: number[] = []): number {
  return Math.max(0, listing.lastCompletedId ?? 0, ...listing.checkpoints.map((c) => c.id), ...alsoUsed) + 1;
}

/**
 * What to delete at start once the job resumes from `choice`: every `chk-<id>` except the
 * restored checkpoint and the newest `retained - 1` complete ones older than it; abandoned and
 * damaged (accepted) ones go too. Shared files are the caller's: those no kept checkpoint lists.
 */
export function checkpointsToDiscard(listing: CheckpointDirectoryListing, choice: RecoveryChoice, retained: number): number[] {
  const restored = choice.kind === 'restore' ? choice.checkpointId : undefined;
  const keep = new Set<number>();
  if (restored !== undefined) {
    keep.add(restored);
    const older = listing.checkpoints.filter((c) => c.id < restored && c.hasMetadata && (c.problems === undefined || c.problems.length === 0)).sort((a, b) => b.id - a.id);
    for (const c of older.slice(0, Math.max(0, retained - 1))) keep.add(c.id);
  }
  return listing.checkpoints
    .map((c) => c.id)
    .filter((id) => !keep.has(id))
    .sort((a, b) => a - b);
}
