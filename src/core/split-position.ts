// A source reader's position made of independent splits, each with its own read position: the
// form of position that can be rescaled (every split goes to exactly one reader). Pure data.

/** A reader position made of independent splits (each with its own read position): rescalable. */
export interface SplitPosition<S = unknown> {
  splits: S[];
}

/** True for a `SplitPosition`. */
export function isSplitPosition(position: unknown): position is SplitPosition {
  return typeof position === 'object' && position !== null && Array.isArray((position as SplitPosition).splits);
}
