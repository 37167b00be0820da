// The storage contract against the file storage (a temp directory) and the in-memory one.
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCheckpointStorage } from '../../src/checkpoint/files/file-checkpoint-storage.js';
import { InMemoryCheckpointStorage } from '../../src/checkpoint/memory/in-memory-checkpoint-storage.js';
import { describeCheckpointStorageContract } from './checkpoint-storage-contract.js';

describeCheckpointStorageContract('file', () => {
  const storage = new FileCheckpointStorage(mkdtempSync(join(tmpdir(), 'floe-storage-contract-')));
  return {
    storage,
    damage(id, name, how) {
      const path = storage.pathOf(id, name);
      if (how === 'delete') rmSync(path);
      else if (how === 'truncate') truncateSync(path, 10);
      else {
        const bytes = readFileSync(path);
        bytes[bytes.length >> 1] ^= 0xff;
        writeFileSync(path, bytes);
      }
    },
  };
});

describeCheckpointStorageContract('in memory', () => {
  const storage = new InMemoryCheckpointStorage();
  return { storage, damage: (id, name, how) => storage.damage(id, name, how) };
});
