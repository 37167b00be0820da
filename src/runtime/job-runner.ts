// Deploys a job graph in this worker: creates channels, subtasks, operator chains and keyed
// backends, runs every subtask's loop, and fails the whole job on the first error.
import { randomBytes } from 'node:crypto';
import { basename, resolve as resolvePath } from 'node:path';
import type { Clock } from '../core/clock.js';
import { FloeError, describeContext } from '../core/errors.js';
import { computeKeyGroupRangeForOperatorIndex } from '../core/key-groups.js';
import type { JobGraph, JobVertex, PlannedNode } from '../plan/job-graph.js';
import type { KeyedStateBackend, StateBackend } from '../state/keyed-state-backend.js';
import { restoreReadBytes, snapshotEntries } from '../state/restore-size.js';
import { LocalChannel } from './channel.js';
import { InputGate } from './input-gate.js';
import type { OperatorContext, Output, StreamOperator } from './operators/stream-operator.js';
import { createChannelSelector } from './partitioner.js';
import { SystemProcessingTimeService, type ProcessingTimeService } from './processing-time-service.js';
import { RecordWriter } from './record-writer.js';
import { StreamTask, TaskCancelledError, decodeTaskSnapshot, type TaskCheckpointing, type TaskSnapshotFile } from './task.js';
import { assignRestoredState, stateWithoutOperator } from '../checkpoint/restore-assignment.js';
import { encodeEnumeratorState, planSourceRestores, type SourceCheckpointMetadata } from '../checkpoint/source-restore.js';
import { SourceCoordinator, type EnumeratorRestore } from './source-coordinator.js';
import { SourceOperator } from './source-operator.js';
import { CheckpointCoordinator, type CheckpointTrigger, type CompletedCheckpointInfo, type CompletedSavepointInfo, type PendingSnapshotInfo } from '../checkpoint/coordinator/checkpoint-coordinator.js';
import type { ResolvedCheckpointingOptions } from '../checkpoint/coordinator/checkpoint-options.js';
import { MetricRegistry, type UserMetricSnapshot } from './metrics/user-metrics.js';
import { FileCheckpointStorage } from '../checkpoint/files/file-checkpoint-storage.js';
import type { CheckpointMetadataEnvelope, CheckpointStorage, CheckpointWriter, StoredFile } from '../checkpoint/checkpoint-storage.js';

export interface JobRunnerOptions {
  stateBackend: StateBackend;
  clock: Clock;
  /** Records per batch on every channel. */
  batchSize: number;
  /** Batches a channel holds before its producer waits. */
  channelCapacity: number;
  log: (message: string) => void;
  checkpointing?: { options: ResolvedCheckpointingOptions; storage: CheckpointStorage; firstCheckpointId?: number };
  /** Restore every subtask from this completed checkpoint. */
  restore?: { envelope: CheckpointMetadataEnvelope; storage: CheckpointStorage };
  /** Skip (with a log line) state of operators the job no longer has, instead of failing (Flink's option). */
  allowNonRestoredState?: boolean;
  /** Said when a savepoint is taken: stateful operators without an explicit uid (the plan's warnings). */
  savepointWarnings?: string[];
}

/** One operator's counts, summed over its subtasks. */
export interface OperatorMetrics {
  uid: string;
  name: string;
  /** The chain (subtask) the operator runs in: its operators joined by ' -> '. */
  chain: string;
  parallelism: number;
  /** Records the operator received (a source: 0). */
  recordsIn: number;
  /** Records the operator emitted (a source: records read; a sink: 0). */
  recordsOut: number;
  isSource: boolean;
  isSink: boolean;
}

/** A live view of a running job, for progress lines and the final summary. */
export interface JobMetrics {
  elapsedMs: number;
  /** Records emitted by all sources. */
  sourceRecords: number;
  /** Records written by sinks: what every sink operator received. */
  sinkRecords: number;
  /** Distinct keys held in keyed state (per operator: the state with most keys; summed). */
  distinctKeys: number;
  /** Stored keyed-state entries over all operators and states. */
  stateEntries: number;
  /** Registered timers. */
  timers: number;
  /** Newest completed checkpoint of this run (undefined when none yet or checkpointing is off). */
  lastCheckpointId?: number;
  operators: OperatorMetrics[];
  /** Metrics registered by user functions (`ctx.metrics`), combined over subtasks. */
  userMetrics: UserMetricSnapshot[];
}

export interface JobResult {
  jobName: string;
  durationMs: number;
  metrics: JobMetrics;
  /** How often the job was restarted after failures. */
  restarts?: number;
  /** Checkpoints completed by the last run. */
  checkpoints?: number[];
  /** Set when the job was stopped gracefully (`client.stop()`, a first Ctrl-C): the checkpoint it stopped at. */
  stoppedAtCheckpoint?: number;
  /** Set when the job was stopped with a savepoint: its directory. */
  stoppedWithSavepoint?: string;
  /** Directories of the savepoints this run took. */
  savepoints?: string[];
  /** Per completed checkpoint: trigger to completion, and the slowest subtask's synchronous and asynchronous phase. */
  checkpointStats?: Array<{ checkpointId: number; durationMs: number; syncMs: number; asyncMs: number; cpuMs: number; bytes: number }>;
}

