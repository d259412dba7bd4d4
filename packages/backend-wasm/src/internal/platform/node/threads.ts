/**
 * The own GEMM's second thread under Node.js: `worker_threads`, and why this process should not start one. The
 * `browser` export condition maps `#platform/threads` to ../browser/threads.ts, so no Node built-in reaches a page.
 */
import { availableParallelism } from 'node:os';
import * as workerThreads from 'node:worker_threads';

/** `node:worker_threads` (undefined where there is none: the browser module). */
export const workerThreadsModule: typeof workerThreads | undefined = workerThreads;

/** Why the GEMM should stay on the calling thread here, or undefined when a second thread may start. */
export function whyOneThread(): string | undefined {
  if (availableParallelism() < 2) return 'one core available';
  if (!workerThreads.isMainThread) return 'in a worker thread (e.g. a data-parallel replica): the second core stays free';
  return undefined;
}

/** Why the own GEMM should not serve matMuls here at all: under Node.js it always may (tfjs' wasm runs one thread). */
export function whyNoOwnGemm(): string | undefined {
  return undefined;
}
