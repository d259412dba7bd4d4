// Runs before every test file (vitest.shared.ts setupFiles). With FITSTREAM_TEST_BACKEND=tensorflow it makes tfjs-node
// (built by `fitstream native install`) the active backend, so a package's suite runs on native TensorFlow (CI does it
// for core, callbacks and regularisers); `wasm` and `cpu` work the same way. Without it, nothing is loaded here and
// tests keep tfjs' default (cpu) or the backend they select themselves.
const wanted = process.env['FITSTREAM_TEST_BACKEND'];
// Package names through variables: tfjs-node is an optional peer that type-checking must not require.
const PACKAGES: Record<string, string | undefined> = { tensorflow: '@tensorflow/tfjs-node', wasm: '@tensorflow/tfjs-backend-wasm', cpu: undefined };

if (wanted !== undefined && wanted !== '') {
  if (!(wanted in PACKAGES)) throw new Error(`FITSTREAM_TEST_BACKEND=${wanted}: use one of ${Object.keys(PACKAGES).join(', ')}`);
  if (wanted === 'tensorflow' && process.env['FITSTREAM_NATIVE_BACKEND'] !== 'available') {
    throw new Error(`FITSTREAM_TEST_BACKEND=tensorflow, but the native backend is ${process.env['FITSTREAM_NATIVE_BACKEND'] ?? 'unknown'}`);
  }
  const tf = await import('@tensorflow/tfjs');
  const backendPackage = PACKAGES[wanted];
  if (backendPackage !== undefined) await import(backendPackage);
  if (!(await tf.setBackend(wanted))) throw new Error(`FITSTREAM_TEST_BACKEND=${wanted}: the backend did not initialise`);
}
