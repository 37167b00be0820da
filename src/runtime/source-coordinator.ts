// The coordinator side of one split source (Flink's SourceCoordinator): owns the SplitEnumerator,
// carries its assignments to the readers' subtasks (as mail), its split requests back, snapshots
// its state at each checkpoint trigger and runs its asynchronous calls on timers. Runs on the main
// thread; I/O only through the enumerator's own calls.
import { Packr } from 'msgpackr';
import { FloeError, describeContext } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { ProcessingTimeService } from './processing-time-service.js';
import type { AnySource, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from './source.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** A plain-data copy of `value` (what a checkpoint would store); fails on what msgpack cannot hold. */
export function plainCopy<T>(value: T): T {
  return packr.unpack(packr.pack(value)) as T;
}

/** How the coordinator reaches the reader of one subtask: both deliver as mail, in order with the subtask's barriers. */
export interface SourceReaderGateway {
  addSplits(splits: SourceSplit[]): void;
  notifyNoMoreSplits(): void;
}

export interface SourceCoordinatorOptions {
  jobName: string;
  uid: string;
  source: AnySource;
  /** One gateway per subtask of the source. */
  readers: SourceReaderGateway[];
  clock: Clock;
  /** Timers of `callAsync` (cancelled by close()). */
  processingTime: ProcessingTimeService;
  log(message: string): void;
  /** Fails the job (an enumerator threw, an assignment broke the contract). */
  failJob(error: unknown): void;
}

/** What the enumerator starts from when a checkpoint is restored. */
export interface EnumeratorRestore {
  /** The enumerator's state in the checkpoint (a source added since has no EnumeratorRestore: it starts afresh). */
  state: unknown;
  /** Splits of the checkpoint's readers that go back to the enumerator (a rescale), by old subtask. */
  splitsBack: Array<{ subtask: number; splits: SourceSplit[] }>;
}

export class SourceCoordinator {
  private enumerator: SplitEnumerator<SourceSplit, unknown> | undefined;
  private readonly noMoreSplits: boolean[];
  private closed = false;
  private readonly cancelTimers = new Set<() => void>();
  /** `callAsync` work started and not yet handled. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: SourceCoordinatorOptions) {
    this.noMoreSplits = options.readers.map(() => false);
  }

  get uid(): string {
    return this.options.uid;
  }

  /**
   * Creates (or restores) the enumerator, gives back the restored splits, starts it and registers
   * every reader. Rejects (before any record is read) when the enumerator fails on the way.
   */
  async start(restore?: EnumeratorRestore): Promise<void> {
    const { source } = this.options;
    const ctx = this.context();
    const step = <R>(what: string, fn: () => R): R => {
      try {
        return fn();
      } catch (error) {
        throw this.enumeratorError(what, error);
      }
    };
    const enumerator = step('createEnumerator', () => (restore === undefined ? source.createEnumerator(ctx) : source.createEnumerator(ctx, restore.state)));
    this.enumerator = enumerator;
    for (const back of restore?.splitsBack ?? []) if (back.splits.length > 0) step('addSplitsBack', () => enumerator.addSplitsBack(back.splits, back.subtask));
    try {
      await enumerator.start?.();
    } catch (error) {
      throw this.enumeratorError('start', error);
    }
    for (let subtask = 0; subtask < this.options.readers.length; subtask++) step('addReader', () => enumerator.addReader?.(subtask));
  }

  /** A reader asked for a split. */
  handleSplitRequest(subtask: number): void {
    const enumerator = this.enumerator;
    if (enumerator === undefined || this.closed) return;
    if (enumerator.handleSplitRequest === undefined) {
      this.options.failJob(new FloeError('INVALID_JOB', `${this.where()}: a reader asked for a split, but the source's enumerator has no handleSplitRequest`, { context: { operator: this.options.uid } }));
      return;
    }
    this.call('handleSplitRequest', () => enumerator.handleSplitRequest!(subtask));
  }

  /**
   * The enumerator's state for checkpoint `checkpointId`, copied as plain data. Taken when the
   * barrier is sent, before anything else runs: see SplitEnumerator's consistency note.
   */
  snapshotState(checkpointId: number): unknown {
    if (this.enumerator === undefined) throw new FloeError('CHECKPOINT_DECLINED', `${this.where()}: checkpoint ${checkpointId} came before the split enumerator started`);
    let state: unknown;
    try {
      state = plainCopy(this.enumerator.snapshotState(checkpointId));
    } catch (error) {
      throw this.enumeratorError('snapshotState', error);
    }
    // A restore hands this back to createEnumerator; nothing there would read as "start afresh" and read every split again.
    if (state === undefined || state === null)
      throw new FloeError('INVALID_JOB', `${this.where()}: the split enumerator's snapshotState returned ${String(state)}; it must return its state (e.g. the splits not yet assigned, possibly none)`, {
        context: { operator: this.options.uid },
      });
    return state;
  }

  notifyCheckpointComplete(checkpointId: number): void {
    const enumerator = this.enumerator;
    if (enumerator?.notifyCheckpointComplete !== undefined && !this.closed) this.call('notifyCheckpointComplete', () => enumerator.notifyCheckpointComplete!(checkpointId));
  }

  notifyCheckpointAborted(checkpointId: number): void {
    const enumerator = this.enumerator;
    if (enumerator?.notifyCheckpointAborted !== undefined && !this.closed) this.call('notifyCheckpointAborted', () => enumerator.notifyCheckpointAborted!(checkpointId));
  }

  /** Resolves once no `callAsync` work is running (its handler ran); for tests that advance time by hand. */
  async asyncCallsSettled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Cancels every timer of `callAsync` and closes the enumerator (errors are logged: the job is over). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of [...this.cancelTimers]) cancel();
    try {
      await this.enumerator?.close?.();
    } catch (error) {
      this.options.log(`closing the split enumerator failed: ${(error as Error).message}`);
    }
  }

  private context(): SplitEnumeratorContext<SourceSplit> {
    const { jobName, uid, clock, log, readers } = this.options;
    const assign = (subtask: number, splits: readonly SourceSplit[]): void => {
      if (this.closed || splits.length === 0) return;
      if (!Number.isInteger(subtask) || subtask < 0 || subtask >= readers.length)
        throw new FloeError('INVALID_ARGUMENT', `${this.where()}: cannot assign splits to subtask ${subtask}: the source has ${readers.length} readers (0..${readers.length - 1})`);
      if (this.noMoreSplits[subtask])
        throw new FloeError('INVALID_ARGUMENT', `${this.where()}: split '${splits[0].id}' assigned to subtask ${subtask} after signalNoMoreSplits(${subtask}); it would never be read`);
      readers[subtask].addSplits(plainCopy([...splits]));
    };
    return {
      jobName,
      uid,
      parallelism: readers.length,
      clock,
      log,
      assignSplit: (split, subtask) => assign(subtask, [split]),
      assignSplits: (assignment) => {
        for (const [subtask, splits] of assignment) assign(subtask, splits);
      },
      signalNoMoreSplits: (subtask) => {
        if (this.closed || this.noMoreSplits[subtask]) return;
        if (subtask < 0 || subtask >= readers.length) throw new FloeError('INVALID_ARGUMENT', `${this.where()}: there is no subtask ${subtask} to signal`);
        this.noMoreSplits[subtask] = true;
        readers[subtask].notifyNoMoreSplits();
      },
      callAsync: (work, handler, options = {}) => this.callAsync(work, handler, options.initialDelayMs ?? 0, options.periodMs),
    };
  }

  private callAsync<R>(work: () => Promise<R>, handler: (result: R) => void, delayMs: number, periodMs: number | undefined): void {
    if (this.closed) return;
    const { processingTime } = this.options;
    const cancel = processingTime.schedule(processingTime.clock.now() + delayMs, () => {
      this.cancelTimers.delete(cancel);
      if (this.closed) return;
      const handle = (result: R): void => {
        if (this.closed) return;
        this.call('callAsync handler', () => handler(result));
        if (periodMs !== undefined && !this.closed) this.callAsync(work, handler, periodMs, periodMs);
      };
      const fail = (error: unknown): void => {
        if (!this.closed) this.options.failJob(this.enumeratorError('callAsync', error));
      };
      // Through a resolved promise, so a `work` that throws at once fails the job like one that rejects.
      const running = Promise.resolve().then(work).then(handle, fail);
      this.inFlight.add(running);
      void running.finally(() => this.inFlight.delete(running));
    });
    this.cancelTimers.add(cancel);
  }

  /** Runs one enumerator call; a throw fails the job, naming the source and the call. */
  private call<R>(what: string, fn: () => R): R | undefined {
    try {
      return fn();
    } catch (error) {
      this.options.failJob(this.enumeratorError(what, error));
      return undefined;
    }
  }

  private enumeratorError(what: string, error: unknown): FloeError {
    if (error instanceof FloeError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new FloeError('USER_FUNCTION_FAILED', `${this.where()}: the split enumerator failed in ${what}: ${message}`, { context: { job: this.options.jobName, operator: this.options.uid }, cause: error });
  }

  private where(): string {
    return describeContext({ job: this.options.jobName, operator: this.options.uid });
  }
}
