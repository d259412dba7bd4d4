/**
 * Large unbatched float32 matMuls (`BatchMatMul`, `_FusedMatMul` with a bias and linear/relu) on the project's own
 * WebAssembly SIMD GEMM (gemm-module.ts) on two threads: this thread computes its rows or column panels of C in place
 * on the tfjs heap (heap-gemm.ts) while the GEMM's worker computes the rest from copies in its shared memory
 * (two-thread-gemm.ts; tfjs' heap is not shared, so the worker cannot read it). Until the worker runs, and for smaller
 * products, heap-gemm.ts computes them on this thread alone. Each element of C is summed in the same order on either
 * thread, so a run's numbers do not depend on when the worker became ready.
 *
 * Why our own GEMM: the stock kernel re-packs its right operand (every weight, every step: a trained weight is a new
 * buffer each step) and cannot run a second thread under Node (docs/decisions/0002-wasm-threads.md); transposed
 * operands cost it a materialised transpose, which this GEMM reads in place. Medians inside MLP training steps on this
 * 2-core box: [64,784]·[784,256] 0.60–0.67 ms on one thread → 0.56–0.58 split, its weight gradient
 * [64,784]ᵀ·[64,256] 0.53–0.57 → 0.43–0.44. Smaller products ({@link MIN_MULTIPLY_ADDS}), short inner dimensions
 * ({@link MIN_MULTIPLY_ADDS_PER_FLOAT}) and long ones ({@link MAX_INNER}) stay on one thread.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from '../kernels/wasm-kernel-types.js';
import { whyNoOwnGemm, whyOneThread } from '#platform/threads';
import { COLUMNS_PER_PANEL, ROWS_PER_TILE } from './gemm-module.js';
import { startInPlace, type InPlaceProduct } from './heap-gemm.js';
import { ownRouteProduct, productShape, type ProductOperands } from './products.js';
import { createSharedGemm, type GemmShape, type SharedGemm } from './two-thread-gemm.js';

/**
 * Products smaller than this (m·k·n) run on one thread: copying the worker's operands and waking it cost about what
 * its half saves. The MLP's [64,256]·[256,256] products (2²²) pay split since the job is posted before the copies (the
 * wake-up passes while this thread copies): alone one took 0.19–0.21 ms per step either way, but three of them in a
 * row with the weight gradient [64,784]ᵀ·[64,256] keep the worker awake (it spins 100 µs after each job), and that
 * product then took 0.42 ms instead of 0.47–0.49: MLP training steps 3.23, 3.16 → 2.99, 3.09 ms (alternating runs).
 */
export const MIN_MULTIPLY_ADDS = 1 << 22;

/**
 * Products doing fewer multiply-adds than this per float copied (m·k·n / (m·k + k·n + m·n)) run on one thread: with a
 * short inner dimension the copies are the product's cost. The MLP's products do 43–48.
 */
export const MIN_MULTIPLY_ADDS_PER_FLOAT = 32;

/**
 * Products with a longer inner dimension run on one thread (the large CNN's dense [64,9216]·[9216,128]): not measured
 * split since the micro-kernel stopped spilling; before, XNNPACK's k blocking beat the copies and the streamed k here.
 */
export const MAX_INNER = 1024;

/** Whether the own GEMM serves matMuls and on how many threads, as {@link installWasmKernels} reports it. */
export interface MatMulThreadsReport {
  /** Threads the large products run on now: 2, or 1 (then `reason` says why not 2); 0 when XNNPACK serves them all. */
  readonly threads: 0 | 1 | 2;
  readonly reason?: string;
  /** Large products (from {@link MIN_MULTIPLY_ADDS}) the own GEMM has computed since it was installed; smaller ones run in place uncounted. */
  readonly products: number;
  /** Of those products, the ones split between both threads (the rest ran on the calling thread alone). */
  readonly splitProducts: number;
  /** Whole-sequence recurrences (an LSTM's or GRU's forward pass or backpropagation through time) run on its two threads. */
  readonly recurrences: number;
}

/**
 * Environment variable that caps the GEMM's threads: `1` runs it without a worker (e.g. several replicas on one
 * machine), `0` leaves every product on XNNPACK.
 */
export const MATMUL_THREADS_ENV = 'FITSTREAM_WASM_MATMUL_THREADS';

interface GemmState {
  readonly gemm: SharedGemm;
  /** Why the GEMM runs on one thread (undefined while two, or while the worker starts). */
  oneThreadReason: string | undefined;
  starting: boolean;
  products: number;
  splitProducts: number;
  recurrences: number;
}

