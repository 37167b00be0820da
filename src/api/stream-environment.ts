// The entry point of a job: sources, job-wide settings, execution.
import { systemClock, type Clock } from '../core/clock.js';
import { FloeError, isRetriable } from '../core/errors.js';
import { checkParallelism } from '../core/key-groups.js';
import { CollectionSource } from '../connectors/collection/collection-source.js';
import { JsonLinesFileSource, type JsonLinesFileSourceOptions } from '../connectors/file/json-lines-file-source.js';
import { GeneratorSource, type GeneratorFunction, type GeneratorSourceOptions } from '../connectors/generator/generator-source.js';
import { buildJobGraph, type JobGraph } from '../plan/job-graph.js';
import { NO_SINK_WARNING, describePlan, missingUidWarnings, type PlanDescription } from '../plan/plan-description.js';
import type { Transformation } from '../plan/transformation.js';
import { JobRunner, type JobMetrics, type JobResult } from '../runtime/job-runner.js';
import type { PendingSnapshotInfo } from '../checkpoint/coordinator/checkpoint-coordinator.js';
import type { AnySource, Source, SourceSplit } from '../runtime/source.js';
import { DiskStateBackend, type DiskStateBackendOptions } from '../state/disk/disk-state-backend.js';
import { HeapStateBackend } from '../state/heap/heap-state-backend.js';
import type { StateBackend } from '../state/keyed-state-backend.js';
import { DataStream } from './data-stream.js';
import { prepareRestore } from './prepare-restore.js';
import { createRestartStrategy, defaultRestartStrategy, type RestartStrategyOptions } from '../runtime/restart-strategy.js';
import { resolveCheckpointingOptions, type CheckpointingOptions } from '../checkpoint/coordinator/checkpoint-options.js';
import { FileCheckpointStorage } from '../checkpoint/files/file-checkpoint-storage.js';
import type { CheckpointMetadataEnvelope, CheckpointStorage } from '../checkpoint/checkpoint-storage.js';
import { lockStateDir, type LockPurpose } from '../state/disk/state-dir-lock.js';
import './keyed-stream.js'; // registers DataStream.keyBy's KeyedStream factory
import './broadcast-stream.js'; // registers DataStream.broadcast/connect factories

export type { PlanDescription } from '../plan/plan-description.js';

const CHECKPOINT_DIR_LOCK: LockPurpose = { code: 'CHECKPOINT_DIR_IN_USE', what: 'checkpoint directory', option: '--checkpoint-dir DIR, or checkpointing.directory' };

