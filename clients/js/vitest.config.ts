import { defineConfig } from 'vitest/config';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const __dirname = dirname(fileURLToPath(import.meta.url));

// The suites import the packages' sources (aliases below); `tests/package.test.ts` checks
// the built dist/ separately.
export default defineConfig({
  resolve: {
    alias: {
      '@switchboard/client': resolve(__dirname, 'packages/client/src/index.ts'),
      '@switchboard/react': resolve(__dirname, 'packages/react/src/index.ts'),
    },
  },
  test: {
    include: ['tests/**/*.test.{ts,tsx}'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
