// Key groups: Flink's unit of keyed-state redistribution. Keys hash into one of maxParallelism
// key groups; each subtask owns a contiguous range of them. Pure arithmetic, no I/O.
import { describeValue, FloeError } from './errors.js';
import { hashKey } from './key-encoding.js';
import { flinkMurmurHash } from './murmur.js';

/** Smallest default max parallelism (Flink's `1 << 7`). */
export const DEFAULT_LOWER_BOUND_MAX_PARALLELISM = 128;

/** Largest allowed max parallelism, inclusive (Flink's `1 << 15`). */
export const UPPER_BOUND_MAX_PARALLELISM = 32768;

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

/**
 * Throws unless `1 <= parallelism <= maxParallelism <= 32768` with both integers — the
 * preconditions of every function here that takes both.
 *
 * @throws FloeError `INVALID_ARGUMENT` naming the bad value and the allowed range.
 */
export function checkParallelism(parallelism: number, maxParallelism: number): void {
  if (!isIntegerIn(parallelism, 1, UPPER_BOUND_MAX_PARALLELISM)) {
    throw new FloeError(
      'INVALID_ARGUMENT',
      `Parallelism must be an integer from 1 to ${UPPER_BOUND_MAX_PARALLELISM}, got ${describeValue(parallelism)}.`,
    );
  }
  if (!isIntegerIn(maxParallelism, 1, UPPER_BOUND_MAX_PARALLELISM)) {
    throw new FloeError(
      'INVALID_ARGUMENT',
      `Max parallelism must be an integer from 1 to ${UPPER_BOUND_MAX_PARALLELISM}, ` +
        `got ${describeValue(maxParallelism)}.`,
    );
  }
  if (parallelism > maxParallelism) {
    throw new FloeError(
      'INVALID_ARGUMENT',
      `Parallelism ${parallelism} exceeds max parallelism ${maxParallelism}: each subtask needs at least one ` +
        'key group. Lower the parallelism, or raise the max parallelism (a job restored from a checkpoint must ' +
        "keep the checkpoint's max parallelism, because it decides every key's key group).",
    );
  }
}

function roundUpToPowerOfTwo(x: number): number {
  return x <= 1 ? 1 : 2 ** (32 - Math.clz32(x - 1));
}

/**
 * Flink's default max parallelism: `min(max(roundUpToPowerOfTwo(p + floor(p / 2)), 128), 32768)`,
 * i.e. 128 for p <= 85, then room for 1.5x growth, capped at 32768.
 *
 * @throws FloeError `INVALID_ARGUMENT` unless `parallelism` is an integer in [1, 32768].
 * @example computeDefaultMaxParallelism(100) // 256
 */
export function computeDefaultMaxParallelism(parallelism: number): number {
  checkParallelism(parallelism, UPPER_BOUND_MAX_PARALLELISM);
  const grown = roundUpToPowerOfTwo(parallelism + Math.floor(parallelism / 2));
  return Math.min(Math.max(grown, DEFAULT_LOWER_BOUND_MAX_PARALLELISM), UPPER_BOUND_MAX_PARALLELISM);
}

/**
 * An inclusive range `[startKeyGroup, endKeyGroup]` of key groups, Flink's `KeyGroupRange`.
 * Immutable; {@link KeyGroupRange.EMPTY} has no key groups.
 */
export class KeyGroupRange implements Iterable<number> {
  /** The range with no key groups (start 0, end -1). */
  static readonly EMPTY = new KeyGroupRange(0, -1);

  private constructor(
    /** First key group in the range. */
    readonly startKeyGroup: number,
    /** Last key group in the range, inclusive. */
    readonly endKeyGroup: number,
  ) {}

  /**
   * The range `[start, end]`, both inclusive.
   *
   * @throws FloeError `INVALID_ARGUMENT` unless both are integers with `0 <= start <= end`.
   */
  static of(startKeyGroup: number, endKeyGroup: number): KeyGroupRange {
    const valid = Number.isInteger(startKeyGroup) && Number.isInteger(endKeyGroup);
    if (!valid || startKeyGroup < 0 || endKeyGroup < startKeyGroup) {
      throw new FloeError(
        'INVALID_ARGUMENT',
        `A key group range needs integers 0 <= start <= end, got [${startKeyGroup}, ${endKeyGroup}]; ` +
          'use KeyGroupRange.EMPTY for no key groups.',
      );
    }
    return new KeyGroupRange(startKeyGroup, endKeyGroup);
  }