/** Job-wide settings. Every field has a default. */
export interface StreamEnvironmentOptions {
  /** Default parallelism of every operator (default 1). */
  parallelism?: number;
  /**
   * Number of key groups of keyed operators, the upper bound of future rescaling. Default:
   * Flink's formula per operator, roundUpToPowerOfTwo(p + p/2) within [128, 32768].
   */
  maxParallelism?: number;
  /**
   * Where keyed state lives: 'heap' (default; objects in memory, fastest), 'disk' (an embedded
   * LMDB store in a local directory: state larger than memory, incremental checkpoints),
   * `{ kind: 'disk', dir, incremental, ... }` for the disk backend's options, or a StateBackend.
   */
  stateBackend?: 'heap' | 'disk' | ({ kind: 'disk' } & DiskStateBackendOptions) | StateBackend;
  /** Processing time for timers, TTL and sources' rates (tests inject a ManualClock). */
  clock?: Clock;
  /** Records per batch on channels (default 512). */
  batchSize?: number;
  /** Batches a channel holds before its producer waits (default 8). */
  channelCapacity?: number;
  /** Log lines (warnings, skipped records); default stderr. */
  log?: (message: string) => void;
  /** The job's name when execute() gets none (default 'Floe Job'). */
  jobName?: string;
  /** Checkpoints into `directory`, or into `storage` (Flink's options and defaults; exactly-once by default). */
  checkpointing?: CheckpointingOptions & {
    /** A local directory for checkpoints (a FileCheckpointStorage). */
    directory?: string;
    /** A storage to use instead of a directory (`new InMemoryCheckpointStorage()` for tests and small state). */
    storage?: CheckpointStorage;
  };
  /**
   * Where to start from: 'latest' resumes from the newest valid checkpoint in the checkpoint
   * directory when there is one (falling back past invalid ones); a number restores that
   * checkpoint; a path restores the checkpoint directory `.../chk-N`.
   */
  restore?: 'latest' | number | string;
  /**
   * Start from this savepoint directory (or a retained checkpoint's `chk-N` directory), matched to
   * the job's operators by uid, at any parallelism and with either backend (Flink's `-s`). The
   * savepoint is only read: the job never modifies or deletes it. Overrides `restore` at start; a
   * restart before the job's first own checkpoint restores it again.
   */
  fromSavepoint?: string;
  /**
   * Resume from an older checkpoint when newer completed ones are damaged or missing (default
   * false: such a fallback fails the job with CHECKPOINT_DAMAGED, because exactly-once sinks
   * already committed those checkpoints' output and the replay would commit it again).
   */
  allowFallbackDuplicates?: boolean;
  /**
   * Restore a checkpoint that holds state of operators this job no longer has, dropping that state
   * (Flink's --allowNonRestoredState). Default false: such a restore fails with STATE_NOT_RESTORED,
   * naming the operators.
   */
  allowNonRestoredState?: boolean;
  /**
   * What happens when the job fails: restart from the latest completed checkpoint after a delay.
   * Default as Flink: exponential delay (1 s to 1 min) with checkpointing, no restarts without.
   */
  restartStrategy?: RestartStrategyOptions;
  /**
   * Builds the job graph but runs nothing (Flink's `info`): execute() rejects with PLAN_ONLY and
   * the graph is in `plannedGraph`. `floe check` uses it.
   */
  planOnly?: boolean;
}

/** A running job: live metrics, cancellation, and its result. */
export interface JobClient {
  readonly jobName: string;
  metrics(): JobMetrics;
  /** Stops at once: records since the last completed checkpoint are not committed (a later run replays them). */
  cancel(): void;
  /**
   * Stops gracefully (Flink's stop with a savepoint, without draining): takes a checkpoint, lets
   * every sink commit what came before it, then stops; `result` resolves with
   * `stoppedAtCheckpoint`, and a later run resumes from there. Event-time timers do not fire.
   * Without checkpointing it cancels. Rejects, leaving the job running, when the checkpoint fails.
   */
  stop(): Promise<number | undefined>;
  /** Takes a checkpoint now (checkpointing must be enabled); resolves with its id once complete. */
  triggerCheckpoint(): Promise<number>;
  /**
   * Takes a savepoint into a new directory under `directory` while the job keeps running;
   * resolves with the savepoint's own directory (restore it with `fromSavepoint`). Checkpointing
   * must be enabled. Nothing is committed by it (as Flink's intermediate savepoints).
   */
  triggerSavepoint(directory: string): Promise<string>;
  /**
   * Stops the job with a final savepoint under `directory`: sinks commit what came before it,
   * then the job ends and `result` resolves with `stoppedWithSavepoint`. Resolves with the
   * savepoint's directory; rejects (leaving the job running) when the savepoint fails.
   */
  stopWithSavepoint(directory: string): Promise<string>;
  /** Checkpoints and savepoints being taken now, with how many subtasks finished their part. */
  snapshotsInProgress(): PendingSnapshotInfo[];
  /** Where checkpoints go (undefined without checkpointing). */
  readonly checkpointDirectory: string | undefined;
  readonly result: Promise<JobResult>;
}

/**
 * Creates sources, holds job-wide settings and runs the job.
 *
 * @example
 * const env = StreamEnvironment.create({ parallelism: 4 });
 * env.fromElements(1, 2, 3).map((x) => x * 2).print();
 * await env.execute('doubles');
 */
