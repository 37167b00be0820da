import { describe, expect, it } from 'vitest';
import { checkpointsToDiscard, chooseRecovery, nextCheckpointId, type FoundCheckpoint } from '../../../src/checkpoint/recovery-choice.js';

const valid = (id: number): FoundCheckpoint => ({ id, hasMetadata: true, problems: [] });
const unverified = (id: number): FoundCheckpoint => ({ id, hasMetadata: true, problems: undefined });
const corrupt = (id: number): FoundCheckpoint => ({ id, hasMetadata: true, problems: [`chk-${id}/count_0.state: checksum mismatch (corrupt)`] });
const noMetadata = (id: number): FoundCheckpoint => ({ id, hasMetadata: false, problems: undefined });
const strict = { allowFallbackDuplicates: false, directory: '/ck' };

describe('choosing the checkpoint to resume from', () => {
  it('resumes from the newest valid checkpoint and ignores an attempt killed while it was written', () => {
    const listing = { checkpoints: [unverified(3), valid(4), noMetadata(5)], lastCompletedId: 4 };
    expect(chooseRecovery(listing, strict)).toEqual({ kind: 'restore', checkpointId: 4, skipped: [] });
  });

  it('refuses to fall back past a corrupt completed checkpoint, naming it, why, and the option that accepts duplicates', () => {
    const listing = { checkpoints: [unverified(3), valid(4), corrupt(5)], lastCompletedId: 5 };
    expect(() => chooseRecovery(listing, strict)).toThrow(
      expect.objectContaining({
        code: 'CHECKPOINT_DAMAGED',
        message: expect.stringMatching(/completed checkpoint 5 cannot be restored \(5: chk-5\/count_0.state: checksum mismatch.*falling back to checkpoint 4 would write that output again.*--allow-fallback-duplicates/),
      }),
    );
  });

  it('notices a deleted _metadata of a completed checkpoint (data but no metadata, newer than the newest valid one)', () => {
    const listing = { checkpoints: [valid(4), noMetadata(5)], lastCompletedId: 5 };
    expect(() => chooseRecovery(listing, strict)).toThrow(/chk-5\/_metadata is missing, but checkpoint 5 had completed/);
  });

  it('notices a deleted directory of the newest completed checkpoint', () => {
    const listing = { checkpoints: [valid(4)], lastCompletedId: 5 };
    expect(() => chooseRecovery(listing, strict)).toThrow(/the directory chk-5 of completed checkpoint 5 is gone/);
  });

  it('refuses to start from scratch when every retained checkpoint is damaged', () => {
    const listing = { checkpoints: [corrupt(4), corrupt(5)], lastCompletedId: 5 };
    expect(() => chooseRecovery(listing, strict)).toThrow(/completed checkpoints 4, 5 cannot be restored.*starting from scratch would write that output again/);
  });

  it('falls back and reports what it skipped when duplicates are accepted', () => {
    const listing = { checkpoints: [valid(4), corrupt(5), noMetadata(6)], lastCompletedId: 6 };
    const choice = chooseRecovery(listing, { ...strict, allowFallbackDuplicates: true });
    expect(choice.kind).toBe('restore');
    expect(choice.skipped.map((s) => s.id)).toEqual([6, 5]);
  });

  it('starts from scratch in an empty directory or one with only abandoned attempts', () => {
    expect(chooseRecovery({ checkpoints: [], lastCompletedId: undefined }, strict)).toEqual({ kind: 'fresh', skipped: [] });
    expect(chooseRecovery({ checkpoints: [noMetadata(1)], lastCompletedId: undefined }, strict)).toEqual({ kind: 'fresh', skipped: [] });
  });

  it('gives a new run ids after every id the directory ever used, valid or not', () => {
    expect(nextCheckpointId({ checkpoints: [valid(4), noMetadata(7)], lastCompletedId: 4 })).toBe(8);
    expect(nextCheckpointId({ checkpoints: [valid(4)], lastCompletedId: 9 })).toBe(10);
    expect(nextCheckpointId({ checkpoints: [valid(4)], lastCompletedId: 4 }, [12])).toBe(13);
  });

  it('discards everything but the restored checkpoint and the retained ones before it', () => {
    const listing = { checkpoints: [unverified(1), noMetadata(2), unverified(3), unverified(4), valid(5), noMetadata(6)], lastCompletedId: 5 };
    const choice = chooseRecovery(listing, strict);
    expect(checkpointsToDiscard(listing, choice, 2)).toEqual([1, 2, 3, 6]);
    expect(checkpointsToDiscard(listing, choice, 1)).toEqual([1, 2, 3, 4, 6]);
  });
});