let state: GemmState | undefined;
/** Why the own GEMM is off (engine without shared memory, a failure); undefined while it serves or was never started. */
let offReason: string | undefined;
/** Whether the user turned the own GEMM off (`ownGemm: false`, {@link MATMUL_THREADS_ENV}=0): its in-place route too. */
let optedOut = false;

/**
 * Whether products may run on the own GEMM's micro-kernel in place on the calling thread (heap-gemm.ts): unless the
 * user opted out. A worker that failed, or an engine without shared memory (a page that is not cross-origin isolated),
 * leaves this route on: it needs neither.
 */
export function inPlaceGemmAllowed(): boolean {
  return !optedOut;
}

/**
 * Creates the shared GEMM (synchronously: the products use it at once, on this thread) and starts its worker in the
 * background when this is Node's main thread on a machine with two or more cores and {@link MATMUL_THREADS_ENV} allows.
 * Idempotent. An engine that cannot run it leaves the products on the calling thread (heap-gemm.ts), with the reason in
 * the report.
 */
export function startGemmMatMul(): void {
  if (state !== undefined) return;
  const cap = typeof process === 'undefined' ? undefined : process.env?.[MATMUL_THREADS_ENV];
  optedOut = cap === '0';
  const off = optedOut ? `${MATMUL_THREADS_ENV}=0` : whyNoOwnGemm();
  if (off !== undefined) {
    offReason = off;
    return;
  }
  let gemm: SharedGemm;
  try {
    gemm = createSharedGemm();
  } catch (error) {
    offReason = `own GEMM unavailable (${(error as Error).message}); matMuls run on one thread`;
    return;
  }
  offReason = undefined;
  const current: GemmState = { gemm, oneThreadReason: undefined, starting: false, products: 0, splitProducts: 0, recurrences: 0 };
  state = current;
  const oneThread = cap === '1' ? `${MATMUL_THREADS_ENV}=1` : whyOneThread();
  if (oneThread !== undefined) {
    current.oneThreadReason = oneThread;
  } else {
    current.starting = true;
    void gemm
      .startWorker()
      .catch((error: unknown) => {
        current.oneThreadReason = (error as Error).message;
      })
      .finally(() => {
        current.starting = false;
      });
  }
}