  /** How many key groups the range holds (0 for {@link KeyGroupRange.EMPTY}). */
  get numberOfKeyGroups(): number {
    return this.endKeyGroup - this.startKeyGroup + 1;
  }

  /** Whether `keyGroup` lies in the range. */
  contains(keyGroup: number): boolean {
    return keyGroup >= this.startKeyGroup && keyGroup <= this.endKeyGroup;
  }

  /** The key groups in ascending order. */
  *[Symbol.iterator](): Iterator<number> {
    for (let kg = this.startKeyGroup; kg <= this.endKeyGroup; kg++) yield kg;
  }

  /** `KeyGroupRange[start..end]`, or `KeyGroupRange[]` when empty. */
  toString(): string {
    if (this.numberOfKeyGroups === 0) return 'KeyGroupRange[]';
    return `KeyGroupRange[${this.startKeyGroup}..${this.endKeyGroup}]`;
  }
}

/**
 * The key groups owned by subtask `operatorIndex` of `parallelism`:
 * `[ceil(i * maxP / p), floor(((i + 1) * maxP - 1) / p)]`. Ranges of consecutive subtasks are
 * contiguous, cover `[0, maxParallelism)` and differ in size by at most one.
 *
 * @throws FloeError `INVALID_ARGUMENT` on bad parallelism or an index outside [0, parallelism).
 */
export function computeKeyGroupRangeForOperatorIndex(
  maxParallelism: number,
  parallelism: number,
  operatorIndex: number,
): KeyGroupRange {
  checkParallelism(parallelism, maxParallelism);
  if (!isIntegerIn(operatorIndex, 0, parallelism - 1)) {
    throw new FloeError(
      'INVALID_ARGUMENT',
      `Operator index must be an integer from 0 to ${parallelism - 1} for parallelism ${parallelism}, ` +
        `got ${describeValue(operatorIndex)}.`,
    );
  }
  const start = Math.floor((operatorIndex * maxParallelism + parallelism - 1) / parallelism);
  const end = Math.floor(((operatorIndex + 1) * maxParallelism - 1) / parallelism);
  return KeyGroupRange.of(start, end);
}

/**
 * The subtask that owns `keyGroup`: `floor(keyGroup * parallelism / maxParallelism)`, the inverse
 * of {@link computeKeyGroupRangeForOperatorIndex}. Unchecked, because it runs once per record.
 */
export function computeOperatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  // Exact: the product stays below 2^30, far inside the doubles' exact-integer range.
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/**
 * The key group of a precomputed {@link hashKey} result: `flinkMurmurHash(hash | 0) % maxParallelism`
 * (the hash enters as a signed int, like a Java `hashCode()`). Unchecked; runs once per record.
 */
export function keyGroupForHash(hash: number, maxParallelism: number): number {
  return flinkMurmurHash(hash | 0) % maxParallelism;
}

/**
 * The key group of `key`, in `[0, maxParallelism)`. Stable forever for a given key and max
 * parallelism: checkpoints store state by key group, so changing it would lose restored keys.
 *
 * @throws FloeError `INVALID_KEY` when `key` is not an allowed key (see `encodeKey`).
 */
export function assignToKeyGroup(key: unknown, maxParallelism: number): number {
  return keyGroupForHash(hashKey(key), maxParallelism);
}

/**
 * The subtask of `parallelism` that receives `key`: the owner of its key group. The network
 * partitioner and the state backend both use this, so a record always meets its state.
 *
 * @throws FloeError `INVALID_KEY` when `key` is not an allowed key.
 */
export function assignKeyToParallelOperator(key: unknown, maxParallelism: number, parallelism: number): number {
  return computeOperatorIndexForKeyGroup(maxParallelism, parallelism, assignToKeyGroup(key, maxParallelism));
}
