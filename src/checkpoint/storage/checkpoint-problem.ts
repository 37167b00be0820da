// What is wrong with a stored checkpoint: one file, one reason, and what to do about it. Pure,
// no I/O; the storages build these and throw them as CHECKPOINT_INVALID errors.
import { FloeError } from '../../core/errors.js';

/** Why a checkpoint file cannot be used. Stable: match on this, never on message text. */
export type CheckpointProblemReason =
  | 'missing'
  | 'unreadable'
  | 'truncated'
  | 'size-mismatch'
  | 'checksum-mismatch'
  | 'not-a-floe-file'
  | 'unknown-format-version'
  | 'unknown-kind'
  | 'corrupt-metadata'
  | 'id-mismatch';

/** The fields that make a problem, as the storages produce them. */
export interface CheckpointProblemInit {
  checkpointId: number;
  /** The file relative to the storage location, e.g. `chk-7/op-1-0.state`. */
  file: string;
  /** The file as a user finds it: an absolute path, or a `memory://` address. */
  path: string;
  reason: CheckpointProblemReason;
  /** Short and specific: `truncated: expected 120 bytes, got 64`. */
  detail: string;
  /** What the user can do, e.g. `delete /data/chk/chk-7 to discard it`. */
  remedy: string;
}

/**
 * One problem of one checkpoint file. `toString()` is the short form used in log lines
 * (`chk-7/op-1-0.state: checksum mismatch ...`); `message` is the full sentence with the remedy.
 */
export class CheckpointProblem implements CheckpointProblemInit {
  readonly checkpointId: number;
  readonly file: string;
  readonly path: string;
  readonly reason: CheckpointProblemReason;
  readonly detail: string;
  readonly remedy: string;

  constructor(init: CheckpointProblemInit) {
    this.checkpointId = init.checkpointId;
    this.file = init.file;
    this.path = init.path;
    this.reason = init.reason;
    this.detail = init.detail;
    this.remedy = init.remedy;
  }

  /** The full sentence: checkpoint, path, reason, remedy. */
  get message(): string {
    return `Checkpoint ${this.checkpointId} is invalid: ${this.path}: ${this.detail}. ${this.remedy}`;
  }

  /** The `CHECKPOINT_INVALID` error that readers throw for this problem. */
  toError(cause?: unknown): FloeError {
    return new FloeError('CHECKPOINT_INVALID', this.message, { cause });
  }

  toString(): string {
    return `${this.file}: ${this.detail}`;
  }
}
