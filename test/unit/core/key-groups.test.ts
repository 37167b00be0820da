import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FloeError } from '../../../src/core/errors.js';
import { hashKey } from '../../../src/core/key-encoding.js';
import {
  assignKeyToParallelOperator,
  assignToKeyGroup,
  checkParallelism,
  computeDefaultMaxParallelism,
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
  DEFAULT_LOWER_BOUND_MAX_PARALLELISM,
  KeyGroupRange,
  keyGroupForHash,
  UPPER_BOUND_MAX_PARALLELISM,
} from '../../../src/core/key-groups.js';

function expectInvalidArgument(run: () => unknown, message?: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FloeError);
  expect((caught as FloeError).code).toBe('INVALID_ARGUMENT');
  if (message !== undefined) expect((caught as FloeError).message).toMatch(message);
}

/** maxParallelism across the whole allowed range, with its bounds and powers of two weighted up. */
const maxParallelismArb = fc.oneof(
  fc.constantFrom(1, 2, 3, 127, 128, 129, 256, 32767, 32768),
  fc.integer({ min: 1, max: 300 }),
  fc.integer({ min: 1, max: UPPER_BOUND_MAX_PARALLELISM }),
);
const parallelismPairArb = maxParallelismArb.chain((maxP) =>
  fc.tuple(fc.constant(maxP), fc.oneof(fc.constantFrom(1, maxP), fc.integer({ min: 1, max: maxP }))),
);

const keyArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.double({ noNaN: true }),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.boolean(),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
);

describe('max parallelism', () => {
  it('has Flink’s bounds', () => {
    expect(DEFAULT_LOWER_BOUND_MAX_PARALLELISM).toBe(128);
    expect(UPPER_BOUND_MAX_PARALLELISM).toBe(32768);
  });

  it.each([
    [1, 128],
    [85, 128],
    [86, 256],
    [100, 256],
    [200, 512],
    [1000, 2048],
    [21845, 32768],
    [21846, 32768],
    [32768, 32768],
  ])('defaults to %i -> %i', (parallelism, expected) => {
    expect(computeDefaultMaxParallelism(parallelism)).toBe(expected);
  });

  it('rejects a parallelism outside [1, 32768] when computing the default', () => {
    for (const bad of [0, -1, 32769, 1.5, Number.NaN]) expectInvalidArgument(() => computeDefaultMaxParallelism(bad));
  });
});

describe('checkParallelism', () => {
  it('accepts 1 <= parallelism <= maxParallelism <= 32768', () => {
    for (const [p, maxP] of [
      [1, 1],
      [3, 128],
      [128, 128],
      [32768, 32768],
    ]) {
      expect(() => checkParallelism(p, maxP)).not.toThrow();
    }
  });

  it.each([
    [0, 128, /Parallelism must be an integer from 1 to 32768, got 0/],
    [-1, 128, /got -1/],
    [1.5, 128, /got 1.5/],
    [Number.NaN, 128, /Parallelism must be/],
    ['2' as unknown as number, 128, /got "2"/],
    [1, 0, /Max parallelism must be an integer from 1 to 32768, got 0/],
    [1, 32769, /Max parallelism .* got 32769/],
    [1, Number.POSITIVE_INFINITY, /Max parallelism/],
    [129, 128, /Parallelism 129 exceeds max parallelism 128/],
  ])('rejects parallelism %s with max parallelism %s', (p, maxP, message) => {
    expectInvalidArgument(() => checkParallelism(p, maxP), message);
  });
});

describe('KeyGroupRange', () => {
  it('holds an inclusive range', () => {
    const range = KeyGroupRange.of(43, 85);
    expect(range.startKeyGroup).toBe(43);
    expect(range.endKeyGroup).toBe(85);
    expect(range.numberOfKeyGroups).toBe(43);
    expect(range.contains(42)).toBe(false);
    expect(range.contains(43)).toBe(true);
    expect(range.contains(85)).toBe(true);
    expect(range.contains(86)).toBe(false);
    expect([...KeyGroupRange.of(3, 5)]).toEqual([3, 4, 5]);
    expect(range.toString()).toBe('KeyGroupRange[43..85]');
  });

  it('has an empty range with no key groups', () => {
    expect(KeyGroupRange.EMPTY.numberOfKeyGroups).toBe(0);
    expect([...KeyGroupRange.EMPTY]).toEqual([]);
    expect(KeyGroupRange.EMPTY.contains(0)).toBe(false);
    expect(KeyGroupRange.EMPTY.toString()).toBe('KeyGroupRange[]');
  });

  it('rejects reversed, negative and fractional bounds', () => {
    expectInvalidArgument(() => KeyGroupRange.of(5, 2), /0 <= start <= end/);
    expectInvalidArgument(() => KeyGroupRange.of(-1, 2));
    expectInvalidArgument(() => KeyGroupRange.of(0.5, 2));
  });
});

