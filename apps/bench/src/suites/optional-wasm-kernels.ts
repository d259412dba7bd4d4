/**
 * Loads the `wasm-kernels` suite (`./wasm-kernels.ts`, written separately) when it exists. It is imported dynamically
 * through a variable so that neither TypeScript nor the runner needs the file before it lands.
 */
import { existsSync } from 'node:fs';
import type * as tfjs from '@tensorflow/tfjs';
import type { BenchRow, SuiteResult } from '../rows.js';

/** The module the suite file exports. */
interface WasmKernelSuiteModule {
  /** The second argument is a hint the suite may ignore (its contract is `wasmKernelSuite(tf)`). */
  wasmKernelSuite(tf: typeof tfjs, options?: { quick: boolean }): Promise<BenchRow[]>;
}

const SPECIFIER = './wasm-kernels.js';

/** Whether the suite's source (or a build of it) is present next to this file. */
export function wasmKernelSuiteAvailable(): boolean {
  return ['./wasm-kernels.ts', SPECIFIER].some((p) => existsSync(new URL(p, import.meta.url)));
}

/**
 * Runs the wasm-kernels suite, or returns `undefined` (after a note on stderr) when its file does not exist yet.
 * Errors inside an existing suite propagate: a broken suite must fail the run, not vanish.
 */
export async function runWasmKernelSuite(tf: typeof tfjs, log: (line: string) => void, quick: boolean): Promise<SuiteResult | undefined> {
  if (!wasmKernelSuiteAvailable()) {
    log('wasm-kernels suite: skipped (apps/bench/src/suites/wasm-kernels.ts does not exist yet).');
    return undefined;
  }
  const specifier: string = SPECIFIER;
  const mod = (await import(/* @vite-ignore */ specifier)) as Partial<WasmKernelSuiteModule>;
  if (typeof mod.wasmKernelSuite !== 'function') {
    throw new Error('wasm-kernels suite: ./suites/wasm-kernels.ts must export wasmKernelSuite(tf).');
  }
  log(`wasm-kernels suite: running${quick ? ' (it may not honour --quick: allow about a minute)' : ''}`);
  const rows = await mod.wasmKernelSuite(tf, { quick });
  return { suite: 'wasm-kernels', rows, notes: [`backend ${tf.getBackend()}`] };
}
