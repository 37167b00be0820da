// The larger-than-memory test alone (npm run test:large-state): 1 GiB of keyed state under a
// 256 MB heap, killed and restored. Kept out of `npm test` for its disk use (~5 GB) and time.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  resolve: base.resolve,
  test: { include: ['test/e2e/larger-than-memory.test.ts'], testTimeout: 300_000, hookTimeout: 60_000 },
});
