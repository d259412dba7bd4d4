/** `available`, or why the native backend (tfjs-node) is not here: set by vitest.shared.ts, which checks without loading it. */
export const NATIVE_BACKEND = process.env['FITSTREAM_NATIVE_BACKEND'] ?? 'not checked (run the tests through vitest.shared.ts)';
