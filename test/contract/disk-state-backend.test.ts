// The shared backend contracts run unchanged against the disk backend (LMDB under a temp dir).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { ManualClock } from '../../src/core/clock.js';
import { KeyGroupRange } from '../../src/core/key-groups.js';
import { DiskStateBackend } from '../../src/state/disk/disk-state-backend.js';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { describeSnapshotContract } from './state-backend-snapshot-contract.js';
import { describeStateBackendContract } from './state-backend-contract.js';
import { describeTtlContract } from './state-backend-ttl-contract.js';

const root = mkdtempSync(join(tmpdir(), 'floe-disk-contract-'));
let n = 0;
const created: KeyedStateBackend[] = [];
// Open LMDB environments keep the worker alive: close every backend a test made.
afterAll(async () => {
  await Promise.all(created.map((b) => b.dispose()));
  rmSync(root, { recursive: true, force: true });
});

function createDisk({ clock, maxParallelism = 128, keyGroupRange }: { clock: ManualClock; maxParallelism?: number; keyGroupRange?: KeyGroupRange }): KeyedStateBackend {
  const backend = new DiskStateBackend({ dir: join(root, `b${n++}`) }).createKeyedStateBackend({
    operator: 'contract-op',
    job: 'contract',
    subtask: 0,
    parallelism: 1,
    maxParallelism,
    keyGroupRange: keyGroupRange ?? KeyGroupRange.of(0, maxParallelism - 1),
    ttlClock: clock,
  });
  created.push(backend);
  return backend;
}

describeStateBackendContract('disk', createDisk);
describeSnapshotContract('disk', createDisk);
describeTtlContract('disk', createDisk);
