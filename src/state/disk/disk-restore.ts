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
import { type KvRecord, readRecordBytes, readRecordFile } from './record-file.js';

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
  const appendAfter = new Map<string, Buffer | null | undefined>();
  for (const snapshot of snapshots) {
    const { meta } = snapshot;
    const disk = meta.disk!;
    for (const stateMeta of meta.states) backend.addRestoredState(stateMeta);
    // A materialization is sorted by key per state: into a database nothing else wrote yet it
    // loads in LMDB's append mode. `appendAfter` holds the last appended key; null once any
    // other write touched the database (then appending could misplace keys).
    const first = snapshot === snapshots[0];
    const data = snapshot.data ?? new Uint8Array(0);
    let inlineAt = disk.timerBytes;
    for (const file of disk.chain) {
      let source: AsyncIterable<KvRecord[]> | Iterable<KvRecord[]>;
      if (disk.inline === true) {
        source = [readRecordBytes(Buffer.from(data.buffer, data.byteOffset + inlineAt, file.size), 'inline snapshot')];
        inlineAt += file.size;
      } else {
        if (snapshot.resolveFile === undefined) throw new FloeError('CHECKPOINT_INVALID', `${backend.place()}: the snapshot refers to ${file.name}, but no checkpoint directory was given to find it`);
        source = readRecordFile(snapshot.resolveFile(file.name), file.kind);
      }
      const sorted = first && file.kind === 'materialization';
      const store = backend.store;
      for await (const records of source) {
        if (backend.closing) throw new FloeError('JOB_CANCELLED', `${backend.place()}: the backend was closed while its state was restored`);
        // Records come in runs of one state: look its database up once per run.
        let state = '';
        let db = undefined as ReturnType<typeof store.db> | undefined;
        let after: Buffer | null | undefined;
        for (const r of records) {
          const keyGroup = keyGroupOfStoredKey(r.key);
          if (keyGroup < lo || keyGroup > hi) continue;
          if (r.state !== state) {
            if (state !== '') appendAfter.set(state, after);
            state = r.state;
            db = store.db(state);
            after = appendAfter.get(state);
          }
          if (sorted && r.value !== undefined && after !== null && (after === undefined || Buffer.compare(r.key, after) > 0)) {
            store.append(db!, r.key, r.value);
            after = r.key as Buffer; // a view into a chunk that is never reused
            continue;
          }
          after = null;
          if (r.value === undefined) store.remove(db!, r.key);
          else store.put(db!, r.key, r.value);
        }
        if (state !== '') appendAfter.set(state, after);
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
