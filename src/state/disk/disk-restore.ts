// Restoring the disk backend (does I/O): applies each of its own snapshots' chain (a
// materialization, then change-log segments) to the store, keeping only this subtask's key groups,
// then its timers; block snapshots (canonical, heap) go to disk-canonical-restore.ts.
import { Packr } from 'msgpackr';
import { FloeError } from '../../core/errors.js';
import { decodeKey } from '../../core/key-decoding.js';
import { assignToKeyGroup } from '../../core/key-groups.js';
import type { DiskSnapshotMeta, RestoredKeyedState } from '../keyed-snapshot.js';
import type { Namespace } from '../keyed-state-backend.js';
import { foreignSnapshotError, holdsBlocks } from '../snapshot-format/snapshot-labels.js';
import { type BlockRestoreTarget, loadBlockSnapshots } from './disk-canonical-restore.js';
import { keyGroupOfStoredKey } from './key-layout.js';
import { rangesToRead } from './materialization-index.js';
import { type RecordCursor, readRecordChunks, recordBytesCursor } from './record-file.js';
import { copyBytes, isAfter, ScratchBytes } from './scratch-bytes.js';

const packr = new Packr({ useRecords: false, moreTypes: true });

/** What a restore does to the disk keyed backend it loads into (block snapshots need the rest, see BlockRestoreTarget). */
export interface DiskRestoreTarget extends BlockRestoreTarget {
  readonly maxParallelism: number;
  getCurrentKey(): unknown;
  /** Continues the chain of a snapshot restored as it was (same key groups), so checkpoints stay incremental. */
  adoptChain(chain: DiskSnapshotMeta['chain']): void;
}

/**
 * Loads snapshots of one or more earlier subtasks into the store, keeping only this backend's key
 * groups. The disk backend's own snapshots: every chain is applied in order, then the timers.
 * Block snapshots (canonical savepoints of any backend, heap checkpoints): disk-canonical-restore.ts.
 * Anything else is refused with an error that says what to do.
 */
export async function loadSnapshots(backend: DiskRestoreTarget, snapshots: RestoredKeyedState[]): Promise<void> {
  const previousKey = backend.getCurrentKey();
  const blocks = snapshots.filter((s) => holdsBlocks(s.meta));
  const own = snapshots.filter((s) => !holdsBlocks(s.meta));
  for (const { meta } of own) if (meta.backend !== 'disk' || meta.disk === undefined) throw foreignSnapshotError(backend.place(), meta, 'disk');
  if (own.length > 0) await loadDiskSnapshots(backend, own, blocks.length === 0);
  if (blocks.length > 0) await loadBlockSnapshots(backend, blocks);
  if (previousKey !== undefined) backend.setCurrentKey(previousKey);
}

/** Applies the chains of disk snapshots; `adopt`: the chain of a lone snapshot of the same key groups may be continued. */
async function loadDiskSnapshots(backend: DiskRestoreTarget, snapshots: RestoredKeyedState[], adopt: boolean): Promise<void> {
  const { startKeyGroup: lo, endKeyGroup: hi } = backend.keyGroupRange;
  const progress = backend.restored;
  // A materialization is sorted by key per state: into a database nothing else wrote yet it loads
  // in LMDB's append mode. Per state the last key appended; its length is -1 once any other write
  // touched the database (then appending could misplace keys).
  const appended = new Map<string, { last: Buffer; length: number }>();
  const keys = new ScratchBytes();
  const values = new ScratchBytes();
  for (const snapshot of snapshots) {
    const { meta } = snapshot;
    const disk = meta.disk!;
    for (const stateMeta of meta.states) backend.addRestoredState(stateMeta);
    const first = snapshot === snapshots[0];
    const data = snapshot.data ?? new Uint8Array(0);
    let inlineAt = disk.timerBytes;
    progress.bytes += disk.timerBytes;
    for (const file of disk.chain) {
      let source: AsyncIterable<RecordCursor> | Iterable<RecordCursor>;
      if (disk.inline === true) {
        source = recordBytesCursor(Buffer.from(data.buffer, data.byteOffset + inlineAt, file.size), 'inline snapshot');
        inlineAt += file.size;
        progress.bytes += file.size;
      } else {
        if (snapshot.resolveFile === undefined) throw new FloeError('CHECKPOINT_INVALID', `${backend.place()}: the snapshot refers to ${file.name}, but no checkpoint directory was given to find it`);
        const ranges = rangesToRead(file, disk.keyGroupRange, lo, hi);
        const select = ranges === undefined ? {} : { ranges, names: file.index!.names };
        source = readRecordChunks(snapshot.resolveFile(file.name), { kind: file.kind, ...select, onRead: (n) => (progress.bytes += n) });
      }
      const sorted = first && file.kind === 'materialization';
      const store = backend.store;
      for await (const c of source) {
        if (backend.closing) throw new FloeError('JOB_CANCELLED', `${backend.place()}: the backend was closed while its state was restored`);
        const buf = c.bytes;
        // Records come in runs of one state: look its database up once per run.
        let state = '';
        let db = undefined as ReturnType<typeof store.db> | undefined;
        let order = undefined as { last: Buffer; length: number } | undefined;
        while (c.next()) {
          const at = c.keyStart;
          const keyGroup = keyGroupOfStoredKey(buf, at);
          if (keyGroup < lo || keyGroup > hi) continue;
          progress.entries++;
          if (c.state !== state) {
            state = c.state;
            db = store.db(state);
            order = appended.get(state);
            if (order === undefined) appended.set(state, (order = { last: Buffer.allocUnsafe(64), length: 0 }));
          }
          const key = keys.copy(buf, at, c.keyEnd);
          if (sorted && c.isPut && order!.length >= 0 && isAfter(key, key.length, order!.last, order!.length)) {
            store.append(db!, key, values.copy(buf, c.valueStart, c.valueEnd));
            if (order!.last.length < key.length) order!.last = Buffer.allocUnsafe(Math.max(key.length, order!.last.length * 2));
            copyBytes(key, 0, key.length, order!.last, 0);
            order!.length = key.length;
            continue;
          }
          order!.length = -1;
          if (c.isPut) store.put(db!, key, values.copy(buf, c.valueStart, c.valueEnd));
          else store.remove(db!, key);
        }
        await yieldToLoop();
      }
    }
    const rows = disk.timerBytes === 0 ? [] : (packr.unpack(data.subarray(0, disk.timerBytes)) as Array<[number, number, Namespace, Uint8Array]>);
    for (const [q, timestamp, namespace, keyBytes] of rows) {
      const key = decodeKey(keyBytes);
      const keyGroup = assignToKeyGroup(key, backend.maxParallelism);
      if (keyGroup < lo || keyGroup > hi) continue; // another subtask's timer (rescale): its key may not be set here
      backend.setCurrentKey(key);
      backend.getTimerQueue(meta.timerQueues[q]).add(timestamp, namespace);
    }
    backend.sequence = Math.max(backend.sequence, disk.nextSequence);
  }
  backend.store.commit();
  const only = snapshots.length === 1 ? snapshots[0].meta.disk : undefined;
  if (adopt && only !== undefined && snapshots[0].adoptable !== false && only.inline !== true && only.keyGroupRange[0] === lo && only.keyGroupRange[1] === hi)
    backend.adoptChain(only.chain);
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
