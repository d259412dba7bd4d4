import { defineConfig } from 'vitest/config';

/** Shared vitest settings: run workspace packages from source through the `@fitstream/source` condition. */
export const sharedConfig = defineConfig({
  resolve: { conditions: ['@fitstream/source'] },
  ssr: { resolve: { conditions: ['@fitstream/source'] } },
  test: {
    environment: 'node',
    restoreMocks: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'] },
  },
});
