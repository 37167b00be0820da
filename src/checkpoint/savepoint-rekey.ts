// Rewrites a savepoint's keyed state into another number of key groups (does I/O): every key is
// re-hashed from its canonical bytes into the new max parallelism, its state entries and timers
// move with it, and each subtask's file gets the key groups it owns under the new layout (same
// parallelism). Operator state, source positions and watermarks are copied as they were. The
// source savepoint is only read; the new one is written like any savepoint (a directory that did
// not exist, `_metadata` last), so an interrupted rewrite is never restorable.
import { FloeError } from '../core/errors.js';
import { keyFromId } from '../core/key-decoding.js';
import { assignToKeyGroup, checkParallelism, computeKeyGroupRangeForOperatorIndex } from '../core/key-groups.js';
import type { KeyId } from '../core/key-encoding.js';
import { BLOCK_FORMAT, BlockWriter, readBlock } from '../state/snapshot-format/block-codec.js';
import type { KeyedSnapshotMeta, SnapshotStateMeta } from '../state/keyed-snapshot.js';
import type { Namespace } from '../state/keyed-state-backend.js';
import { FileCheckpointStorage, openSnapshotDirectory, type StoredFile } from './files/file-checkpoint-storage.js';
import { decodeTaskSnapshot, encodeTaskSnapshot, type TaskSnapshotFile } from './task-snapshot-file.js';

export interface RekeyOptions {
  /** The savepoint (or retained `chk-N` checkpoint of the heap backend) to read. */
  from: string;
  /** A directory that does not exist yet: the new savepoint. */
  to: string;
  maxParallelism: number;
  /** Progress lines (per operator). */
  log?: (message: string) => void;
}

export interface RekeyResult {
  directory: string;
  /** Per keyed operator (chain head uid): old and new max parallelism and the entries moved. */
  operators: Array<{ uid: string; from: number; to: number; entries: number; timers: number }>;
}

export async function rekeySavepoint(options: RekeyOptions): Promise<RekeyResult> {
  const log = options.log ?? (() => {});
  const { storage, envelope } = await openSnapshotDirectory(options.from);
  const metadata = envelope.metadata as { tasks: Record<string, { file: StoredFile }>; vertices?: Array<{ uid: string; parallelism: number; maxParallelism?: number }> };
  // Subtask files per chain head uid, in subtask order.
  const byHead = new Map<string, Array<{ key: string; index: number; file: TaskSnapshotFile }>>();
  for (const [key, state] of Object.entries(metadata.tasks)) {
    const at = key.lastIndexOf('#');
    const head = key.slice(0, at);
    const list = byHead.get(head) ?? [];
    list.push({ key, index: Number(key.slice(at + 1)), file: decodeTaskSnapshot(await storage.readFile(envelope.checkpointId, state.file)) });
    byHead.set(head, list);
  }
  const writer = await FileCheckpointStorage.savepoint(options.to).beginCheckpoint(envelope.checkpointId);
  const result: RekeyResult = { directory: options.to, operators: [] };
  const files: StoredFile[] = [];
  const tasks: Record<string, { file: StoredFile }> = {};
  try {
    for (const [head, subtasks] of byHead) {
      subtasks.sort((a, b) => a.index - b.index);
      const keyed = subtasks.filter((s) => s.file.keyed !== undefined);
      if (keyed.length === 0) {
        for (const s of subtasks) files.push((tasks[s.key] = { file: await writer.writeFile(`${s.key.replace(/[^A-Za-z0-9_.-]/g, '_')}.state`, encodeTaskSnapshot(s.file, undefined)) }).file);
        continue;
      }
      const oldMax = keyed[0].file.keyed!.meta.maxParallelism;
      for (const s of keyed) {
        const meta = s.file.keyed!.meta;
        if (meta.backend === 'disk')
          throw new FloeError(
            'CHECKPOINT_INVALID',
            `${options.from}: operator '${head}' holds disk-backend checkpoint state, which is not in the canonical format; take a savepoint of the job (floe savepoint) and rekey that`,
          );
      }
      checkParallelism(subtasks.length, options.maxParallelism);
      const moved = rekeyOperator(head, subtasks, options.maxParallelism, keyed[0].file.keyed!.meta.backend);
      for (let i = 0; i < subtasks.length; i++) {
        const s = subtasks[i];
        const { keyed: _old, ...rest } = s.file;
        const chunks = encodeTaskSnapshot(rest, moved.perSubtask[i]);
        files.push((tasks[s.key] = { file: await writer.writeFile(`${s.key.replace(/[^A-Za-z0-9_.-]/g, '_')}.state`, chunks) }).file);
      }
      result.operators.push({ uid: head, from: oldMax, to: options.maxParallelism, entries: moved.entries, timers: moved.timers });
      log(`[rekey] '${head}': ${moved.entries} entries and ${moved.timers} timers from ${oldMax} to ${options.maxParallelism} key groups`);
    }
    const keyedHeads = new Set(result.operators.map((o) => o.uid));
    const vertices = (metadata.vertices ?? []).map((v) => (keyedHeads.has(v.uid) ? { ...v, maxParallelism: options.maxParallelism } : v));
    await writer.complete({ ...metadata, vertices, tasks, rekeyedFrom: { path: options.from, checkpointId: envelope.checkpointId } }, files);
  } catch (error) {
    await writer.abort().catch(() => {});
    throw error;
  }
  return result;
}

