// How much a restore reads (pure): the totals that restore progress lines count toward.
import type { KeyedSnapshotMeta } from './keyed-snapshot.js';
import { rangesToRead } from './disk/materialization-index.js';

/** Bytes a backend owning key groups [lo, hi] reads of a snapshot. */
export function restoreReadBytes(meta: KeyedSnapshotMeta, lo: number, hi: number): number {
  const disk = meta.disk;
  if (disk === undefined) {
    let bytes = 0;
    for (const [keyGroup, , length] of meta.keyGroups) if (keyGroup >= lo && keyGroup <= hi) bytes += length;
    return bytes;
  }
  if (disk.keyGroupRange[0] > hi || disk.keyGroupRange[1] < lo) return 0;
  let bytes = disk.timerBytes;
  for (const file of disk.chain) {
    const ranges = rangesToRead(file, disk.keyGroupRange, lo, hi);
    bytes += ranges === undefined ? file.size : ranges.reduce((n, [start, end]) => n + end - start, 0);
  }
  return bytes;
}

/**
 * Entries a snapshot holds over all its key groups: exact for block snapshots; for the disk
 * format, those of its chain's materialization (changes since may add or remove some).
 */
export function snapshotEntries(meta: KeyedSnapshotMeta): number {
  if (meta.disk === undefined) return meta.entries;
  return meta.disk.chain.reduce((n, f) => n + (f.kind === 'materialization' ? (f.records ?? 0) : 0), 0);
}
