// The contract of a split-based source (Flink's FLIP-27): a SplitEnumerator on the coordinator side
// discovers splits and assigns them; one SourceReader per parallel subtask reads the splits it was
// given and keeps a position per split. Connectors implement it. Types only, no I/O.
import type { Clock } from '../core/clock.js';

/**
 * A share of a source's input that one reader reads from start to end: a file, a range of
 * indices, a partition. Splits are plain data (they are stored with msgpack in every checkpoint)
 * and carry their own read position, so a split taken from one reader's snapshot can be handed to
 * any other reader and continues where it stopped. `id` is unique among the splits of one source.
 */
export interface SourceSplit {
  readonly id: string;
}

/**
 * What `SourceReader.pollNext` says about the reader after the call: it has more records now
 * (poll again at once), none right now (the task waits for `isAvailable()` or its mail), or it
 * will never have any again (it was told there are no more splits and finished all of its own).
 */
export type InputStatus = 'more-available' | 'nothing-available' | 'end-of-input';

/** Receives the records a source reader emits. */
export interface SourceOutput<T> {
  /** `timestamp`: the event time of the record, if the source knows it. */
  collect(value: T, timestamp?: number): void;
}

/** What a reader knows about where it runs, and its line to the enumerator. */
export interface SourceReaderContext {
  jobName: string;
  uid: string;
  subtaskIndex: number;
  parallelism: number;
  clock: Clock;
  log(message: string): void;
  /**
   * Asks the enumerator for a split (its `handleSplitRequest(subtaskIndex)`). The answer comes
   * later through `addSplits` or `notifyNoMoreSplits`; readers of pull-based sources (files) ask
   * when they start without splits and each time they finished one.
   */
  sendSplitRequest(): void;
}

/**
 * Reads the splits assigned to one parallel subtask. Every method is called from the subtask's
 * loop, one at a time, never concurrently; none may block: I/O is started by `pollNext` and its
 * completion signalled through `isAvailable()`.
 *
 * Life cycle (Flink's order): `addSplits(restored)` with the splits the subtask restored from a
 * checkpoint (if any), `start()`, then any order of `pollNext`, `addSplits`, `notifyNoMoreSplits`,
 * `snapshotState` and checkpoint notifications, and `close()` once (also after a failure).
 * After `pollNext` returned 'end-of-input' the reader still takes part in checkpoints and still
 * gets `notifyCheckpointComplete`, until the job's final checkpoint completed; it is closed after.
 */
export interface SourceReader<T, Split extends SourceSplit = SourceSplit> {
  /** Opens what the reader needs (a connection), after its restored splits were added: a pull-based reader without splits asks for one here. */
  start?(): void | Promise<void>;
  /**
   * Emits up to about `max` records (the batch size) into `output` without waiting, and says what
   * it has next. The loop calls it again only after the emitted records were processed, so a
   * reader never outruns backpressure; it checks its mail (checkpoints, timers, new splits)
   * between calls. Return 'end-of-input' only after `notifyNoMoreSplits()` and when every split
   * is finished. Cost: called once per batch, so keep it free of promises and allocation per record.
   */
  pollNext(output: SourceOutput<T>, max: number): InputStatus;
  /**
   * Resolves when `pollNext` may have records again, after it returned 'nothing-available': the
   * read in flight completed, the rate limit allows more. While it is pending the subtask goes on
   * handling its mail (checkpoint barriers, processing-time timers, completion notifications, new
   * splits), so a waiting source never holds up checkpoints. The loop polls again after every
   * mail, so it need not resolve for new splits. Return a resolved promise when `pollNext` may
   * have records now (a read that completed between the poll and this call), the same pending
   * promise until it resolved, and a never-resolving one while the reader only waits for splits.
   * It should not reject: keep the error and throw it from `pollNext`, where it names the subtask.
   */
  isAvailable(): Promise<void>;
  /** Splits assigned to this reader (by the enumerator, or restored from a checkpoint), each with its position. */
  addSplits(splits: Split[]): void;
  /** The enumerator will assign no more splits: finish the ones held, then report 'end-of-input'. */
  notifyNoMoreSplits(): void;
  /**
   * The splits this reader holds, each with its current position (the first record not yet
   * emitted); finished ones may be left out (the generator keeps them: a job restored with a
   * larger count reads on). Called in the synchronous part of checkpoint
   * `checkpointId`, between two `pollNext` calls: the position covers exactly what was emitted
   * before the barrier. The runtime copies what is returned, so live objects may be returned.
   */
  snapshotState(checkpointId: number): Split[];
  /** Checkpoint `checkpointId` completed (and every earlier one): acknowledge to a message queue here. */
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
  /** Releases what the reader holds (file handles, timers, connections). Called once. */
  close?(): void | Promise<void>;
}

