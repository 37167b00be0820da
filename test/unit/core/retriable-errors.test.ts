import { describe, expect, it } from 'vitest';
import { FloeError, isRetriable } from '../../../src/core/errors.js';

describe('which failures a restart may fix', () => {
  it.each(['INVALID_ARGUMENT', 'INVALID_JOB', 'STATE_TYPE_MISMATCH', 'STATE_NOT_RESCALABLE', 'MAX_PARALLELISM_MISMATCH', 'CHECKPOINT_DAMAGED', 'CHECKPOINT_DIR_IN_USE', 'DIRECTORY_UNUSABLE'] as const)(
    'never restarts on %s',
    (code) => {
      expect(isRetriable(new FloeError(code, 'x'))).toBe(false);
    },
  );

  it('restarts on user-function failures, I/O errors, failed checkpoints and plain errors', () => {
    for (const code of ['USER_FUNCTION_FAILED', 'IO_ERROR', 'CHECKPOINT_FAILED', 'JOB_FAILED'] as const) expect(isRetriable(new FloeError(code, 'x'))).toBe(true);
    expect(isRetriable(new Error('network down'))).toBe(true);
  });

  it('never restarts when a non-retriable error is the cause of a wrapping one', () => {
    const wrapped = new FloeError('USER_FUNCTION_FAILED', 'open() failed', { cause: new FloeError('STATE_TYPE_MISMATCH', 'count is a ValueState') });
    expect(isRetriable(wrapped)).toBe(false);
  });
});
