// Which parts of a backend's state running snapshots still have to read (no I/O); today the
// parts are key groups of timers (timer-snapshot.ts). A snapshot's barrier marks every part
// pending (O(parts)); its writer then reads them one by one from the live state, and the first
// change to a still-pending part (a timer set, removed or fired) has every snapshot that needs it
// read it first: copy-on-first-touch by part, so a record waits at most for one part's reading.

/** Reads (encodes) part `index` as it was at the barrier, now, unless done already. */
export type PartEncoder = (index: number) => void;

export class PendingParts {
  /** Per part: how many running snapshots have not written it yet. */
  private readonly counts: Uint16Array;
  private readonly encoders: PartEncoder[] = [];

  constructor(readonly size: number) {
    this.counts = new Uint16Array(size);
  }

  /** True while any snapshot still has parts to write. */
  get active(): boolean {
    return this.encoders.length !== 0;
  }

  /** A snapshot's barrier: every part is pending for `encoder`. */
  start(encoder: PartEncoder): void {
    this.encoders.push(encoder);
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) counts[i]++;
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

  /** Before anything in part `index` changes: the snapshots that still need it read it now. */
  touch(index: number): void {
    if (!(this.counts[index] > 0)) return; // also for an index outside the range (a key another subtask owns)
    for (const encode of [...this.encoders]) encode(index);
  }
}
