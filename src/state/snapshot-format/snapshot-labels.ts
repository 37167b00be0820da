// Which keyed snapshots hold key-group blocks (block-codec.ts), and the errors a restore gives for
// snapshots it cannot read, worded so that the user knows what to do. Pure.
import { FloeError } from '../../core/errors.js';
import type { KeyedSnapshotMeta } from '../keyed-snapshot.js';
import { READABLE_BLOCK_FORMATS } from './block-codec.js';

/** `meta.backend` of a snapshot taken with `canonical: true` (savepoints): blocks, restored by every backend. */
export const CANONICAL_BACKEND = 'canonical';

/** True when the snapshot's data is key-group blocks: canonical snapshots, and heap checkpoints (the same bytes). */
export function holdsBlocks(meta: Pick<KeyedSnapshotMeta, 'backend'>): boolean {
  return meta.backend === CANONICAL_BACKEND || meta.backend === 'heap';
}

/** Throws CHECKPOINT_INVALID unless this version reads the snapshot's block format. */
export function checkBlockFormat(meta: Pick<KeyedSnapshotMeta, 'backend' | 'format'>, place: string): void {
  if (READABLE_BLOCK_FORMATS.includes(meta.format)) return;
  throw new FloeError(
    'CHECKPOINT_INVALID',
    `${place}: the ${meta.backend} snapshot is in block format ${JSON.stringify(meta.format)}, which this version of Floe cannot read (it reads formats ${READABLE_BLOCK_FORMATS.join(' and ')}); restore it with the Floe version that wrote it, or with a newer one`,
  );
}

/** A block that does not parse: names the key group, the snapshot kind and the fix. */
export function unreadableBlock(place: string, meta: Pick<KeyedSnapshotMeta, 'backend'>, keyGroup: number, cause: unknown): FloeError {
  if (cause instanceof FloeError) return cause;
  return new FloeError(
    'CHECKPOINT_INVALID',
    `${place}: key group ${keyGroup} of the ${meta.backend} snapshot cannot be read (${(cause as Error)?.message ?? String(cause)}); the snapshot is damaged: restore an older checkpoint or savepoint`,
    { cause },
  );
}

/**
 * The error of a backend asked to restore a snapshot it cannot read (another backend's own
 * checkpoint format): says which backend wrote it and how to move the state.
 */
export function foreignSnapshotError(place: string, meta: Pick<KeyedSnapshotMeta, 'backend'>, runs: string): FloeError {
  const from = meta.backend;
  return new FloeError(
    'CHECKPOINT_INVALID',
    `${place}: the checkpoint was taken with the ${from} state backend in its own format, and this job runs the ${runs} backend. ` +
      `Restore it with the ${from} backend (stateBackend: '${from}', or --state-backend ${from}); to move the state to the ${runs} backend, ` +
      `take a savepoint of the job running on the ${from} backend (savepoints are written in the canonical format, which every backend restores) and restore the ${runs} job from that savepoint`,
  );
}