/** How an enumerator reaches the readers; its methods run on the job's coordinator side (the main thread). */
export interface SplitEnumeratorContext<Split extends SourceSplit = SourceSplit> {
  jobName: string;
  uid: string;
  /** Number of readers (subtasks 0 .. parallelism-1); every one is registered through `addReader` at start. */
  parallelism: number;
  clock: Clock;
  log(message: string): void;
  /** Hands `split` to reader `subtask` (delivered as mail in its loop, in order). */
  assignSplit(split: Split, subtask: number): void;
  /** Hands several splits to several readers at once. */
  assignSplits(assignment: ReadonlyMap<number, readonly Split[]>): void;
  /** Tells reader `subtask` that no split will follow: once it finished its own, it ends. Assigning to it afterwards fails the job. */
  signalNoMoreSplits(subtask: number): void;
  /**
   * Runs `work` (I/O: listing a directory, asking a broker) outside the enumerator's methods, then
   * `handler(result)` as one step on the coordinator side, where the enumerator may change its
   * state and assign splits (Flink's callAsync). With `periodMs`, repeats `periodMs` after each
   * run finished (never two at once) until the job ends. A failure of `work` or `handler` fails
   * the job. State changed only in `handler` stays consistent with `snapshotState`.
   */
  callAsync<R>(work: () => Promise<R>, handler: (result: R) => void, options?: { initialDelayMs?: number; periodMs?: number }): void;
}

/**
 * Discovers splits and decides which reader reads each (Flink's SplitEnumerator), one per source
 * per job. Lifecycle: created (fresh, or from the state of the checkpoint being restored),
 * `addSplitsBack` with the splits of the checkpoint's readers when the source was rescaled,
 * `start()`, `addReader(i)` for every subtask, then requests, checkpoints and notifications, and
 * `close()` when the job ends. Every method but `start` and `close` is synchronous.
 *
 * Consistency: `snapshotState(n)` is taken at the instant barrier n is sent to the readers, and an
 * assignment is delivered to a reader in order with its barriers, so a split is in exactly one of
 * checkpoint n's enumerator state and its readers' states.
 */
export interface SplitEnumerator<Split extends SourceSplit = SourceSplit, EnumState = unknown> {
  /** Begins discovery (may await a first listing); readers are added right after. */
  start?(): void | Promise<void>;
  /** Reader `subtask` asked for a split (`SourceReaderContext.sendSplitRequest`). */
  handleSplitRequest?(subtask: number): void;
  /**
   * Splits that are no longer assigned and must be assigned again, each to exactly one reader:
   * on a restore at another parallelism, every split the checkpoint's readers held comes back
   * (with its position) from `subtask`, the old reader that held it.
   */
  addSplitsBack(splits: Split[], subtask: number): void;
  /** Reader `subtask` is ready for splits (called for every subtask at start). */
  addReader?(subtask: number): void;
  /** The enumerator's state at checkpoint `checkpointId`: plain data (msgpack), e.g. the unassigned splits. */
  snapshotState(checkpointId: number): EnumState;
  notifyCheckpointComplete?(checkpointId: number): void;
  notifyCheckpointAborted?(checkpointId: number): void;
  /** Stops discovery; timers of `callAsync` are cancelled by the runtime. */
  close?(): void | Promise<void>;
}

/**
 * A source: the enumerator and the readers of one stream (Flink's Source).
 *
 * @example
 * const source: Source<number, CounterSplit, StaticSplitEnumeratorState<CounterSplit>> = {
 *   name: 'Counter',
 *   bounded: true,
 *   createEnumerator: (ctx, restored) => new StaticSplitEnumerator(ctx, restored ?? { pending: [{ id: 'c', next: 0 }] }),
 *   createReader: (ctx) => new CounterReader(ctx),
 * };
 */
export interface Source<T, Split extends SourceSplit = SourceSplit, EnumState = unknown> {
  /** Human-readable kind, used in operator names ("Collection Source"). */
  readonly name: string;
  /** True when the source ends by itself (its enumerator eventually signals no more splits to every reader). */
  readonly bounded: boolean;
  /** Sources that cannot use more than this many readers (a collection: 1). */
  readonly maxParallelism?: number;
  /** The enumerator: fresh, or with the state it had at the checkpoint being restored. */
  createEnumerator(ctx: SplitEnumeratorContext<Split>, restored?: EnumState): SplitEnumerator<Split, EnumState>;
  /** The reader of one subtask (created before any split is known). */
  createReader(ctx: SourceReaderContext): SourceReader<T, Split>;
  /**
   * For checkpoints written before sources were split-based (Floe 0.1's `snapshotPosition`):
   * `positions[i]` is what old subtask i stored (undefined if nothing). Returns the splits each old
   * reader held and the enumerator's state. Built-in sources implement it; without it such a
   * checkpoint is refused (STATE_NOT_RESTORED).
   */
  restoreLegacyPositions?(positions: readonly unknown[]): { readers: Split[][]; enumerator: EnumState };
}

/** A source of any record, split and state type (how the runtime holds them). */
export type AnySource = Source<unknown, any, any>;
