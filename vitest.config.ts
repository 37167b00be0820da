import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Examples import 'floe' like a user's job does; tests run them against the sources.
    alias: [
      { find: /^floe\/testing$/, replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)) },
      { find: /^floe$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The larger-than-memory test writes ~5 GB and takes ~1 min: `npm run test:large-state` (CI runs it too).
    exclude: ['test/services/**', 'test/e2e/larger-than-memory.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
