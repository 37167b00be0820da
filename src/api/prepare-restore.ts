// Before each attempt of a job: which checkpoint it restores, the id of its first checkpoint, and
// (at start) removing what no kept checkpoint needs. Reads the directory and hands what it read to
// the pure decisions of checkpoint/recovery-choice.ts; does I/O only through the storage.
import { openSnapshotDirectory } from '../checkpoint/files/file-checkpoint-storage.js';
import type { CheckpointMetadataEnvelope, CheckpointStorage } from '../checkpoint/checkpoint-storage.js';
import { checkpointsToDiscard, chooseRecovery, nextCheckpointId } from '../checkpoint/recovery-choice.js';
import { FloeError } from '../core/errors.js';

export interface RestoreRequest {
  /** The job's own checkpoint storage (undefined without checkpointing). */
  storage: CheckpointStorage | undefined;
  /** 'latest', a checkpoint id of the own storage, a path to a `chk-<id>` or savepoint directory, or nothing. */
  wanted: 'latest' | number | string | undefined;
  /** The first attempt of the job: only then is the directory cleaned. */
  atStart: boolean;
  /** The highest checkpoint id earlier attempts of this job used. */
  highestUsedId: number;
  allowFallbackDuplicates: boolean;
  /** Checkpoints to keep (checkpointing.retained). */
  retained: number;
  log: (message: string) => void;
}

export interface PreparedRestore {
  restore: { envelope: CheckpointMetadataEnvelope; storage: CheckpointStorage } | undefined;
  /** After every id the directory and earlier attempts ever used: ids are never reused. */
  firstCheckpointId: number;
}

/**
 * 'latest' takes the newest valid checkpoint of the own directory and refuses to fall back past a
 * damaged completed one unless `allowFallbackDuplicates` (CHECKPOINT_DAMAGED); an explicit id or
 * path must be valid (CHECKPOINT_INVALID). Savepoint-like paths outside the own directory are
 * never cleaned.
 */
export async function prepareRestore(request: RestoreRequest): Promise<PreparedRestore> {
  const { storage, wanted, log } = request;
  const listing = storage === undefined ? undefined : await storage.readListing({ verify: wanted === 'latest' });
  const firstId = (restoredId: number): number => (listing === undefined ? 1 : nextCheckpointId(listing, [restoredId, request.highestUsedId]));
  if (wanted === undefined) return { restore: undefined, firstCheckpointId: firstId(0) };
  if (typeof wanted === 'string' && wanted !== 'latest') {
    const { storage: s, envelope } = await openSnapshotDirectory(wanted);
    const kind = envelope.kind ?? 'checkpoint';
    log(`[${kind}] restoring from ${kind} ${envelope.checkpointId} in ${s.location}`);
    if (request.atStart) sayWhenFinal(envelope, s.location, log);
    return { restore: { envelope, storage: s }, firstCheckpointId: firstId(envelope.checkpointId) };
  }
  if (storage === undefined || listing === undefined) {
    if (wanted === 'latest') return { restore: undefined, firstCheckpointId: 1 }; // no checkpoints: a restart starts from scratch
    throw new FloeError('INVALID_ARGUMENT', 'restore needs checkpointing.directory (or a path to a chk-<id> directory)');
  }
  if (typeof wanted === 'number') {
    const problems = await storage.verify(wanted);
    if (problems.length > 0) throw new FloeError('CHECKPOINT_INVALID', problems.join('; '));
    log(`[checkpoint] restoring from checkpoint ${wanted} in ${storage.location}`);
    const envelope = await storage.readMetadata(wanted);
    if (request.atStart) sayWhenFinal(envelope, storage.location, log);
    return { restore: { envelope, storage }, firstCheckpointId: firstId(wanted) };
  }
  const choice = chooseRecovery(listing, { allowFallbackDuplicates: request.allowFallbackDuplicates, directory: storage.location });
  for (const s of choice.skipped)
    log(`[checkpoint] checkpoint ${s.id} cannot be restored (${s.why}); falling back past it and accepting duplicate output (allowFallbackDuplicates)`);
  const restoredId = choice.kind === 'restore' ? choice.checkpointId : 0;
  const firstCheckpointId = firstId(restoredId);
  if (request.atStart) {
    const discard = checkpointsToDiscard(listing, choice, request.retained);
    const removed = await storage.removeUnreferenced(discard);
    if (removed.checkpoints > 0 || removed.sharedFiles > 0)
      log(
        `[checkpoint] removed ${removed.checkpoints} checkpoint director${removed.checkpoints === 1 ? 'y' : 'ies'} (${discard.map((id) => `chk-${id}`).join(', ') || 'none'}) ` +
          `and ${removed.sharedFiles} shared file(s) that no retained checkpoint needs`,
      );
  }
  if (choice.kind === 'fresh') return { restore: undefined, firstCheckpointId };
  log(`[checkpoint] restoring from checkpoint ${restoredId} in ${storage.location}`);
  const envelope = await storage.readMetadata(restoredId);
  if (request.atStart) sayWhenFinal(envelope, storage.location, log);
  return { restore: { envelope, storage }, firstCheckpointId };
}

/** A finished job run again restores its final checkpoint: say that there is nothing left to read. */
function sayWhenFinal(envelope: CheckpointMetadataEnvelope, directory: string, log: (message: string) => void): void {
  if (envelope.metadata?.isFinal === true)
    log(`[checkpoint] checkpoint ${envelope.checkpointId} was taken at the end of input: the sources have nothing left to read. Delete ${directory} to start over.`);
}
