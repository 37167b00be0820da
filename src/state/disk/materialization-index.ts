// Where a materialization's records are, by state and key group (pure). A materialization holds
// each state's entries in store order, and stored keys begin with their key group (key-layout.ts),
// so one subtask's key-group range is one contiguous run of bytes per state. The index keeps a
// point every INDEX_STRIDE bytes (at a key-group change), which lets a rescaled restore read only
// its own runs: at most one stride too much per state, however large the file.
import type { DiskSnapshotMeta, MaterializationIndex } from '../keyed-snapshot.js';

/** Bytes between index points (at most): a rescaled restore over-reads up to this much per state. */
export const INDEX_STRIDE = 1 << 20;
/** The stored-key prefix of deferred entries (key-layout.ts): they sort after every key group. */
const DEFERRED = 0xffff;

/** Collects index points while a materialization is written, one call per record before it is written. */
export class MaterializationIndexBuilder {
  private readonly points: Array<[number, number, number]> = [];
  private state = -1;
  private prefix = -1;
  private pointAt = 0;

  constructor(
    private readonly names: string[],
    private readonly stride = INDEX_STRIDE,
  ) {}

  /** `offset`: where the record of `key` (or the state's name definition before it) starts in the file. */
  add(stateIndex: number, key: Uint8Array, offset: number): void {
    const prefix = (key[0] << 8) | key[1];
    if (stateIndex === this.state && prefix === this.prefix) return;
    // A point at each state's first record and at the deferred entries; else at a key-group change a stride on.
    const due = stateIndex !== this.state || (prefix === DEFERRED && this.prefix !== DEFERRED) || offset - this.pointAt >= this.stride;
    this.state = stateIndex;
    this.prefix = prefix;
    if (!due) return;
    this.points.push([stateIndex, prefix, offset]);
    this.pointAt = offset;
  }

  /** `end`: the offset after the last record. */
  finish(end: number): MaterializationIndex {
    return { names: [...this.names], points: this.points, end };
  }
}

/**
 * The byte ranges [start, end) of a materialization that hold every record of key groups
 * [lo, hi] (merged, ascending). Records outside the range may be in them too: the reader filters.
 */
export function rangesForKeyGroups(index: MaterializationIndex, lo: number, hi: number): Array<[number, number]> {
  const { points, end } = index;
  const ranges: Array<[number, number]> = [];
  const add = (start: number, stop: number): void => {
    if (stop <= start) return;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] >= start) last[1] = Math.max(last[1], stop);
    else ranges.push([start, stop]);
  };
  for (let first = 0; first < points.length; ) {
    // The points of one state: [first, next).
    let next = first + 1;
    while (next < points.length && points[next][0] === points[first][0]) next++;
    const stateEnd = next < points.length ? points[next][2] : end;
    let deferred = next;
    for (let i = first; i < next; i++)
      if (points[i][1] === DEFERRED) {
        deferred = i;
        break;
      }
    const sortedEnd = deferred < next ? points[deferred][2] : stateEnd;
    // Sorted part: from the last point at or before `lo` (or the state's start) to the first point past `hi`.
    let start = points[first][2];
    let stop = sortedEnd;
    for (let i = first; i < deferred; i++) {
      const keyGroup = points[i][1];
      if (keyGroup <= lo) start = points[i][2];
      if (keyGroup > hi) {
        stop = points[i][2];
        break;
      }
    }
    add(start, stop);
    // Deferred entries are ordered by their own bytes, not by key group: read them all.
    if (deferred < next) add(points[deferred][2], stateEnd);
    first = next;
  }
  return ranges;
}

/**
 * The byte ranges of a chain file that a backend owning key groups [lo, hi] reads: undefined
 * (the whole file) unless the file's snapshot also held other key groups (a rescale) and the file
 * has an index (materializations written since the index exists).
 */
export function rangesToRead(file: DiskSnapshotMeta['chain'][number], fileKeyGroups: [number, number], lo: number, hi: number): Array<[number, number]> | undefined {
  const partial = fileKeyGroups[0] < lo || fileKeyGroups[1] > hi;
  return partial && file.index !== undefined ? rangesForKeyGroups(file.index, lo, hi) : undefined;
}