export class StreamEnvironment {
  readonly parallelism: number;
  readonly maxParallelism: number | undefined;
  readonly clock: Clock;
  private readonly stateBackend: StateBackend;
  private readonly batchSize: number;
  private readonly channelCapacity: number;
  private readonly log: (message: string) => void;
  private readonly defaultJobName: string;
  private readonly sinks: Transformation[] = [];
  private checkpointing: StreamEnvironmentOptions['checkpointing'];
  private restore: StreamEnvironmentOptions['restore'];
  private restartStrategy: RestartStrategyOptions;
  private restartStrategyDefaulted: boolean;
  private readonly allowFallbackDuplicates: boolean;
  private readonly allowNonRestoredState: boolean;
  private nextId = 1;
  /** Set once a job was started from this environment. */
  executed = false;
  /** With `planOnly`: the graph execute() would have run. */
  plannedGraph: JobGraph | undefined;
  /**
   * True in `floe check` (and with `planOnly`): the graph is built, nothing runs. A job file that
   * does something at build time (deleting old output, say) should skip it then.
   */
  readonly planOnly: boolean;

  private constructor(options: StreamEnvironmentOptions) {
    this.parallelism = options.parallelism ?? 1;
    this.maxParallelism = options.maxParallelism;
    checkParallelism(this.parallelism, this.maxParallelism ?? Math.max(128, this.parallelism));
    this.clock = options.clock ?? systemClock;
    this.stateBackend = resolveBackend(options.stateBackend);
    this.batchSize = positiveInt(options.batchSize ?? 512, 'batchSize');
    this.channelCapacity = positiveInt(options.channelCapacity ?? 8, 'channelCapacity');
    this.log = options.log ?? ((message) => process.stderr.write(`${message}\n`));
    this.defaultJobName = options.jobName ?? 'Floe Job';
    this.checkpointing = options.checkpointing;
    this.restore = options.fromSavepoint ?? options.restore;
    this.restartStrategy = options.restartStrategy ?? defaultRestartStrategy(options.checkpointing !== undefined);
    this.restartStrategyDefaulted = options.restartStrategy === undefined;
    this.allowFallbackDuplicates = options.allowFallbackDuplicates ?? false;
    this.allowNonRestoredState = options.allowNonRestoredState ?? false;
    this.planOnly = options.planOnly === true;
    if (this.checkpointing !== undefined) checkCheckpointing(this.checkpointing);
  }

  static create(options: StreamEnvironmentOptions = {}): StreamEnvironment {
    return new StreamEnvironment(options);
  }

  /**
   * Turns on checkpointing from inside a job file (Flink's enableCheckpointing). Settings given
   * on the command line or to create() win. With `resume`, the job starts from the newest valid
   * checkpoint in the directory.
   */
  enableCheckpointing(options: NonNullable<StreamEnvironmentOptions['checkpointing']> & { resume?: boolean }): this {
    const { resume, ...checkpointing } = options;
    if (this.checkpointing !== undefined) return this;
    checkCheckpointing(checkpointing);
    this.checkpointing = checkpointing;
    if (resume === true && this.restore === undefined) this.restore = 'latest';
    if (this.restartStrategyDefaulted) this.restartStrategy = defaultRestartStrategy(true);
    return this;
  }

  /**
   * Sets what happens when the job fails (Flink's setRestartStrategy), from inside a job file.
   * A strategy given on the command line (`--restart-strategy`) or to create() wins.
   *
   * @example
   * env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 5000 });
   */
  setRestartStrategy(strategy: RestartStrategyOptions): this {
    createRestartStrategy(strategy); // validates
    if (this.restartStrategyDefaulted) {
      this.restartStrategy = strategy;
      this.restartStrategyDefaulted = false;
    }
    return this;
  }

