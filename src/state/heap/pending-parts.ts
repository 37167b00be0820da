// Which parts of a heap backend's state running snapshots still have to write (no I/O): buckets
// of keyed state, key groups of timers. A snapshot's barrier marks every part pending (O(parts));
// its writer then encodes them one by one from the live state, and the first access to a
// still-pending part (a state read or write, a timer set or fired, TTL cleanup) has every
// snapshot that needs it encode it first: copy-on-first-touch by part, so a record waits at most
// for one part's encoding.

/** Encodes part `index` as it was at the barrier, now, unless done already. */
export type PartEncoder = (index: number) => void;

export class PendingParts {
  /** Per part: how many running snapshots have not written it yet. */
  private readonly counts: Uint16Array;
  private readonly encoders: PartEncoder[] = [];
  /** Called when a snapshot starts (tables bump their epoch, so handles look their maps up again and touch). */
  private readonly onStart: Array<() => void> = [];

  constructor(readonly size: number) {
    this.counts = new Uint16Array(size);
  }

  /** True while any snapshot still has parts to write. */
  get active(): boolean {
    return this.encoders.length !== 0;
  }

  /** Calls `invalidate` whenever a snapshot starts. */
  watch(invalidate: () => void): void {
    this.onStart.push(invalidate);
  }

  /** A snapshot's barrier: every part is pending for `encoder`. */
  start(encoder: PartEncoder): void {
    this.encoders.push(encoder);
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) counts[i]++;
    for (const invalidate of this.onStart) invalidate();
  }

  /** A snapshot wrote part `index`. */
  done(index: number): void {
    if (this.counts[index] > 0) this.counts[index]--;
  }

  /** `encoder`'s snapshot is finished or released; `remaining` lists the parts it never wrote. */
  stop(encoder: PartEncoder, remaining: Iterable<number>): void {
    const at = this.encoders.indexOf(encoder);
    if (at < 0) return;
    this.encoders.splice(at, 1);
    for (const index of remaining) if (this.counts[index] > 0) this.counts[index]--;
  }

  /** Before anything in part `index` is read or changed: the snapshots that still need it encode it now. */
  touch(index: number): void {
    if (!(this.counts[index] > 0)) return; // also for an index outside the range (a key another subtask owns)
    for (const encode of [...this.encoders]) encode(index);
  }
}
