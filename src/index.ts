// The public API of Floe. Everything a job file needs is exported from here.
export { StreamEnvironment, type StreamEnvironmentOptions, type JobClient, type PlanDescription } from './api/stream-environment.js';
export { DataStream } from './api/data-stream.js';
export { KeyedStream, type FieldRef, type NumericFieldRef } from './api/keyed-stream.js';
export { BroadcastStream, BroadcastConnectedStream, KeyedBroadcastConnectedStream } from './api/broadcast-stream.js';
export type { JobResult, JobMetrics, OperatorMetrics } from './runtime/job-runner.js';
export type { MetricGroup, Counter, Histogram, HistogramStatistics, UserMetricSnapshot } from './runtime/metrics/user-metrics.js';
export type {
  Collector,
  RuntimeContext,
  RichFunction,
  MapFunction,
  FilterFunction,
  FlatMapFunction,
  RichMapFunction,
  RichFilterFunction,
  RichFlatMapFunction,
  WithFields,
  StateOf,
  ProcessFunction,
  ProcessContext,
  KeyedProcessFunction,
  KeyedProcessContext,
  OnTimerContext,
  TimerService,
  TimeDomain,
  SinkFunction,
  CheckpointedFunction,
  CheckpointListener,
  FunctionInitializationContext,
  FunctionSnapshotContext,
  OperatorStateStore,
  BroadcastProcessFunction,
  KeyedBroadcastProcessFunction,
  BroadcastContext,
  KeyedBroadcastContext,
  ReadOnlyBroadcastContext,
  KeyedReadOnlyBroadcastContext,
  ReadOnlyBroadcastState,
} from './runtime/functions.js';
export { type CheckpointingOptions, type CheckpointingMode } from './checkpoint/coordinator/checkpoint-options.js';
export { FileCheckpointStorage } from './checkpoint/files/file-checkpoint-storage.js';
export { InMemoryCheckpointStorage } from './checkpoint/memory/in-memory-checkpoint-storage.js';
export type { CheckpointStorage, CheckpointWriter, CheckpointMetadataEnvelope, StoredFile } from './checkpoint/checkpoint-storage.js';
export { type RestartStrategyOptions } from './runtime/restart-strategy.js';
export { TwoPhaseCommitSink } from './connectors/two-phase-commit/two-phase-commit-sink.js';
export { TransactionalJsonLinesSink, readCommittedJsonLines } from './connectors/file/transactional-json-lines-sink.js';
export type {
  Source,
  SourceSplit,
  SourceReader,
  SourceOutput,
  SourceReaderContext,
  InputStatus,
  SplitEnumerator,
  SplitEnumeratorContext,
} from './runtime/source.js';
export type { KeySelector } from './runtime/partitioner.js';
export { WatermarkStrategy, type TimestampAssigner } from './core/watermark-strategy.js';
export { FloeError, type FloeErrorCode } from './core/errors.js';
export { type Clock, ManualClock, systemClock } from './core/clock.js';
export { KEY_ENCODING } from './core/key-encoding.js';
export {
  KeyGroupRange,
  assignToKeyGroup,
  computeDefaultMaxParallelism,
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
} from './core/key-groups.js';
export type { ValueState, ListState, MapState, ReducingState, AggregatingState, AggregateFunction, ReduceFunction } from './state/state.js';
export {
  ValueStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  AggregatingStateDescriptor,
  StateDescriptor,
} from './state/descriptors.js';
export { StateTtlConfig, UpdateType, StateVisibility, type StateTtlOptions } from './state/ttl/state-ttl-config.js';
export { type TypeSerializer, MsgpackSerializer, JsonSerializer } from './state/serde/type-serializer.js';
export type { StateBackend, KeyedStateBackend } from './state/keyed-state-backend.js';
export { HeapStateBackend } from './state/heap/heap-state-backend.js';
export { StaticSplitEnumerator, type StaticSplitEnumeratorState, type StaticSplitEnumeratorOptions } from './connectors/static-splits/static-split-enumerator.js';
export { GeneratorSource, type GeneratorSourceOptions, type GeneratorSplit } from './connectors/generator/generator-source.js';
export { CollectionSource, type CollectionSplit } from './connectors/collection/collection-source.js';
export { JsonLinesFileSource, type JsonLinesFileSourceOptions } from './connectors/file/json-lines-file-source.js';
export { FileSplitEnumerator, type FileSplit, type FileEnumeratorState } from './connectors/file/file-split-enumerator.js';
export { JsonLinesFileSink } from './connectors/file/json-lines-file-sink.js';