  /** The checkpoint directory, when checkpointing into a directory is on. */
  get checkpointDirectory(): string | undefined {
    return this.checkpointing?.directory ?? this.checkpointing?.storage?.directory;
  }

  /** A bounded stream of the given items (parallelism 1). */
  fromElements<T>(...items: T[]): DataStream<T> {
    return this.fromSource(new CollectionSource(items), 'Elements Source');
  }

  /** A bounded stream of an iterable's or async iterable's items (parallelism 1). */
  fromCollection<T>(items: Iterable<T> | AsyncIterable<T>): DataStream<T> {
    return this.fromSource(new CollectionSource(items), 'Collection Source');
  }

  /**
   * Records made from their index by `generate`; bounded by `count`, unbounded without it;
   * `eventsPerSecond` limits the rate. Runs at the environment's parallelism; the sequence is cut
   * into `splits` strides (default: that parallelism), which a rescaled restore redistributes.
   */
  fromGenerator<T>(generate: GeneratorFunction<T>, options: GeneratorSourceOptions = {}): DataStream<T> {
    return this.fromSource(new GeneratorSource(generate, options), 'Generator Source');
  }

  /**
   * One record per line of a JSON-lines file, or of every file in a directory (one split per file,
   * read by as many readers as the source's parallelism). With `watch: { intervalMs }` the
   * directory is listed again every interval and new files are read as they appear (unbounded).
   *
   * @example
   * env.readJsonLines<Click>('incoming/', { watch: { intervalMs: 1000 } }).keyBy((c) => c.user)...
   */
  readJsonLines<T = unknown>(path: string, options: JsonLinesFileSourceOptions = {}): DataStream<T> {
    return this.fromSource(new JsonLinesFileSource<T>(path, options), 'JSON Lines Source');
  }

  /** A stream from any Source implementation (see "Writing a source" in docs/user-guide.md). */
  fromSource<T, Split extends SourceSplit, EnumState>(source: Source<T, Split, EnumState>, name = source.name): DataStream<T> {
    return new DataStream<T>(this, {
      type: 'source',
      id: this.nextId++,
      name,
      uid: undefined,
      parallelism: undefined,
      maxParallelism: undefined,
      source: source as unknown as AnySource,
    });
  }

  /** Runs the job to its end (bounded) or until cancelled; resolves with counts and duration. */
  async execute(jobName?: string): Promise<JobResult> {
    return this.executeAsync(jobName).result;
  }

