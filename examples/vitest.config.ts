import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../vitest.shared.ts';

// Each example trains on real data: its test gets two minutes, and the files run one after another (2-core CI).
export default mergeConfig(
  sharedConfig,
  defineConfig({ test: { include: ['*/**/*.test.ts'], testTimeout: 150_000, hookTimeout: 150_000, fileParallelism: false } }),
);
