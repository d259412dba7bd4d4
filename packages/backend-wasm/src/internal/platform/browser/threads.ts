/**
 * The browser side of `#platform/threads` (see ../node/threads.ts): no `worker_threads`, so the own GEMM runs on the
 * calling thread (a page's main thread cannot block in `Atomics.wait` either).
 */
import type * as workerThreads from 'node:worker_threads';

/** There is no `node:worker_threads` in a page. */
export const workerThreadsModule: typeof workerThreads | undefined = undefined;

/** Always a reason: the second thread needs Node.js. */
export function whyOneThread(): string | undefined {
  return 'not Node.js (worker_threads needed)';
}

/**
 * In a page the own GEMM stays off: a cross-origin-isolated page runs tfjs-backend-wasm's XNNPACK on its own threads,
 * which beat this GEMM on one; a page that is not isolated cannot create its shared memory.
 */
export function whyNoOwnGemm(): string | undefined {
  return 'in a web page tfjs-backend-wasm threads XNNPACK itself where the page allows threads';
}
