// What travels through channels: batches of records, watermarks and the end-of-input marker.
// Pure data, no I/O.

/** Marks "this record has no timestamp" inside a timestamp array. */
export const NO_TIMESTAMP = Number.NaN;

/**
 * A batch of records. `keys` is set on keyed exchanges (the key selector ran once, upstream);
 * `timestamps` is absent when no record of the batch has one.
 */
export interface RecordBatch {
  readonly kind: 'records';
  readonly values: unknown[];
  readonly keys: unknown[] | undefined;
  readonly timestamps: number[] | undefined;
}

/** Event time has reached `timestamp`: no record with a smaller timestamp should follow. */
export interface WatermarkElement {
  readonly kind: 'watermark';
  readonly timestamp: number;
}

/** The producer of this channel has finished. */
export interface EndOfInput {
  readonly kind: 'end';
}

/** Checkpoint barrier n: everything before it belongs to checkpoint n, everything after to later ones. */
export interface CheckpointBarrier {
  readonly kind: 'barrier';
  readonly checkpointId: number;
  readonly timestamp: number;
  /** The checkpoint taken after every source ended. */
  readonly isFinal: boolean;
  /** A savepoint: keyed state is written in the canonical format, self-contained (no shared files). */
  readonly savepoint?: boolean;
}

export type StreamElement = RecordBatch | WatermarkElement | CheckpointBarrier | EndOfInput;

export const END_OF_INPUT: EndOfInput = Object.freeze({ kind: 'end' });

/** The watermark that ends event time: fires every event-time timer. */
export const MAX_WATERMARK = Number.POSITIVE_INFINITY;
/** The watermark before any watermark arrived. */
export const MIN_WATERMARK = Number.NEGATIVE_INFINITY;

export function watermark(timestamp: number): WatermarkElement {
  return { kind: 'watermark', timestamp };
}
