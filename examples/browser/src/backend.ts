import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import * as wasmKernels from '@fitstream/backend-wasm';
import { selectBackend, type BackendPreference, type BackendSelection } from '@fitstream/core';

/** What the page's `?backend=` may ask for; `auto` lets `selectBackend` choose the fastest that starts. */
export const BACKEND_CHOICES = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'] as const satisfies readonly BackendPreference[];
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/**
 * Vite copies the three WebAssembly binaries into the build (`?url`) and tfjs-backend-wasm fetches them from there
 * (the browser picks the SIMD one, or the threaded one on a cross-origin-isolated page).
 */
const WASM_PATHS = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
};

/**
 * Starts the backend the page asked for through core's `selectBackend`, which logs one line with the reason for every
 * fallback. On wasm, training a convolution needs the kernels of `@fitstream/backend-wasm` (stock wasm has no gradient
 * for a convolution's filter): a bundle cannot `import()` a package by a computed name, so the page passes the module
 * to `selectBackend` (`wasmKernelsModule`), which installs them when it selects wasm.
 *
 * @example
 * ```ts
 * const { backend, message } = await startBackend('auto', console.info); // e.g. 'webgl'
 * ```
 */
export async function startBackend(choice: BackendChoice, log: (line: string) => void): Promise<BackendSelection> {
  return selectBackend({ prefer: choice, log, wasmPaths: WASM_PATHS, wasmKernelsModule: wasmKernels });
}