/** Resolves once the worker has started or failed to (tests and the bench wait for this before measuring). */
export async function gemmMatMulSettled(timeoutMs = 10_000): Promise<MatMulThreadsReport> {
  const deadline = Date.now() + timeoutMs;
  while (state?.starting === true && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  return gemmMatMulReport();
}

/** Stops the worker and hands the products back to XNNPACK (an opt-out: the in-place route too). */
export async function stopGemmMatMul(): Promise<void> {
  const current = state;
  state = undefined;
  offReason = undefined;
  optedOut = true;
  if (current !== undefined) await current.gemm.dispose().catch(() => undefined);
}

export function gemmMatMulReport(): MatMulThreadsReport {
  if (state === undefined) return { threads: 0, reason: offReason ?? 'not installed', products: 0, splitProducts: 0, recurrences: 0 };
  const { products, splitProducts, recurrences } = state;
  if (state.gemm.twoThreads()) return { threads: 2, products, splitProducts, recurrences };
  const reason = state.starting ? 'the second thread is starting' : (state.oneThreadReason ?? 'the second thread stopped');
  return { threads: 1, reason, products, splitProducts, recurrences };
}

/**
 * Runs a recurrence with `run(gemm)` on the own GEMM's shared instance while it runs on two threads (the LSTM's
 * and GRU's whole-sequence kernels, recurrent/lstm-two-threads.ts and gru-two-threads.ts) and returns what `run` returned: true once it ran. False
 * without calling `run` when the GEMM is off, on one thread or its worker is starting. A failure inside `run` stops the
 * GEMM as a failed product does (every later product on the calling thread, one warning) and returns false: the caller then takes
 * its one-thread route.
 */
export function onTwoThreadGemm(run: (gemm: SharedGemm) => boolean): boolean {
  const current = state;
  if (current === undefined || !current.gemm.twoThreads()) return false;
  try {
    const ran = run(current.gemm);
    if (ran) current.recurrences++;
    return ran;
  } catch (error) {
    stopAfterFailure(current, error);
    return false;
  }
}

/**
 * Runs the copies out of the own GEMM's shared memory that wait for a reader (the recurrent kernels' deferred outputs,
 * {@link SharedGemm.defer}): a caller about to read such an output on tfjs' heap calls this first.
 */
export function flushDeferredCopies(): void {
  state?.gemm.flushDeferred();
}

/** Runs every later product on the calling thread after a failure of the GEMM (a worker that failed or timed out), and says so once. */
function stopAfterFailure(current: GemmState, error: unknown): void {
  if (state === current) state = undefined;
  offReason = `own GEMM's second thread stopped (${(error as Error).message}); matMuls run on one thread`;
  console.warn(`fitstream: ${offReason}.`);
  void current.gemm.dispose().catch(() => undefined);
}

/**
 * C = op(a)·op(b) on the own GEMM, or undefined when it does not serve this product (operands with a batch, small,
 * non-float32, an unsupported fused part) and the caller's route must compute it.
 * @param fused `_FusedMatMul`'s bias and activation; undefined for `BatchMatMul`.
 */
export function gemmMatMul(backend: WasmBackendLike, operands: ProductOperands, attrs: NamedAttrMap, fused: boolean): TensorInfo | undefined {
  if (state === undefined) return undefined;
  const routed = ownRouteProduct(operands, attrs, fused);
  if (routed === undefined || !paysOff(routed.shape)) return undefined;
  return runProduct(backend, operands.a, operands.b, routed.shape, routed.epilogue);
}

/**
 * C = op(a)·op(b) on the own GEMM for a caller that measured its product's shape (the whole-sequence recurrent
 * kernels' hᵀ·dZ, whose inner dimension B·T is past {@link MAX_INNER} but whose transposed operand the GEMM reads in
 * place where XNNPACK needs a transpose and a packed copy of dZ); undefined when the own GEMM is off or the operands
 * are not unbatched float32.
 */
export function gemmMatMulMeasured(backend: WasmBackendLike, a: TensorInfo, b: TensorInfo, attrs: NamedAttrMap): TensorInfo | undefined {
  const shape = state === undefined ? undefined : productShape(a, b, attrs);
  return shape === undefined ? undefined : runProduct(backend, a, b, shape, undefined);
}

/**
 * Runs one product on the own GEMM with an optional epilogue: in place on the tfjs heap (heap-gemm.ts), on this thread
 * alone until the worker runs; then split with the worker (see {@link splitProduct}). Undefined if it cannot run here.
 */
function runProduct(
  backend: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  shape: Required<GemmShape>,
  epilogue: { readonly bias: TensorInfo | undefined; readonly relu: boolean } | undefined,
): TensorInfo | undefined {
  const current = state;
  if (current === undefined) return undefined;
  const product = startInPlace(backend, a, b, shape);
  if (product === undefined) return undefined;
  try {
    const split = current.gemm.twoThreads() ? splitOf(shape, product.panels) : undefined;
    if (split === undefined || !current.gemm.fits(split.sharedBytes)) {
      product.multiply([0, shape.m], [0, product.panels]);
    } else {
      try {
        splitProduct(current.gemm, product, split);
        current.splitProducts++;
      } catch (error) {
        // The worker failed or timed out: later products run on this thread; this one is redone here.
        stopAfterFailure(current, error);
        product.multiply([0, shape.m], [0, product.panels]);
      }
    }
  } catch (error) {
    product.abandon();
    throw error;
  }
  current.products++;
  return product.finish(epilogue ?? { bias: undefined, relu: false });
}

/**
 * How a product is shared between this thread and the worker: the worker takes C's last rows (from `first`, a
 * multiple of 4) or its last column panels (from `first`), this thread the rest, in place.
 */
interface Split {
  readonly byRows: boolean;
  readonly first: number;
  /** Bytes of shared memory the worker's part needs (a bound). */
  readonly sharedBytes: number;
}

/**
 * The worker's share of a split product's rows or panels: more than half, because this thread also packs and copies
 * the worker's operands in and its part of C out, and what the worker does not finish this thread takes back. Inside
 * MLP steps the worker's panels of [64,784]·[784,256] took ≈ 21 µs each, this thread's ≈ 23 (packing them as it goes)
 * after ≈ 150 µs of copies; 0.56 balanced them (steps 3.01 → 2.87 ms against 0.5; 0.62 and 0.68 no better).
 */
export const WORKER_SHARE = 0.56;

/**
 * Floats a strided copy costs beyond the floats it moves (a `subarray` and a `set` per row, ≈ 0.1 µs), for choosing
 * between a row and a column split.
 */
const COPY_CALL_FLOATS = 128;

/**
 * The cheaper split of a product in what the main thread copies for the worker: its operands in and its part of C
 * out. Columns: all of op(A), the worker's packed panels, C's columns as m strided copies. Rows: the worker's rows of
 * op(A) (k strided copies when A is stored transposed), all packed panels, C's rows as one copy. Undefined when
 * neither can be split (one panel and one row tile).
 */
export function splitOf({ m, k, n, transposeA }: Required<GemmShape>, panels: number): Split | undefined {
  const rowTiles = Math.ceil(m / ROWS_PER_TILE);
  const workerPanels = Math.min(panels - 1, Math.max(1, Math.round(panels * WORKER_SHARE)));
  const workerTiles = Math.min(rowTiles - 1, Math.max(1, Math.round(rowTiles * WORKER_SHARE)));
  const workerRows = m - (rowTiles - workerTiles) * ROWS_PER_TILE;
  const workerColumns = n - (panels - workerPanels) * COLUMNS_PER_PANEL;
  const byColumns = panels < 2 ? undefined : m * k + k * COLUMNS_PER_PANEL * workerPanels + m * workerColumns + COPY_CALL_FLOATS * m;
  const byRows = rowTiles < 2 ? undefined : workerRows * k + k * COLUMNS_PER_PANEL * panels + workerRows * n + COPY_CALL_FLOATS * (transposeA ? k : 1);
  if (byColumns === undefined && byRows === undefined) return undefined;
  const rows = byColumns === undefined || (byRows !== undefined && byRows < byColumns);
  const sharedBytes = 4 * ((rows ? workerRows : m) * (k + (rows ? n : workerColumns)) + k * COLUMNS_PER_PANEL * panels) + 1024;
  return rows ? { byRows: true, first: (rowTiles - workerTiles) * ROWS_PER_TILE, sharedBytes } : { byRows: false, first: panels - workerPanels, sharedBytes };
}

/**
 * One product on both threads. Once the worker's job is posted (a sleeping worker wakes meanwhile), this thread packs
 * the worker's panels on the heap and copies its operands into the shared memory — op(A) (or its rows) and those
 * panels — computes its own rows or panels in place, helps with whatever chunks of the worker's part are left (all of
 * them when the worker is asleep), and copies the worker's part of C into place. Each element of C is summed over k
 * in the same order on either thread.
 */
function splitProduct(gemm: SharedGemm, product: InPlaceProduct, { byRows, first }: Split): void {
  const { m, k, n, transposeA } = product.shape;
  const { a, packed, c } = product.views();
  // The worker's panels: all of them for a row split, its own for a column split (this thread packs the rest as it multiplies them).
  const workerPanels = (): Float32Array => {
    product.pack(byRows ? 0 : first, product.panels);
    return byRows ? packed : packed.subarray(first * k * COLUMNS_PER_PANEL);
  };
  if (byRows) {
    const rows = m - first;
    const writeA = transposeA
      ? (floats: Float32Array, at: number): void => {
          // op(A) rows first … m − 1 are A's columns: the worker's A is [k, rows].
          for (let kk = 0; kk < k; kk++) floats.set(a.subarray(kk * m + first, kk * m + m), at + kk * rows);
        }
      : (floats: Float32Array, at: number): void => floats.set(a.subarray(first * k, m * k), at);
    gemm.loadPacked({ m: rows, k, n, transposeA }, writeA, workerPanels);
    gemm.computeAlongside(() => product.multiply([0, first], [0, product.panels]));
    c.set(gemm.result(), first * n);
  } else {
    const column = first * COLUMNS_PER_PANEL;
    const columns = n - column;
    gemm.loadPacked({ m, k, n: columns, transposeA }, (floats, at) => floats.set(a, at), workerPanels);
    gemm.computeAlongside(() => product.multiply([0, m], [0, first]));
    const part = gemm.result();
    for (let r = 0; r < m; r++) c.set(part.subarray(r * columns, (r + 1) * columns), r * n + column);
  }
}

function paysOff({ m, k, n }: GemmShape): boolean {
  if (k > MAX_INNER) return false;
  const multiplyAdds = m * k * n;
  return multiplyAdds >= MIN_MULTIPLY_ADDS && multiplyAdds >= MIN_MULTIPLY_ADDS_PER_FLOAT * (m * k + k * n + m * n);
}

