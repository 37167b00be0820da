import { KeyGroupRange } from '../../src/core/key-groups.js';
import { HeapStateBackend } from '../../src/state/heap/heap-state-backend.js';
import { describeSnapshotContract } from './state-backend-snapshot-contract.js';
import { describeStateBackendContract } from './state-backend-contract.js';
import { describeTtlContract } from './state-backend-ttl-contract.js';

describeStateBackendContract('heap', ({ clock, maxParallelism = 128, keyGroupRange }) =>
  new HeapStateBackend().createKeyedStateBackend({
    operator: 'contract-op',
    job: 'contract',
    subtask: 0,
    parallelism: 1,
    maxParallelism,
    keyGroupRange: keyGroupRange ?? KeyGroupRange.of(0, maxParallelism - 1),
    ttlClock: clock,
  }),
);

describeSnapshotContract('heap', ({ clock, maxParallelism, keyGroupRange }) =>
  new HeapStateBackend().createKeyedStateBackend({
    operator: 'contract-op',
    job: 'contract',
    subtask: 0,
    parallelism: 1,
    maxParallelism,
    keyGroupRange,
    ttlClock: clock,
  }),
);

describeTtlContract('heap', ({ clock, maxParallelism, keyGroupRange }) =>
  new HeapStateBackend().createKeyedStateBackend({
    operator: 'ttl-op',
    subtask: 0,
    parallelism: 1,
    maxParallelism,
    keyGroupRange,
    ttlClock: clock,
  }),
);