/** Moves the entries and timers of one operator's subtasks into `maxParallelism` key groups, per new subtask. */
function rekeyOperator(
  uid: string,
  subtasks: Array<{ file: TaskSnapshotFile }>,
  maxParallelism: number,
  backend: string,
): { perSubtask: Array<{ meta: KeyedSnapshotMeta; data: Uint8Array[] }>; entries: number; timers: number } {
  // One list of states and of timer queues for the operator (subtasks may have registered them in another order).
  const states: SnapshotStateMeta[] = [];
  const stateIndex = new Map<string, number>();
  const queues: string[] = [];
  const blocks: Array<BlockWriter | undefined> = [];
  const blockOf = (kg: number): BlockWriter => blocks[kg] ?? (blocks[kg] = new BlockWriter());
  const entriesIn: number[] = [];
  let entries = 0;
  let timers = 0;
  for (const { file } of subtasks) {
    const { meta, data } = file.keyed!;
    const stateMap = meta.states.map((s) => {
      const known = stateIndex.get(s.name);
      if (known !== undefined) {
        const before = states[known];
        if (before.kind !== s.kind || before.serializer !== s.serializer)
          throw new FloeError('CHECKPOINT_INVALID', `Operator '${uid}': state '${s.name}' is ${before.kind} (${before.serializer}) in one subtask and ${s.kind} (${s.serializer}) in another`);
        return known;
      }
      stateIndex.set(s.name, states.length);
      states.push(s);
      return states.length - 1;
    });
    const queueMap = meta.timerQueues.map((q) => {
      const at = queues.indexOf(q);
      if (at >= 0) return at;
      queues.push(q);
      return queues.length - 1;
    });
    for (const [, offset, length] of meta.keyGroups) {
      const block = readBlock(data.subarray(offset, offset + length), meta.format);
      for (const [s, ns, id, payload] of block.entries) {
        const kg = groupOf(id, maxParallelism);
        blockOf(kg).entry(stateMap[s], ns as Namespace, id, payload);
        entriesIn[kg] = (entriesIn[kg] ?? 0) + 1;
        entries++;
      }
      for (const [q, ts, ns, id, order] of block.timers) {
        blockOf(groupOf(id, maxParallelism)).timer(queueMap[q], ts, ns as Namespace, id, order);
        timers++;
      }
    }
  }
  const perSubtask = subtasks.map((_, i) => {
    const range = computeKeyGroupRangeForOperatorIndex(maxParallelism, subtasks.length, i);
    const meta: KeyedSnapshotMeta = { format: BLOCK_FORMAT, backend, maxParallelism, states, timerQueues: queues, keyGroups: [], entries: 0 };
    const data: Uint8Array[] = [];
    let offset = 0;
    for (const kg of range) {
      const block = blocks[kg];
      if (block === undefined) continue;
      const bytes = block.finish();
      meta.keyGroups.push([kg, offset, bytes.length]);
      meta.entries += entriesIn[kg] ?? 0;
      data.push(bytes);
      offset += bytes.length;
    }
    return { meta, data };
  });
  return { perSubtask, entries, timers };
}

function groupOf(id: KeyId, maxParallelism: number): number {
  return assignToKeyGroup(keyFromId(id), maxParallelism);
}
