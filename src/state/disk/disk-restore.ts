// Restoring the disk backend (does I/O): applies each snapshot's chain (a materialization, then
// change-log segments) to the store, keeping only this subtask's key groups, then its timers.
import { Packr } from 'msgpackr';
import { FloeError } from '../../core/errors.js';
import { decodeKey } from '../../core/key-decoding.js';
import { assignToKeyGroup, type KeyGroupRange } from '../../core/key-groups.js';
import type { DiskSnapshotMeta, RestoredKeyedState, SnapshotStateMeta } from '../keyed-snapshot.js';
import type { KeyGroupedTimerQueue, Namespace } from '../keyed-state-backend.js';
import type { LmdbStore } from './lmdb-store.js';
import { type KvRecord, readRecordBytes, readRecordFile } from './record-file.js';

const packr = new Packr({ useRecords: false, moreTypes: true });

/** What a restore does to the disk keyed backend it loads into. */
export interface DiskRestoreTarget {
  readonly store: LmdbStore;
  readonly keyGroupRange: KeyGroupRange;
  readonly maxParallelism: number;
  /** The next list-element sequence number (raised to the snapshots' own). */
  sequence: number;
  /** True once the backend is being disposed: the restore stops at its next chunk. */
  readonly closing: boolean;
  getCurrentKey(): unknown;
  setCurrentKey(key: unknown): void;
  getTimerQueue(name: string): KeyGroupedTimerQueue;
  /** A restored state's data is (about to be) in the store; remember its meta until a descriptor claims it. */
  addRestoredState(meta: SnapshotStateMeta): void;
  /** Continues the chain of a snapshot restored as it was (same key groups), so checkpoints stay incremental. */
  adoptChain(chain: DiskSnapshotMeta['chain']): void;
  place(state?: string): string;
}

/**
 * Loads snapshots of one or more earlier subtasks into the store: every chain is applied in order,
 * keeping only entries of this backend's key groups; then the timers. A snapshot of another
 * backend is refused with an error that says what to do.
 */
export async function loadSnapshots(backend: DiskRestoreTarget, snapshots: RestoredKeyedState[]): Promise<void> {
  const { startKeyGroup: lo, endKeyGroup: hi } = backend.keyGroupRange;
  const previousKey = backend.getCurrentKey();
  const appendAfter = new Map<string, Buffer | null | undefined>();
  for (const snapshot of snapshots) {
    const { meta } = snapshot;
    const disk = meta.disk;
    if (meta.backend !== 'disk' || disk === undefined)
      throw new FloeError(
        'CHECKPOINT_INVALID',
        `${backend.place()}: the checkpoint was taken with the ${meta.backend} state backend and this job runs the disk backend; restore it with the ${meta.backend} backend (moving state between backends comes with savepoints)`,
      );
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
          const keyGroup = (r.key[0] << 8) | r.key[1];
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
  if (only !== undefined && snapshots[0].adoptable !== false && only.inline !== true && only.keyGroupRange[0] === lo && only.keyGroupRange[1] === hi)
    backend.adoptChain(only.chain);
  if (previousKey !== undefined) backend.setCurrentKey(previousKey);
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