interface DeployedSubtask {
  key: string;
  index: number;
  vertex: JobVertex;
  task: StreamTask;
  backend: KeyedStateBackend | undefined;
  processingTime: ProcessingTimeService;
  /** Records each operator of the chain emitted, by position in the chain (the source's: task.recordsIn). */
  emitted: Float64Array;
  /** The split reader of a source subtask. */
  source: SourceOperator | undefined;
}

/** Runs one job graph to completion (or failure, or cancellation). */
export class JobRunner {
  private readonly subtasks: DeployedSubtask[] = [];
  private startedAt = 0;
  private finishedAt: number | undefined;
  private failure: unknown;
  private finalMetrics: JobMetrics | undefined;
  private readonly userMetrics = new MetricRegistry();

  constructor(
    readonly graph: JobGraph,
    private readonly options: JobRunnerOptions,
  ) {
    this.sourceTimers = new SystemProcessingTimeService(options.clock);
    this.started = new Promise<void>((resolve, reject) => {
      this.markStarted = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.started.catch(() => {}); // run() rejects with the same error
    this.deploy();
  }

  /** Runs every subtask; rejects with the first failure after stopping the others. */
  private coordinator: CheckpointCoordinator | undefined;
  private readonly writers = new Map<number, CheckpointWriter>();
  private readonly finalIds = new Set<number>();
  private sourcesFinished = 0;
  /** One per source vertex, by the source's uid: its split enumerator on this (the coordinator) side. */
  private readonly sourceCoordinators = new Map<string, SourceCoordinator>();
  /** What each source coordinator restores from (set by loadRestore). */
  private readonly enumeratorRestores = new Map<string, EnumeratorRestore>();
  /** Per pending checkpoint: the enumerators' states taken when its barriers were sent (for its metadata). */
  private readonly enumeratorStates = new Map<number, SourceCheckpointMetadata>();
  /** Timers of the enumerators' asynchronous calls (directory watching). */
  private readonly sourceTimers: ProcessingTimeService;
  private highestTriggeredId = 0;

  /** Triggers a checkpoint now; resolves when it completed. */
  async triggerCheckpoint(): Promise<CompletedCheckpointInfo> {
    if (this.coordinator === undefined) throw new FloeError('INVALID_ARGUMENT', 'Checkpointing is not enabled for this job (set checkpointing options)');
    await this.started;
    return this.coordinator.triggerCheckpoint();
  }

  /**
   * Takes a savepoint into a new directory under `parentDirectory` (`savepoint-<job>-<id>-<random>`):
   * every operator's state in the canonical format, self-contained. Processing goes on; nothing is
   * committed (Flink's intermediate savepoint). Resolves with the savepoint's directory.
   */
  async triggerSavepoint(parentDirectory: string, options: { terminate?: boolean } = {}): Promise<CompletedSavepointInfo> {
    if (this.coordinator === undefined)
      throw new FloeError('INVALID_ARGUMENT', `Job '${this.graph.jobName}' runs without checkpointing: savepoints need it (set checkpointing options or --checkpoint-dir)`);
    for (const warning of this.options.savepointWarnings ?? []) this.options.log(`[savepoint] ${warning}`);
    const slug = basename(this.graph.jobName).replace(/\.[cm]?[jt]s$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'job';
    await this.started;
    const info = await this.coordinator.triggerSavepoint({
      terminate: options.terminate === true,
      begin: async (id) => {
        const directory = resolvePath(parentDirectory, `savepoint-${slug}-${id}-${randomBytes(3).toString('hex')}`);
        this.options.log(`[savepoint] writing savepoint ${id} to ${directory}`);
        return { directory, writer: await FileCheckpointStorage.savepoint(directory).beginCheckpoint(id) };
      },
    });
    this.options.log(
      `[savepoint] savepoint ${info.checkpointId} complete: ${info.directory} (${(info.bytes / 1048576).toFixed(1)} MiB in ${Math.round(info.durationMs)} ms; processing paused at most ${info.syncMsMax.toFixed(1)} ms)`,
    );
    return info;
  }

  /**
   * Stops the job with a final savepoint (Flink's stop-with-savepoint, without draining): the
   * savepoint is taken, every subtask is told it completed (sinks commit what came before it),
   * then every subtask stops. Resolves with the savepoint's directory; `run()` resolves.
   */
  async stopWithSavepoint(parentDirectory: string): Promise<string> {
    const info = await this.triggerSavepoint(parentDirectory, { terminate: true });
    await Promise.race([this.notified.get(info.checkpointId), this.subtasksSettled]);
    this.stoppedAt = info.checkpointId;
    this.stoppedWithSavepoint = info.directory;
    this.cancel();
    return info.directory;
  }

  /** Checkpoints and savepoints in progress, with how many subtasks acknowledged them. */
  snapshotsInProgress(): PendingSnapshotInfo[] {
    // `written`: the share of the work done, averaged over the subtasks (each 0 to 1).
    return (this.coordinator?.inProgress() ?? []).map((p) => ({
      ...p,
      written: this.subtasks.length === 0 ? 1 : this.subtasks.reduce((sum, s) => sum + s.task.snapshotDone(p.checkpointId), 0) / this.subtasks.length,
    }));
  }

  /** The highest checkpoint id this run triggered (0 before the first): a later attempt starts above it. */
  get highestCheckpointId(): number {
    return this.highestTriggeredId;
  }

  /** Completed checkpoints of this run. */
  get completedCheckpoints(): CompletedCheckpointInfo[] {
    return this.coordinator?.completed ?? [];
  }

  /**
   * Resolves once the restore was read and every source's enumerator started: checkpoints asked
   * for earlier wait for it, so an enumerator is never snapshotted before it holds its state.
   */
  private readonly started: Promise<void>;
  private markStarted!: (error?: unknown) => void;

  async run(): Promise<JobResult> {
    this.startedAt = Date.now();
    const restoreStarted = Date.now();
    try {
      if (this.options.restore !== undefined) await this.loadRestore(this.options.restore);
      await this.startSourceCoordinators();
      this.markStarted();
    } catch (error) {
      this.markStarted(error);
      await this.closeSourceCoordinators();
      await this.dispose();
      throw error;
    }
    this.coordinator?.start();
    const stopProgress =
      this.options.restore === undefined ? undefined : this.reportRestoreProgress(this.options.restore.envelope.checkpointId, this.options.restore.envelope.kind ?? 'checkpoint', restoreStarted);
    const runs = this.subtasks.map(async (s) => {
      try {
        await s.task.run();
      } catch (error) {
        if (!(error instanceof TaskCancelledError) && this.failure === undefined) {
          this.failure = error;
          this.cancel();
        }
        await s.task.abort();
        throw error;
      }
    });
    this.subtasksSettled = Promise.allSettled(runs);
    await this.subtasksSettled;
    stopProgress?.();
    this.coordinator?.stop();
    await this.coordinator?.drain();
    await this.closeSourceCoordinators();
    this.finishedAt = Date.now();
    this.finalMetrics = this.metrics(); // state is released below; keep what it held at the end
    await this.dispose();
    if (this.failure !== undefined) throw this.wrapFailure(this.failure);
    if (this.cancelled && this.stoppedAt === undefined) throw new FloeError('JOB_CANCELLED', `Job '${this.graph.jobName}' was cancelled`);
    return {
      ...(this.stoppedAt === undefined ? {} : { stoppedAtCheckpoint: this.stoppedAt }),
      ...(this.stoppedWithSavepoint === undefined ? {} : { stoppedWithSavepoint: this.stoppedWithSavepoint }),
      savepoints: (this.coordinator?.savepoints ?? []).map((s) => s.directory),
      jobName: this.graph.jobName,
      durationMs: this.finishedAt - this.startedAt,
      metrics: this.metrics(),
      checkpoints: this.completedCheckpoints.map((c) => c.checkpointId),
      checkpointStats: this.completedCheckpoints.map((c) => ({ checkpointId: c.checkpointId, durationMs: c.durationMs, syncMs: c.syncMsMax, asyncMs: c.asyncMsMax, cpuMs: c.cpuMsMax, bytes: c.bytes })),
    };
  }

  private cancelled = false;
  /** Set by stop(): the checkpoint the job stopped at; run() then resolves instead of rejecting. */
  private stoppedAt: number | undefined;
  /** Set by stopWithSavepoint(): the savepoint's directory. */
  private stoppedWithSavepoint: string | undefined;
  private subtasksSettled: Promise<unknown> | undefined;
  /** Per recently completed checkpoint: resolves once every subtask was told (see stop()). */
  private readonly notified = new Map<number, Promise<unknown>>();

  /** Stops every subtask; `run()` then rejects with JOB_CANCELLED. */
  cancel(): void {
    this.cancelled = this.failure === undefined;
    for (const s of this.subtasks) s.task.cancel();
  }

  /**
   * Stops the job gracefully (Flink's stop with a savepoint, without draining): takes a checkpoint,
   * waits until every subtask was told it completed (sinks committed what came before its barrier),
   * then stops every subtask. Event-time timers do not fire; a later run resumes from that
   * checkpoint. Resolves with its id; `run()` then resolves with `stoppedAtCheckpoint`. Without
   * checkpointing it cancels (there is nothing to commit). Rejects (and leaves the job running)
   * when the checkpoint fails.
   */
  async stop(): Promise<number | undefined> {
    if (this.coordinator === undefined) {
      this.cancel();
      return undefined;
    }
    await this.started;
    const info = await this.coordinator.triggerCheckpoint();
    // A subtask that ended meanwhile is never told; the job is over then anyway.
    await Promise.race([this.notified.get(info.checkpointId), this.subtasksSettled]);
    this.stoppedAt = info.checkpointId;
    this.cancel();
    return info.checkpointId;
  }

  metrics(): JobMetrics {
    if (this.finalMetrics !== undefined) return this.finalMetrics;
    const byNode = new Map<string, OperatorMetrics>();
    let sourceRecords = 0;
    let sinkRecords = 0;
    let distinctKeys = 0;
    let stateEntries = 0;
    let timers = 0;
    for (const s of this.subtasks) {
      const head = s.vertex.nodes[0];
      const isSource = head.transformation.type === 'source';
      if (isSource) sourceRecords += s.task.recordsIn;
      s.vertex.nodes.forEach((node, position) => {
        const t = node.transformation;
        const isSink = t.type === 'operator' && t.isSink;
        const m = byNode.get(node.uid) ?? {
          uid: node.uid,
          name: node.name,
          chain: s.vertex.name,
          parallelism: node.parallelism,
          recordsIn: 0,
          recordsOut: 0,
          isSource: t.type === 'source',
          isSink,
        };
        // The chain's first operator receives what the task read (a source's records, or its input).
        const firstOperator = position === (isSource ? 1 : 0);
        const received = t.type === 'source' ? 0 : firstOperator ? s.task.recordsIn : s.emitted[position - 1];
        m.recordsIn += received;
        m.recordsOut += t.type === 'source' ? s.task.recordsIn : s.emitted[position];
        if (isSink) sinkRecords += received;
        byNode.set(node.uid, m);
      });
      if (s.backend !== undefined) {
        let most = 0;
        for (const info of s.backend.stateInfos()) most = Math.max(most, s.backend.estimatedNumKeys?.(info.name) ?? s.backend.numKeys(info.name));
        distinctKeys += most;
        stateEntries += s.backend.totalEntries();
        timers += s.backend.getTimerQueue('event-timers').size + s.backend.getTimerQueue('processing-timers').size;
      }
    }
    const end = this.finishedAt ?? Date.now();
    return {
      elapsedMs: this.startedAt === 0 ? 0 : end - this.startedAt,
      sourceRecords,
      sinkRecords,
      distinctKeys,
      stateEntries,
      timers,
      lastCheckpointId: this.coordinator?.latestCompletedId,
      operators: [...byNode.values()],
      userMetrics: this.userMetrics.snapshot(),
    };
  }

  private wrapFailure(error: unknown): FloeError {
    if (error instanceof FloeError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new FloeError('JOB_FAILED', `Job '${this.graph.jobName}' failed: ${message}`, { context: { job: this.graph.jobName }, cause: error });
  }

  private async dispose(): Promise<void> {
    const closing: Array<void | Promise<void>> = [];
    for (const s of this.subtasks) {
      s.processingTime.shutdown();
      closing.push(s.backend?.dispose());
    }
    await Promise.all(closing);
  }

  private deploy(): void {
    const { batchSize, channelCapacity } = this.options;
    // channels[edgeIndex][producer][consumer]
    const inputsOf = new Map<JobVertex, LocalChannel[][]>(); // per consumer subtask: its channels
    const inputIndexOf = new Map<JobVertex, number[][]>(); // per consumer subtask: input of each channel
    const outputsOf = new Map<JobVertex, RecordWriter[][]>(); // per producer subtask: its writers
    for (const v of this.graph.vertices) {
      inputsOf.set(v, Array.from({ length: v.parallelism }, () => []));
      inputIndexOf.set(v, Array.from({ length: v.parallelism }, () => []));
      outputsOf.set(v, Array.from({ length: v.parallelism }, () => []));
    }
    for (const v of this.graph.vertices) {
      for (const edge of v.outputs) {
        const target = edge.target;
        const forward = edge.partitioner.type === 'forward';
        for (let p = 0; p < v.parallelism; p++) {
          const targets: LocalChannel[] = [];
          for (let c = 0; c < target.parallelism; c++) {
            if (forward && c !== p) continue;
            const channel = new LocalChannel(channelCapacity, `${v.name} (${p + 1}) -> ${target.name} (${c + 1})`);
            targets.push(channel);
            inputsOf.get(target)![c].push(channel);
            inputIndexOf.get(target)![c].push(edge.inputIndex);
          }
          const selector = createChannelSelector(edge.partitioner, {
            numChannels: targets.length,
            producerSubtask: p,
            maxParallelism: target.maxParallelism,
            consumer: target.nodes[0].uid,
          });
          outputsOf.get(v)![p].push(new RecordWriter(targets, selector, batchSize));
        }
      }
    }
    for (const v of this.graph.vertices) {
      for (let i = 0; i < v.parallelism; i++) this.subtasks.push(this.deploySubtask(v, i, inputsOf.get(v)![i], outputsOf.get(v)![i], inputIndexOf.get(v)![i]));
    }
    for (const v of this.graph.vertices) {
      const head = v.nodes[0];
      if (head.transformation.type !== 'source') continue;
      const readers = this.subtasks.filter((s) => s.vertex === v).map((s) => s.source!);
      this.sourceCoordinators.set(
        head.uid,
        new SourceCoordinator({
          jobName: this.graph.jobName,
          uid: head.uid,
          source: head.transformation.source,
          readers,
          clock: this.options.clock,
          processingTime: this.sourceTimers,
          log: (message) => this.options.log(`[${describeContext({ job: this.graph.jobName, operator: head.uid, operatorName: head.name })}, enumerator] ${message}`),
          failJob: (error) => {
            if (this.failure === undefined) {
              this.failure = error;
              this.cancel();
            }
          },
        }),
      );
    }
    const cp = this.options.checkpointing;
    if (cp !== undefined) {
      const lastRestored = this.options.restore?.envelope.checkpointId ?? 0;
      this.coordinator = new CheckpointCoordinator({
        options: cp.options,
        storage: cp.storage,
        clock: this.options.clock,
        firstCheckpointId: cp.firstCheckpointId ?? lastRestored + 1,
        schedule: (delay, callback) => {
          const handle = setTimeout(callback, delay);
          return () => clearTimeout(handle);
        },
        runtime: {
          taskKeys: this.subtasks.map((s) => s.key),
          triggerSources: (trigger: CheckpointTrigger) => {
            this.writers.set(trigger.checkpointId, trigger.writer as CheckpointWriter);
            this.highestTriggeredId = Math.max(this.highestTriggeredId, trigger.checkpointId);
            if (trigger.isFinal) this.finalIds.add(trigger.checkpointId);
            const barrier = { kind: 'barrier' as const, checkpointId: trigger.checkpointId, timestamp: trigger.timestamp, isFinal: trigger.isFinal, savepoint: trigger.savepoint !== undefined };
            // The enumerators' states and the barriers' mail in one synchronous step: an assignment
            // is then either in an enumerator's state or in its reader's (see SplitEnumerator).
            if (!this.snapshotEnumerators(trigger.checkpointId)) return;
            for (const s of this.subtasks) if (s.source !== undefined) s.task.triggerCheckpoint(barrier);
          },
          notifyComplete: (id) => {
            this.writers.delete(id);
            this.enumeratorStates.delete(id);
            for (const source of this.sourceCoordinators.values()) source.notifyCheckpointComplete(id);
            const isFinal = this.finalIds.has(id);
            this.notified.set(id, Promise.all(this.subtasks.map((s) => s.task.notifyCheckpointComplete(id, isFinal))));
            for (const older of this.notified.keys()) if (older < id - 8) this.notified.delete(older);
          },
          notifyAborted: (id) => {
            this.writers.delete(id);
            this.enumeratorStates.delete(id);
            for (const source of this.sourceCoordinators.values()) source.notifyCheckpointAborted(id);
            for (const s of this.subtasks) s.task.notifyCheckpointAborted(id);
          },
          jobMetadata: (checkpointId) => ({
            jobName: this.graph.jobName,
            vertices: this.graph.vertices.map((v) => ({ uid: v.nodes[0].uid, operators: v.nodes.map((n) => n.uid), parallelism: v.parallelism, maxParallelism: v.maxParallelism })),
            sources: this.enumeratorStates.get(checkpointId) ?? {},
          }),
          failJob: (error) => {
            if (this.failure === undefined) {
              this.failure = error;
              this.cancel();
            }
          },
          log: (message) => this.options.log(`[checkpoint] ${message}`),
        },
      });
    }
  }

  /** Starts every source's enumerator (restored, when restoring) and registers its readers, before any subtask runs. */
  private async startSourceCoordinators(): Promise<void> {
    for (const [uid, source] of this.sourceCoordinators) await source.start(this.enumeratorRestores.get(uid));
  }

  private async closeSourceCoordinators(): Promise<void> {
    this.sourceTimers.shutdown();
    for (const source of this.sourceCoordinators.values()) await source.close();
  }

  /**
   * Takes every enumerator's state for checkpoint `checkpointId` (kept for its metadata). A failing
   * enumerator declines the checkpoint, as a failing subtask does; returns false then.
   */
  private snapshotEnumerators(checkpointId: number): boolean {
    const states: SourceCheckpointMetadata = {};
    for (const [uid, source] of this.sourceCoordinators) {
      try {
        states[uid] = { enumerator: encodeEnumeratorState(source.snapshotState(checkpointId)) };
      } catch (error) {
        this.coordinator?.decline(checkpointId, `${uid} (split enumerator)`, error);
        return false;
      }
    }
    this.enumeratorStates.set(checkpointId, states);
    return true;
  }

  private triggerFinal(): void {
    this.coordinator?.triggerFinalCheckpoint().catch(() => {
      // failures are counted, logged and retried by the coordinator; this rejects only when the job stops
    });
  }

  private taskCheckpointing(key: string): TaskCheckpointing | undefined {
    const cp = this.options.checkpointing;
    if (cp === undefined) return undefined;
    return {
      mode: cp.options.mode,
      taskKey: key,
      shared: { put: (localPath, file) => cp.storage.putShared(localPath, file) },
      write: async (id, name, bytes) => {
        const writer = this.writers.get(id);
        if (writer === undefined) throw new FloeError('CHECKPOINT_DECLINED', `Checkpoint ${id} is no longer pending`);
        return writer.writeFile(name, bytes);
      },
      acknowledge: (id, ack) => this.coordinator?.acknowledge(id, key, ack),
      decline: (id, error) => this.coordinator?.decline(id, key, error),
      sourceFinished: () => {
        const sources = this.subtasks.filter((s) => s.vertex.nodes[0].transformation.type === 'source').length;
        if (++this.sourcesFinished === sources) this.triggerFinal();
      },
    };
  }

  /**
   * Logs how a restore goes: a line every 2 s while subtasks are still loading state (a large disk
   * restore takes tens of seconds), and one when all are ready. Returns a function that stops it.
   */
  private reportRestoreProgress(checkpointId: number, kind: 'checkpoint' | 'savepoint', started: number): () => void {
    const total = this.subtasks.length;
    const ready = (): number => this.subtasks.filter((s) => s.task.stateRestored).length;
    const seconds = (): string => ((Date.now() - started) / 1000).toFixed(1);
    let done = false;
    let lastSaid = started;
    // The keyed-state bytes each subtask reads: fixed once the restore is assigned.
    const bytesOf = new Map(
      this.subtasks.map((s) => {
        const range = computeKeyGroupRangeForOperatorIndex(s.vertex.maxParallelism, s.vertex.parallelism, s.index);
        return [s, (s.task.options.restore?.keyed ?? []).reduce((n, k) => n + restoreReadBytes(k.meta, range.startKeyGroup, range.endKeyGroup), 0)];
      }),
    );
    // Entries in all of a vertex's old snapshots (each goes to exactly one new subtask).
    const entriesOf = new Map(
      this.graph.vertices.map((v) => {
        const metas = new Set(this.subtasks.filter((s) => s.vertex === v).flatMap((s) => (s.task.options.restore?.keyed ?? []).map((k) => k.meta)));
        return [v, [...metas].reduce((n, m) => n + snapshotEntries(m), 0)];
      }),
    );
    const loaded = (s: (typeof this.subtasks)[number]): { entries: number; bytes: number } => {
      if (s.task.stateRestored) return { entries: s.backend?.totalEntries() ?? 0, bytes: bytesOf.get(s)! };
      return s.backend?.restoreProgress?.() ?? { entries: 0, bytes: 0 };
    };
    const perVertex = (): string =>
      this.graph.vertices
        .map((v) => {
          const subtasks = this.subtasks.filter((s) => s.vertex === v);
          const readyCount = subtasks.filter((s) => s.task.stateRestored).length;
          const totalBytes = subtasks.reduce((sum, s) => sum + bytesOf.get(s)!, 0);
          if (totalBytes === 0) return `'${v.name}' ${readyCount}/${subtasks.length} subtasks`;
          const now = subtasks.map(loaded);
          const bytes = Math.min(totalBytes, now.reduce((sum, p) => sum + p.bytes, 0));
          const entries = now.reduce((sum, p) => sum + p.entries, 0);
          const totalEntries = entriesOf.get(v)!;
          return `'${v.name}' ${readyCount}/${subtasks.length} subtasks, ${count(entries)}${totalEntries > 0 ? ` of ~${count(totalEntries)}` : ''} entries, ${mib(bytes)} of ${mib(totalBytes)} MiB`;
        })
        .join('; ');
    // Looked at every 100 ms (so the time said is close to the truth); progress said every 2 s.
    const check = (): void => {
      if (done) return;
      const n = ready();
      if (n < total) {
        if (Date.now() - lastSaid >= 2000) {
          lastSaid = Date.now();
          this.options.log(`[restore] restoring ${kind} ${checkpointId}: ${n} of ${total} subtasks ready after ${seconds()} s: ${perVertex()}`);
        }
        return;
      }
      done = true;
      clearInterval(timer);
      const entries = this.subtasks.reduce((sum, s) => sum + (s.backend?.totalEntries() ?? 0), 0);
      const bytes = [...bytesOf.values()].reduce((a, b) => a + b, 0);
      const readyAt = Math.max(...this.subtasks.map((s) => s.task.stateRestoredAt ?? Date.now()));
      this.options.log(`[restore] restored ${kind} ${checkpointId} in ${((readyAt - started) / 1000).toFixed(2)} s: ${total} subtasks, ${entries} keyed state entries from ${mib(bytes)} MiB`);
    };
    const timer = setInterval(check, 100);
    timer.unref();
    return () => {
      clearInterval(timer);
      check();
    };
  }

  /** Reads every subtask's file of the checkpoint and hands each new subtask what it owns. */
  private async loadRestore(restore: { envelope: CheckpointMetadataEnvelope; storage: CheckpointStorage }): Promise<void> {
    const { envelope, storage } = restore;
    const tasks = (envelope.metadata?.tasks ?? {}) as Record<string, { file: StoredFile }>;
    const files = new Map<string, TaskSnapshotFile>();
    for (const [key, state] of Object.entries(tasks)) files.set(key, decodeTaskSnapshot(await storage.readFile(envelope.checkpointId, state.file)));
    const jobUids = new Set(this.graph.vertices.flatMap((v) => v.nodes.map((n) => n.uid)));
    const storedSources = envelope.metadata?.sources as SourceCheckpointMetadata | undefined;
    const orphaned = [...new Set([...stateWithoutOperator(files, jobUids), ...Object.keys(storedSources ?? {}).filter((uid) => !jobUids.has(uid))])].sort();
    // A snapshot none of whose state has an operator here is most likely another job's.
    const noneOfThisJob = orphaned.length > 0 && stateWithoutOperator(files, new Set()).every((uid) => !jobUids.has(uid));
    if (orphaned.length > 0 && this.options.allowNonRestoredState !== true)
      throw new FloeError(
        'STATE_NOT_RESTORED',
        `${describeRestored(envelope, storage.location)} holds state of operators this job does not have: ${orphaned.map((u) => `'${u}'`).join(', ')}. ` +
          (noneOfThisJob ? `None of its state belongs to an operator of this job ('${this.graph.jobName}'): is it the right ${envelope.kind ?? 'checkpoint'}? If it is, give` : 'Give') +
          ' the operators their old uids (.uid(...)), or restore without that state with --allow-non-restored-state (allowNonRestoredState: true).',
      );
    if (orphaned.length > 0) this.options.log(`[checkpoint] not restoring the state of operators this job does not have: ${orphaned.join(', ')} (allowNonRestoredState)`);
    // Files are named by their chain's head uid; an operator's state is found by its own uid,
    // in whichever chain it ran (chaining may differ between runs).
    const byHead = new Map<string, Array<{ index: number; file: TaskSnapshotFile }>>();
    const byOperator = new Map<string, Array<{ index: number; file: TaskSnapshotFile }>>();
    for (const [key, file] of files) {
      const at = key.lastIndexOf('#');
      const entry = { index: Number(key.slice(at + 1)), file };
      const head = key.slice(0, at);
      pushTo(byHead, head, entry);
      for (const uid of new Set([head, ...Object.keys(file.operators), ...Object.keys(file.operatorWatermarks ?? {})])) pushTo(byOperator, uid, entry);
    }
    for (const s of this.subtasks) {
      const headUid = s.vertex.nodes[0].uid;
      s.task.options.restore = assignRestoredState({
        checkpointId: envelope.checkpointId,
        operatorUids: s.vertex.nodes.map((n) => n.uid),
        subtaskIndex: s.index,
        parallelism: s.vertex.parallelism,
        old: byHead.get(headUid) ?? [],
        oldOf: (uid) => byOperator.get(uid) ?? [],
        resolveFile: (name) => storage.pathOf(envelope.checkpointId, name),
        // Only the job's own checkpoints may be continued incrementally; another directory's are copied.
        adoptable: this.options.checkpointing !== undefined && sameStorage(this.options.checkpointing.storage, storage),
      });
    }
    this.restoreSources(envelope.checkpointId, storedSources, byHead);
  }

  /** Hands every source's readers their splits and its coordinator what its enumerator restores (see planSourceRestores). */
  private restoreSources(checkpointId: number, stored: SourceCheckpointMetadata | undefined, byHead: Map<string, Array<{ index: number; file: TaskSnapshotFile }>>): void {
    const sources = this.graph.vertices.flatMap((v) => {
      const t = v.nodes[0].transformation;
      return t.type === 'source' ? [{ uid: v.nodes[0].uid, parallelism: v.parallelism, restoreLegacyPositions: t.source.restoreLegacyPositions?.bind(t.source) }] : [];
    });
    const plans = planSourceRestores({ checkpointId, stored, sources, old: (uid) => byHead.get(uid) ?? [] });
    for (const [uid, plan] of plans) {
      if (plan.converted) this.options.log(`[checkpoint] source '${uid}': converted the read positions of a checkpoint written before split sources`);
      for (const s of this.subtasks) if (s.source !== undefined && s.vertex.nodes[0].uid === uid) s.source.restoredSplits = plan.readers[s.index];
      this.enumeratorRestores.set(uid, { state: plan.enumeratorState, splitsBack: plan.splitsBack });
    }
  }

  private deploySubtask(vertex: JobVertex, index: number, inputs: LocalChannel[], writers: RecordWriter[], channelInputs: number[]): DeployedSubtask {
    const jobName = this.graph.jobName;
    const gate = new InputGate(inputs);
    const processingTime = new SystemProcessingTimeService(this.options.clock);
    const head = vertex.nodes[0];
    const taskName = `${vertex.name} (${index + 1}/${vertex.parallelism})`;
    const backend = this.createBackend(head, index);

    // Build the chain from the tail: each operator's output feeds the next one.
    let output: Output = writerOutput(writers);
    const operators: StreamOperator[] = [];
    const emitted = new Float64Array(vertex.nodes.length);
    const startIndex = head.transformation.type === 'source' ? 1 : 0;
    for (let n = vertex.nodes.length - 1; n >= startIndex; n--) {
      const node = vertex.nodes[n];
      const t = node.transformation;
      if (t.type === 'source') continue;
      const operator = t.createOperator();
      const ctx: OperatorContext = {
        jobName,
        uid: node.uid,
        name: node.name,
        subtaskIndex: index,
        parallelism: node.parallelism,
        maxParallelism: node.maxParallelism,
        output: countingOutput(output, emitted, n),
        keyedBackend: n === 0 ? backend : undefined,
        processingTime,
        checkpointing: this.options.checkpointing !== undefined,
        metrics: this.userMetrics.group(node.uid, node.name, index),
        post: (action) => gate.putMail(action),
        log: this.logFor(node, index),
      };
      operator.setup(ctx);
      operators.unshift(operator);
      output = operatorOutput(operator);
    }
    const source =
      head.transformation.type === 'source'
        ? new SourceOperator(
            head.transformation.source.createReader({
              jobName,
              uid: head.uid,
              subtaskIndex: index,
              parallelism: head.parallelism,
              clock: this.options.clock,
              log: this.logFor(head, index),
              sendSplitRequest: () => this.sourceCoordinators.get(head.uid)?.handleSplitRequest(index),
            }),
            { context: { job: jobName, operator: head.uid, operatorName: head.name, subtask: index }, post: (mail) => gate.putMail(mail) },
          )
        : undefined;
    const key = `${head.uid}#${index}`;
    const task = new StreamTask({
      checkpointing: this.taskCheckpointing(key),
      restore: undefined,
      channelInputs,
      jobName,
      taskName,
      subtaskIndex: index,
      operators,
      gate,
      source,
      writers,
      keyedBackend: backend,
      batchSize: this.options.batchSize,
      headInput: output,
    });
    return { key, index, vertex, task, backend, processingTime, emitted, source };
  }

  /** Log lines of one operator's subtask: "[job 'j', operator 'Name' (uid u), subtask 1/2] message". */
  private logFor(node: PlannedNode, subtask: number): (message: string) => void {
    const place = describeContext({ job: this.graph.jobName, operator: node.uid, operatorName: node.name, subtask, parallelism: node.parallelism });
    return (message) => this.options.log(`[${place}] ${message}`);
  }

  private createBackend(head: PlannedNode, index: number): KeyedStateBackend | undefined {
    const t = head.transformation;
    if (t.type === 'source' || !t.keyed) return undefined;
    return this.options.stateBackend.createKeyedStateBackend({
      operator: head.uid,
      operatorName: head.name,
      job: this.graph.jobName,
      subtask: index,
      parallelism: head.parallelism,
      maxParallelism: head.maxParallelism,
      keyGroupRange: computeKeyGroupRangeForOperatorIndex(head.maxParallelism, head.parallelism, index),
      ttlClock: this.options.clock,
    });
  }
}

/** `output`, counting each record into `emitted[position]` (per-operator counts of the summary). */
function countingOutput(output: Output, emitted: Float64Array, position: number): Output {
  return {
    collect: (value, timestamp) => {
      emitted[position]++;
      output.collect(value, timestamp);
    },
    emitWatermark: (timestamp) => output.emitWatermark(timestamp),
  };
}

function operatorOutput(operator: StreamOperator): Output {
  return {
    collect: (value, timestamp) => operator.processElement(value, timestamp),
    emitWatermark: (timestamp) => operator.processWatermark(timestamp),
  };
}

function writerOutput(writers: RecordWriter[]): Output {
  if (writers.length === 1) {
    const w = writers[0];
    return { collect: (value, timestamp) => w.emit(value, timestamp), emitWatermark: (timestamp) => w.emitWatermark(timestamp) };
  }
  return {
    collect: (value, timestamp) => {
      for (const w of writers) w.emit(value, timestamp);
    },
    emitWatermark: (timestamp) => {
      for (const w of writers) w.emitWatermark(timestamp);
    },
  };
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** "Savepoint 7 in /dir (of job 'x')" or "Checkpoint 7 in /dir (of job 'x')", for errors. */
function describeRestored(envelope: CheckpointMetadataEnvelope, directory: string): string {
  const job = typeof envelope.metadata?.jobName === 'string' ? ` (of job '${envelope.metadata.jobName}')` : '';
  return `${envelope.kind === 'savepoint' ? 'Savepoint' : 'Checkpoint'} ${envelope.checkpointId} in ${directory}${job}`;
}

/** A count with thousands separators, for progress lines. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

/** True when both are the same storage (the job's own checkpoints, which it may continue incrementally). */
function sameStorage(a: CheckpointStorage, b: CheckpointStorage): boolean {
  if (a === b) return true;
  return a.directory !== undefined && b.directory !== undefined && resolvePath(a.directory) === resolvePath(b.directory);
}
