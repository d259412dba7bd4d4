import { describe } from 'vitest';

/** The backends numeric tests run on: tfjs' cpu, wasm with fitstream's kernels, and native TensorFlow (tfjs-node). */
export type TestBackend = 'cpu' | 'wasm' | 'tensorflow';

/** `available`, or why the native backend is not here (set by vitest.shared.ts, which checks without loading it). */
export const NATIVE_BACKEND = process.env['FITSTREAM_NATIVE_BACKEND'] ?? 'not checked (run the tests through vitest.shared.ts)';

/**
 * One `describe` per backend, titled `<title> on <backend>`. The native case is skipped, with the reason in its title,
 * where `fitstream native install` has not built tfjs-node (CI builds it and sets FITSTREAM_NATIVE_TESTS=required).
 */
export function describeOnBackends(title: string, body: (backend: TestBackend) => void, backends: readonly TestBackend[] = ['cpu', 'wasm', 'tensorflow']): void {
  for (const backend of backends) {
    const skip = backend === 'tensorflow' && NATIVE_BACKEND !== 'available';
    describe.skipIf(skip)(`${title} on ${backend}${skip ? ` (skipped: native backend ${NATIVE_BACKEND})` : ''}`, () => body(backend));
  }
}
