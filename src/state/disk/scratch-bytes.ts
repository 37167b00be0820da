// Byte buffers reused across the records of a restore (pure): copying a record's bytes into them
// and handing out a cached view per length allocates nothing per record, which matters at millions
// of records (a view per record cost a restore more in garbage collection than LMDB's writes).

/** A growable buffer with one cached view per length; a view is valid until the next `copy`. */
export class ScratchBytes {
  private bytes: Buffer;
  private views: Buffer[] = [];

  constructor(initial = 256) {
    this.bytes = Buffer.allocUnsafe(initial);
  }

  /** `from[start, end)` copied into the scratch, as a view of exactly that length. */
  copy(from: Buffer, start: number, end: number): Buffer {
    const n = end - start;
    if (this.bytes.length < n) {
      this.bytes = Buffer.allocUnsafe(Math.max(n, this.bytes.length * 2));
      this.views = [];
    }
    copyBytes(from, start, end, this.bytes, 0);
    return this.views[n] ?? (this.views[n] = this.bytes.subarray(0, n));
  }
}

/** Copies `from[start, end)` to `to` at `at`: a loop for short runs (Buffer#copy costs more than it copies there). */
export function copyBytes(from: Buffer, start: number, end: number, to: Buffer, at: number): void {
  if (end - start > 64) {
    from.copy(to, at, start, end);
    return;
  }
  for (let i = start; i < end; i++) to[at++] = from[i];
}

/** True when `a[0, aLength)` sorts after `b[0, bLength)` (LMDB's order of binary keys). */
export function isAfter(a: Buffer, aLength: number, b: Buffer, bLength: number): boolean {
  const n = aLength < bLength ? aLength : bLength;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return aLength > bLength;
}
