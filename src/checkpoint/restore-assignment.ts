// What each subtask restores from a checkpoint: its own operator state, everyone's union state,
// broadcast state (old subtask i % oldP for new subtasks), every old subtask's keyed state (the
// backend reads only its key groups) and its watermark. A source's splits are assigned by
// source-restore.ts. Pure: the files were read by the caller.
import { FloeError } from '../core/errors.js';
import { restoredFromBytes, type RestoredKeyedState } from '../state/keyed-snapshot.js';
import type { TaskSnapshotFile } from './task-snapshot-file.js';
import type { OperatorStateSnapshot } from '../state/operator/operator-state-store.js';

export type { TaskSnapshotFile } from './task-snapshot-file.js';

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
  /** The old subtasks' files of the chain whose head had this chain's head uid, by old subtask index. */
  old: Array<{ index: number; file: TaskSnapshotFile }>;
  /**
   * The old files of the chain that held operator `uid`, whichever chain that was: operator state
   * and watermarks follow the operator's uid when chaining changed between runs. Default: `old`.
   */
  oldOf?: (uid: string) => Array<{ index: number; file: TaskSnapshotFile }>;
  /** Path of a file named in keyed-state metadata (shared files of incremental backends). */
  resolveFile?: (name: string) => string;
  /** False when the checkpoint is not in the job's own checkpoint directory (see RestoredKeyedState.adoptable). */
  adoptable?: boolean;
}

/**
 * The uids of operators that hold state in a checkpoint (keyed state, a source position, operator
 * or raw state) but are not among `jobUids`: restoring would silently drop that state.
 */
export function stateWithoutOperator(files: Iterable<[key: string, file: TaskSnapshotFile]>, jobUids: ReadonlySet<string>): string[] {
  const missing = new Set<string>();
  for (const [key, file] of files) {
    const head = key.slice(0, key.lastIndexOf('#'));
    if ((file.keyed !== undefined || file.source !== undefined) && !jobUids.has(head)) missing.add(head);
    for (const [uid, part] of Object.entries(file.operators)) {
      const snapshot = part as OperatorStateSnapshot | undefined;
      const holds = snapshot !== undefined && (snapshot.raw !== undefined || Object.values(snapshot.states ?? {}).some((s) => s.elements.length > 0));
      if (holds && !jobUids.has(uid)) missing.add(uid);
    }
  }
  return [...missing].sort();
}

/** Decides what one subtask restores; undefined when the checkpoint has nothing for its chain. */
export function assignRestoredState(target: RestoreTarget): TaskRestore | undefined {
  const byIndex = (files: RestoreTarget['old']) => [...files].sort((a, b) => a.index - b.index);
  const old = byIndex(target.old);
  const oldOf = (uid: string): RestoreTarget['old'] => (target.oldOf === undefined || uid === target.operatorUids[0] ? old : byIndex(target.oldOf(uid)));
  // Operators added since the checkpoint start empty.
  if (old.length === 0 && target.operatorUids.every((uid) => oldOf(uid).length === 0)) return undefined;
  const file = old.find((o) => o.index === target.subtaskIndex)?.file;
  const operatorState: Record<string, OperatorStateSnapshot[]> = {};
  for (const uid of target.operatorUids) {
    const opOld = oldOf(uid);
    const parts = opOld.map((o) => o.file.operators[uid] as OperatorStateSnapshot | undefined).filter((p): p is OperatorStateSnapshot => p !== undefined);
    if (parts.length === 0) continue;
    if (opOld.length !== target.parallelism) {
      operatorState[uid] = [redistribute(uid, opOld, target)];
      continue;
    }
    // Same parallelism: a subtask takes its own part, plus every other part's union state.
    const mine =
      (opOld.find((o) => o.index === target.subtaskIndex)?.file.operators[uid] as OperatorStateSnapshot | undefined) ??
      onlyMode(opOld[target.subtaskIndex % opOld.length].file.operators[uid] as OperatorStateSnapshot | undefined, 'broadcast');
    const unionParts = parts.filter((p) => p !== mine).map((p) => onlyMode(p, 'union')!);
    operatorState[uid] = [...(mine === undefined ? [] : [mine]), ...unionParts];
  }
  const keyed = old.flatMap((o) => {
    if (o.file.keyed === undefined) return [];
    const restored = restoredFromBytes(o.file.keyed.meta, o.file.keyed.data);
    if (target.resolveFile !== undefined) restored.resolveFile = target.resolveFile;
    if (target.adoptable === false) restored.adoptable = false;
    return [restored];
  });
  return { checkpointId: target.checkpointId, file, operatorState, keyed, watermarks: restoredWatermarks(target, old, oldOf) };
}