describe('key group ranges of subtasks', () => {
  it('splits 128 key groups over 3 subtasks as Flink does', () => {
    const ranges = [0, 1, 2].map((i) => computeKeyGroupRangeForOperatorIndex(128, 3, i));
    expect(ranges.map((r) => [r.startKeyGroup, r.endKeyGroup])).toEqual([
      [0, 42],
      [43, 85],
      [86, 127],
    ]);
    expect([42, 43, 85, 86].map((kg) => computeOperatorIndexForKeyGroup(128, 3, kg))).toEqual([0, 1, 1, 2]);
  });

  it('partitions [0, maxParallelism) into contiguous ranges whose key groups map back to their subtask', () => {
    fc.assert(
      fc.property(parallelismPairArb, fc.array(fc.nat(), { maxLength: 64 }), ([maxP, p], samples) => {
        const problems: string[] = [];
        const ranges: KeyGroupRange[] = [];
        let expectedStart = 0;
        for (let i = 0; i < p; i++) {
          const range = computeKeyGroupRangeForOperatorIndex(maxP, p, i);
          if (range.startKeyGroup !== expectedStart) problems.push(`${range} of subtask ${i} should start at ${expectedStart}`);
          if (range.numberOfKeyGroups < 1) problems.push(`${range} of subtask ${i} is empty`);
          // Both ends of every range map back to it (so, the index being monotone, all of it does).
          for (const kg of [range.startKeyGroup, range.endKeyGroup]) {
            const owner = computeOperatorIndexForKeyGroup(maxP, p, kg);
            if (owner !== i) problems.push(`key group ${kg} of subtask ${i} maps to ${owner}`);
          }
          expectedStart = range.endKeyGroup + 1;
          ranges.push(range);
        }
        expect(problems).toEqual([]);
        expect(expectedStart).toBe(maxP);
        const sizes = ranges.map((r) => r.numberOfKeyGroups);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        const keyGroups = maxP <= 1024 ? Array.from({ length: maxP }, (_, kg) => kg) : samples.map((s) => s % maxP);
        for (const kg of keyGroups) {
          expect(ranges[computeOperatorIndexForKeyGroup(maxP, p, kg)].contains(kg)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects an operator index outside [0, parallelism)', () => {
    expectInvalidArgument(() => computeKeyGroupRangeForOperatorIndex(128, 3, 3), /from 0 to 2 .* got 3/);
    expectInvalidArgument(() => computeKeyGroupRangeForOperatorIndex(128, 3, -1));
    expectInvalidArgument(() => computeKeyGroupRangeForOperatorIndex(128, 3, 0.5));
    expectInvalidArgument(() => computeKeyGroupRangeForOperatorIndex(2, 3, 0), /exceeds max parallelism/);
  });
});

describe('key assignment', () => {
  it('sends every key to the subtask whose range holds its key group', () => {
    fc.assert(
      fc.property(keyArb, parallelismPairArb, (key, [maxP, p]) => {
        const keyGroup = assignToKeyGroup(key, maxP);
        expect(Number.isInteger(keyGroup) && keyGroup >= 0 && keyGroup < maxP).toBe(true);
        const index = assignKeyToParallelOperator(key, maxP, p);
        expect(computeKeyGroupRangeForOperatorIndex(maxP, p, index).contains(keyGroup)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same key group from a precomputed hash', () => {
    fc.assert(
      fc.property(keyArb, maxParallelismArb, (key, maxP) => {
        expect(keyGroupForHash(hashKey(key), maxP)).toBe(assignToKeyGroup(key, maxP));
      }),
    );
  });

  it('spreads sequential user ids over every one of 128 key groups', () => {
    const counts = new Array<number>(128).fill(0);
    for (let i = 0; i < 10_000; i++) counts[assignToKeyGroup(`user-${i}`, 128)]++;
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });
});
