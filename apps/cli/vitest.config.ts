import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.ts';

// The CLI tests run the real bin, which runs dist/: build whatever is stale first.
export default mergeConfig(sharedConfig, defineConfig({ test: { globalSetup: ['./src/test-support/ensure-built.ts'] } }));
