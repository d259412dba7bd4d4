import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const ROOT = dirname(fileURLToPath(import.meta.url));

/**
 * Whether the native backend (tfjs-node built by `fitstream native install`) is there to test on, without loading it:
 * `available`, or why not. Tests read it from `FITSTREAM_NATIVE_BACKEND` and skip their native cases with this reason.
 * Under `FITSTREAM_NATIVE_TESTS=required` (CI, after it built the backend) a missing backend fails the run instead.
 */
function nativeBackendStatus(): string {
  const lib = join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node', 'lib');
  if (!existsSync(lib)) return 'not built: run `npx fitstream native install` (needs `pip install tensorflow-cpu`)';
  const built = readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
  return built ? 'available' : 'tfjs-node is installed without its binding: run `npx fitstream native install`';
}

const native = nativeBackendStatus();
if (process.env['FITSTREAM_NATIVE_TESTS'] === 'required' && native !== 'available') {
  throw new Error(`FITSTREAM_NATIVE_TESTS=required, but the native backend is ${native}`);
}

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
    env: { FITSTREAM_NATIVE_BACKEND: native, TF_CPP_MIN_LOG_LEVEL: process.env['TF_CPP_MIN_LOG_LEVEL'] ?? '1' },
    // FITSTREAM_TEST_BACKEND=tensorflow runs a whole suite on the native backend (CI does it for core, callbacks and
    // regularisers); tests that pick their backend themselves still do.
    setupFiles: [join(ROOT, 'scripts', 'vitest-backend-setup.ts')],
  },
});