  /** Starts the job and returns at once with a client for metrics and cancellation. */
  executeAsync(jobName?: string): JobClient {
    const graph = this.buildGraph(jobName);
    if (this.planOnly) {
      this.plannedGraph = graph;
      throw new FloeError('PLAN_ONLY', `Job '${graph.jobName}' was planned, not run (planOnly)`);
    }
    this.executed = true;
    let runner: JobRunner | undefined;
    // Resolves when the first attempt's runner exists (a checkpoint asked for earlier waits for it).
    let runnerStarted!: () => void;
    const started = new Promise<void>((resolve) => (runnerStarted = resolve));
    let cancelled = false;
    let wakeFromDelay: (() => void) | undefined;
    let stopping = false;
    const strategy = createRestartStrategy(this.restartStrategy);
    let restarts = 0;
    const savepointWarnings = missingUidWarnings(graph);
    const start = async (): Promise<JobResult> => {
      const cp = this.checkpointing;
      const storage = cp === undefined ? undefined : (cp.storage ?? new FileCheckpointStorage(cp.directory!));
      const resolved = cp === undefined ? undefined : resolveCheckpointingOptions(cp);
      // One running job per checkpoint directory; also proves the directory is usable.
      const lock = storage?.directory === undefined ? undefined : lockStateDir(storage.directory, { job: graph.jobName }, CHECKPOINT_DIR_LOCK);
      let highestUsedId = 0;
      let completedOwnCheckpoint = false;
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            const { restore, firstCheckpointId } = await prepareRestore({
              storage,
              // A restart resumes its own timeline: the newest checkpoint this job completed, or
              // (before its first) what the job started from — never another run's checkpoint.
              wanted: attempt > 0 && completedOwnCheckpoint ? 'latest' : this.restore,
              atStart: attempt === 0,
              highestUsedId,
              allowFallbackDuplicates: this.allowFallbackDuplicates,
              retained: resolved?.retained ?? 0,
              log: this.log,
            });
            runner = new JobRunner(this.buildGraph(graph.jobName, restore), {
              stateBackend: this.stateBackend,
              clock: this.clock,
              batchSize: this.batchSize,
              channelCapacity: this.channelCapacity,
              log: this.log,
              checkpointing: resolved === undefined || storage === undefined ? undefined : { options: resolved, storage, firstCheckpointId },
              restore,
              allowNonRestoredState: this.allowNonRestoredState,
              savepointWarnings,
            });
            runnerStarted();
            if (cancelled) runner.cancel();
            try {
              const result = await runner.run();
              return { ...result, restarts };
            } finally {
              highestUsedId = Math.max(highestUsedId, firstCheckpointId - 1, runner.highestCheckpointId);
              if (runner.completedCheckpoints.length > 0) completedOwnCheckpoint = true;
            }
          } catch (error) {
            if (cancelled || stopping || (error instanceof FloeError && error.code === 'JOB_CANCELLED')) throw error;
            const message = (error as Error).message;
            if (!isRetriable(error)) {
              this.log(`[restart] job '${graph.jobName}' failed with an error no restart can fix (${(error as FloeError).code ?? 'configuration'}): not restarting`);
              throw error;
            }
            const delay = strategy.onFailure(this.clock.now());
            if (delay === undefined) throw error;
            restarts++;
            this.log(`[restart] job '${graph.jobName}' failed (${message}); a restart may fix this: restart ${restarts} in ${delay} ms (${strategy.describe()})`);
            // A cancel (Ctrl-C, SIGTERM) during the delay ends the wait at once.
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, delay);
              wakeFromDelay = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wakeFromDelay = undefined;
            if (cancelled) throw new FloeError('JOB_CANCELLED', `Job '${graph.jobName}' was cancelled while waiting to restart`, { cause: error });
          }
        }
      } finally {
        lock?.release();
      }
    };
    const result = start();
    /** The current attempt's runner, once the job started (a request made earlier waits for it). */
    const runningRunner = async (what: string): Promise<JobRunner> => {
      if (runner === undefined) await Promise.race([started, result.then(() => undefined, () => undefined)]);
      if (runner === undefined) throw new FloeError('INVALID_ARGUMENT', `Job '${graph.jobName}' ended before it started: no ${what} to take`);
      return runner;
    };
    /** A graceful stop: the job's end is then not a failure to restart from; one that fails leaves the job running. */
    const stopVia = async <R>(stop: () => Promise<R>): Promise<R> => {
      stopping = true;
      try {
        return await stop();
      } catch (error) {
        stopping = false;
        throw error;
      }
    };
    const emptyMetrics: JobMetrics = { elapsedMs: 0, sourceRecords: 0, sinkRecords: 0, distinctKeys: 0, stateEntries: 0, timers: 0, operators: [], userMetrics: [] };
    return {
      jobName: graph.jobName,
      metrics: () => runner?.metrics() ?? emptyMetrics,
      cancel: () => {
        cancelled = true;
        runner?.cancel();
        wakeFromDelay?.();
      },
      stop: async () => {
        if (runner === undefined) {
          cancelled = true;
          wakeFromDelay?.();
          return undefined;
        }
        return stopVia(runner.stop.bind(runner));
      },
      triggerSavepoint: async (directory) => (await (await runningRunner('savepoint')).triggerSavepoint(directory)).directory,
      stopWithSavepoint: async (directory) => {
        const r = await runningRunner('savepoint');
        return stopVia(() => r.stopWithSavepoint(directory));
      },
      snapshotsInProgress: () => runner?.snapshotsInProgress() ?? [],
      checkpointDirectory: this.checkpointDirectory,
      triggerCheckpoint: async () => (await (await runningRunner('checkpoint')).triggerCheckpoint()).checkpointId,
      result,
    };
  }

  /** The job graph that execute() would run (chains, parallelism, uids). */
  buildGraph(jobName?: string, restore?: { envelope: CheckpointMetadataEnvelope }): JobGraph {
    if (this.sinks.length === 0)
      throw new FloeError('INVALID_JOB', `Job '${jobName ?? this.defaultJobName}' has no sink: end a stream with print(), writeAsJsonLines(...), addSink(...) or executeAndCollect()`);
    return buildJobGraph(this.sinks, {
      jobName: jobName ?? this.defaultJobName,
      parallelism: this.parallelism,
      maxParallelism: this.maxParallelism,
      restoredMaxParallelism: restore === undefined ? undefined : restoredMaxParallelism(restore.envelope),
    });
  }

  /**
   * What the job would run, for people and tools (`floe check`): chains, operators, uids,
   * parallelism, partitioning, declared state and warnings. With `planOnly`, the graph that
   * execute() planned.
   */
  describePlan(jobName?: string): PlanDescription {
    // A job without a sink has no graph (buildGraph refuses it): its plan is that warning.
    if (this.plannedGraph === undefined && !this.hasSinks) return { jobName: jobName ?? this.defaultJobName, vertices: [], warnings: [NO_SINK_WARNING] };
    return describePlan(this.plannedGraph ?? this.buildGraph(jobName));
  }

  /** True when at least one sink was added (the CLI executes such a job for the user). */
  get hasSinks(): boolean {
    return this.sinks.length > 0;
  }

  /** @internal */
  newId(): number {
    return this.nextId++;
  }

  /** @internal */
  addSink(t: Transformation): void {
    this.sinks.push(t);
  }

  /** @internal Removes a sink again (executeAndCollect runs a job of its own). */
  takeSinks(): Transformation[] {
    return this.sinks.splice(0, this.sinks.length);
  }
}

