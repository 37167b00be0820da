// What each subtask restores from a checkpoint: its own operator state, everyone's union state,
// broadcast state (old subtask i % oldP for new subtasks), every old subtask's keyed state (the
// backend reads only its key groups), and its source position and watermark. Pure: the files
// were read by the caller.
import { FloeError } from '../core/errors.js';
import { restoredFromBytes, type KeyedSnapshotMeta, type RestoredKeyedState } from '../state/keyed-snapshot.js';
import type { OperatorStateSnapshot } from '../state/operator/operator-state-store.js';

/** What one subtask stores per checkpoint (its data file, see runtime/task.ts). */
export interface TaskSnapshotFile {
  operators: Record<string, unknown>;
  source?: unknown;
  /** The subtask's input watermark at the barrier. */
  watermark: number;
  /** Per operator uid: the event time it had reached at the barrier (see StreamOperator.snapshotWatermark). */
  operatorWatermarks?: Record<string, number>;
  keyed?: { meta: KeyedSnapshotMeta; data: Uint8Array };
}

/** What a subtask restores from. */
export interface TaskRestore {
  checkpointId: number;
  /** Its own file (undefined for a subtask that did not exist at checkpoint time). */
  file: TaskSnapshotFile | undefined;
  /** Operator-state parts per operator uid. */
  operatorState: Record<string, OperatorStateSnapshot[]>;
  /** Keyed state of every old subtask (a rescaled backend reads only its key groups). */
  keyed: RestoredKeyedState[];
  /**
   * Watermarks to resume from: the subtask's own at the same parallelism, else the lowest over
   * the old subtasks (its records may come from any of them).
   */
  watermarks: { task: number; operators: Record<string, number> };
}

export interface RestoreTarget {
  checkpointId: number;
  /** The chain's operator uids, head first. */
  operatorUids: string[];
  subtaskIndex: number;
  parallelism: number;
  /** The old subtasks' files of the same chain, by old subtask index. */
  old: Array<{ index: number; file: TaskSnapshotFile }>;
  /** Path of a file named in keyed-state metadata (shared files of incremental backends). */
  resolveFile?: (name: string) => string;
}

/** Decides what one subtask restores; undefined when the checkpoint has nothing for its chain. */
export function assignRestoredState(target: RestoreTarget): TaskRestore | undefined {
  const old = [...target.old].sort((a, b) => a.index - b.index);
  if (old.length === 0) return undefined; // an operator added since the checkpoint starts empty
  const own = old.find((o) => o.index === target.subtaskIndex)?.file;
  const operatorState: Record<string, OperatorStateSnapshot[]> = {};
  for (const uid of target.operatorUids) {
    const parts = old.map((o) => o.file.operators[uid] as OperatorStateSnapshot | undefined).filter((p): p is OperatorStateSnapshot => p !== undefined);
    if (parts.length === 0) continue;
    if (old.length !== target.parallelism && parts.some((p) => Object.values(p.states).some((st) => st.mode === 'split')))
      throw new FloeError(
        'STATE_NOT_RESCALABLE',
        `Operator '${uid}' was checkpointed at parallelism ${old.length} and now runs at ${target.parallelism}, but its operator list state cannot be redistributed yet: restore at parallelism ${old.length} (-p ${old.length}, or set this operator's parallelism to ${old.length})`,
        { context: { operator: uid } },
      );
    // A new subtask (scale-out) takes the broadcast state of old subtask i % oldP, as Flink does.
    const mine =
      (own?.operators[uid] as OperatorStateSnapshot | undefined) ??
      onlyMode(old[target.subtaskIndex % old.length].file.operators[uid] as OperatorStateSnapshot | undefined, 'broadcast');
    // Union state: every instance receives every element.
    const unionParts = parts.filter((p) => p !== mine).map((p) => onlyMode(p, 'union')!);
    operatorState[uid] = [...(mine === undefined ? [] : [mine]), ...unionParts];
  }
  const keyed = old.flatMap((o) => {
    if (o.file.keyed === undefined) return [];
    const restored = restoredFromBytes(o.file.keyed.meta, o.file.keyed.data);
    if (target.resolveFile !== undefined) restored.resolveFile = target.resolveFile;
    return [restored];
  });
  return { checkpointId: target.checkpointId, file: own, operatorState, keyed, watermarks: restoredWatermarks(target, old, own) };
}

function restoredWatermarks(target: RestoreTarget, old: RestoreTarget['old'], own: TaskSnapshotFile | undefined): TaskRestore['watermarks'] {
  const from = own !== undefined && old.length === target.parallelism ? [own] : old.map((o) => o.file);
  const lowest = (values: Array<number | undefined>): number =>
    values.some((v) => v === undefined || v === null) ? Number.NEGATIVE_INFINITY : Math.min(...(values as number[]));
  const operators: Record<string, number> = {};
  for (const uid of target.operatorUids) operators[uid] = lowest(from.map((f) => f.operatorWatermarks?.[uid]));
  return { task: lowest(from.map((f) => f.watermark)), operators };
}

function onlyMode(part: OperatorStateSnapshot | undefined, mode: 'union' | 'broadcast'): OperatorStateSnapshot | undefined {
  if (part === undefined) return undefined;
  return { states: Object.fromEntries(Object.entries(part.states).filter(([, st]) => st.mode === mode)) };
}