function restoredWatermarks(target: RestoreTarget, old: RestoreTarget['old'], oldOf: (uid: string) => RestoreTarget['old']): TaskRestore['watermarks'] {
  // The subtask's own file at the same parallelism, else every old subtask (records may come from any).
  const filesOf = (files: RestoreTarget['old']): TaskSnapshotFile[] => {
    const own = files.find((o) => o.index === target.subtaskIndex)?.file;
    return own !== undefined && files.length === target.parallelism ? [own] : files.map((o) => o.file);
  };
  const lowest = (values: Array<number | undefined>): number =>
    values.length === 0 || values.some((v) => v === undefined || v === null) ? Number.NEGATIVE_INFINITY : Math.min(...(values as number[]));
  const operators: Record<string, number> = {};
  for (const uid of target.operatorUids) operators[uid] = lowest(filesOf(oldOf(uid)).map((f) => f.operatorWatermarks?.[uid]));
  return { task: lowest(filesOf(old).map((f) => f.watermark)), operators };
}

/**
 * Operator state of one operator for subtask i of P after a rescale, as Flink redistributes it:
 * even-split list state is gathered in old subtask order and cut into P contiguous runs whose sizes
 * differ by at most one (the first `total % P` take one more); union list state gives every subtask
 * every element; broadcast state comes from old subtask i mod P_old.
 */
export function redistribute(uid: string, old: RestoreTarget['old'], target: Pick<RestoreTarget, 'subtaskIndex' | 'parallelism'>): OperatorStateSnapshot {
  const parts = old.map((o) => o.file.operators[uid] as OperatorStateSnapshot | undefined);
  const names = new Set(parts.flatMap((p) => (p === undefined ? [] : Object.keys(p.states))));
  const states: OperatorStateSnapshot['states'] = {};
  for (const name of names) {
    const entries = parts.map((p) => p?.states[name]).filter((e) => e !== undefined);
    const { mode, serializer } = entries[0];
    if (entries.some((e) => e.mode !== mode || e.serializer !== serializer))
      throw new FloeError('CHECKPOINT_INVALID', `Operator '${uid}': operator state '${name}' has different kinds or serializers in different subtasks of the checkpoint`, {
        context: { operator: uid, state: name },
      });
    if (mode === 'broadcast') {
      const copy = parts[target.subtaskIndex % parts.length]?.states[name] ?? entries[0];
      states[name] = copy;
      continue;
    }
    const all = entries.flatMap((e) => e.elements);
    if (mode === 'union') {
      states[name] = { mode, serializer, elements: all };
      continue;
    }
    const [from, to] = evenSplitRange(all.length, target.parallelism, target.subtaskIndex);
    states[name] = { mode, serializer, elements: all.slice(from, to) };
  }
  // Raw operator state is opaque bytes: it cannot be cut, only handed to a subtask of the same index.
  const raws = parts.map((p) => p?.raw);
  const lost = raws.findIndex((raw, i) => raw !== undefined && i >= target.parallelism);
  if (lost >= 0)
    throw new FloeError(
      'STATE_NOT_RESCALABLE',
      `Operator '${uid}' keeps raw operator state, which cannot be redistributed: subtask ${lost}'s bytes have no subtask at parallelism ${target.parallelism}. Restore at parallelism ${parts.length} or more, or keep the state in list state instead.`,
      { context: { operator: uid } },
    );
  const raw = raws[target.subtaskIndex];
  return raw === undefined ? { states } : { states, raw };
}

/** [from, to) of subtask i's run when `total` elements are split evenly over `parallelism` subtasks. */
export function evenSplitRange(total: number, parallelism: number, i: number): [number, number] {
  const base = Math.floor(total / parallelism);
  const extra = total % parallelism;
  const from = i * base + Math.min(i, extra);
  return [from, from + base + (i < extra ? 1 : 0)];
}

function onlyMode(part: OperatorStateSnapshot | undefined, mode: 'union' | 'broadcast'): OperatorStateSnapshot | undefined {
  if (part === undefined) return undefined;
  return { states: Object.fromEntries(Object.entries(part.states).filter(([, st]) => st.mode === mode)) };
}