/** Validates checkpointing options: Flink's settings, and a place for the checkpoints. */
function checkCheckpointing(options: NonNullable<StreamEnvironmentOptions['checkpointing']>): void {
  resolveCheckpointingOptions(options);
  if (options.directory === undefined && options.storage === undefined)
    throw new FloeError('INVALID_ARGUMENT', 'checkpointing needs a directory (checkpointing.directory, --checkpoint-dir) or a storage (checkpointing.storage)');
}

/** Max parallelism per head operator uid, as the checkpoint's job metadata recorded it. */
function restoredMaxParallelism(envelope: CheckpointMetadataEnvelope): Map<string, number> {
  const vertices = (envelope.metadata?.vertices ?? []) as Array<{ uid: string; maxParallelism?: number }>;
  return new Map(vertices.filter((v) => typeof v.maxParallelism === 'number').map((v) => [v.uid, v.maxParallelism!]));
}

function resolveBackend(backend: StreamEnvironmentOptions['stateBackend']): StateBackend {
  if (backend === undefined || backend === 'heap') return new HeapStateBackend();
  if (backend === 'disk') return new DiskStateBackend();
  if (typeof backend === 'object' && 'createKeyedStateBackend' in backend && typeof backend.createKeyedStateBackend === 'function') return backend;
  if (typeof backend === 'object' && (backend as { kind?: unknown }).kind === 'disk') {
    const { kind: _kind, ...options } = backend as { kind: 'disk' } & DiskStateBackendOptions;
    return new DiskStateBackend(options);
  }
  throw new FloeError('INVALID_ARGUMENT', `Unknown state backend ${JSON.stringify(backend)}: use 'heap', 'disk', { kind: 'disk', dir } or a StateBackend instance`);
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new FloeError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${value}`);
  return value;
}
