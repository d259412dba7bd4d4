/**
 * Large unbatched float32 matMuls (`BatchMatMul`, `_FusedMatMul` with a bias and linear/relu) on the project's own
 * WebAssembly SIMD GEMM (gemm-module.ts) instead of XNNPACK: on the calling thread from the first call, and on two
 * threads once the GEMM's worker is running (two-thread-gemm.ts). Each element of C is summed in the same order on
 * one thread and on two, so a run's numbers do not depend on when the worker became ready.
 *
 * Why our own GEMM: the stock kernel re-packs its right operand (every weight, every step: a trained weight is a new
 * buffer each step) and cannot run a second thread under Node (docs/decisions/0002-wasm-threads.md); transposed
 * operands cost it a materialised transpose, which this GEMM reads in place. On this 2-core box (gemm-bench.ts):
 * [64,784]·[784,256] 1.24 ms stock → 0.85 one thread → 0.61 two; [64,256]·[256,256] 0.40 → 0.27 → 0.21.
 * Small products and short inner dimensions stay on XNNPACK ({@link MIN_MULTIPLY_ADDS}, {@link MIN_MULTIPLY_ADDS_PER_FLOAT}), and so do long ones ({@link MAX_INNER}).
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from '../kernels/wasm-kernel-types.js';
import { whyNoOwnGemm, whyOneThread } from '#platform/threads';
import { createSharedGemm, type GemmShape, type SharedGemm } from './two-thread-gemm.js';

/**
 * Products smaller than this (m·k·n) stay on XNNPACK: the copies into and out of the shared memory and the hand-off to
 * the worker cost more than the product gains, and XNNPACK keeps its packed right operand while that stays the same
 * buffer — the LSTM's per-step h·U ([64,64]·[64,256], 2²⁰) ran 25 % slower per training step on the own GEMM.
 */
export const MIN_MULTIPLY_ADDS = 1 << 21;

/**
 * Products doing fewer multiply-adds than this per float copied (m·k·n / (m·k + k·n + m·n)) stay on XNNPACK: with a
 * short inner dimension the copies are the product's cost (the LSTM's input projection [2048,4]·[4,256]: 4 per float,
 * 35 % slower). The MLP's products do 43–48, the per-step recurrent h·U 29.
 */
export const MIN_MULTIPLY_ADDS_PER_FLOAT = 32;

/**
 * Products with a longer inner dimension stay on XNNPACK, which blocks k where this GEMM streams all of it per tile:
 * inside the LSTM's backward kernel hᵀ·dZ ([64,2048]·[2048,256]) took 2.4 ms here against XNNPACK's ≈ 1.8, and the
 * large CNN's dense [64,9216]·[9216,128] gained nothing (paired training rounds).
 */
export const MAX_INNER = 1024;

/** Whether the own GEMM serves matMuls and on how many threads, as {@link installWasmKernels} reports it. */
export interface MatMulThreadsReport {
  /** Threads the large products run on now: 2, or 1 (then `reason` says why not 2); 0 when XNNPACK serves them all. */
  readonly threads: 0 | 1 | 2;
  readonly reason?: string;
  /** Products the own GEMM has computed since it was installed. */
  readonly products: number;
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
  recurrences: number;
}

let state: GemmState | undefined;
/** Why the own GEMM is off (engine without shared memory, a failure); undefined while it serves or was never started. */
let offReason: string | undefined;

/**
 * Creates the shared GEMM (synchronously: the products use it at once, on this thread) and starts its worker in the
 * background when this is Node's main thread on a machine with two or more cores and {@link MATMUL_THREADS_ENV} allows.
 * Idempotent. An engine that cannot run the module leaves the products on XNNPACK, with the reason in the report.
 */
export function startGemmMatMul(): void {
  if (state !== undefined) return;
  const cap = typeof process === 'undefined' ? undefined : process.env?.[MATMUL_THREADS_ENV];
  const off = cap === '0' ? `${MATMUL_THREADS_ENV}=0` : whyNoOwnGemm();
  if (off !== undefined) {
    offReason = off;
    return;
  }
  let gemm: SharedGemm;
  try {
    gemm = createSharedGemm();
  } catch (error) {
    offReason = `own GEMM unavailable (${(error as Error).message}); large matMuls run on XNNPACK`;
    return;
  }
  offReason = undefined;
  const current: GemmState = { gemm, oneThreadReason: undefined, starting: false, products: 0, recurrences: 0 };
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

/** Stops the worker and hands the products back to XNNPACK. */
export async function stopGemmMatMul(): Promise<void> {
  const current = state;
  state = undefined;
  offReason = undefined;
  if (current !== undefined) await current.gemm.dispose().catch(() => undefined);
}

export function gemmMatMulReport(): MatMulThreadsReport {
  if (state === undefined) return { threads: 0, reason: offReason ?? 'not installed', products: 0, recurrences: 0 };
  const { products, recurrences } = state;
  if (state.gemm.twoThreads()) return { threads: 2, products, recurrences };
  const reason = state.starting ? 'the second thread is starting' : (state.oneThreadReason ?? 'the second thread stopped');
  return { threads: 1, reason, products, recurrences };
}

/**
 * Runs a recurrence with `run(gemm)` on the own GEMM's shared instance while it runs on two threads (the LSTM's
 * and GRU's whole-sequence kernels, recurrent/lstm-two-threads.ts and gru-two-threads.ts) and returns what `run` returned: true once it ran. False
 * without calling `run` when the GEMM is off, on one thread or its worker is starting. A failure inside `run` stops the
 * GEMM as a failed product does (every later product on XNNPACK, one warning) and returns false: the caller then takes
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

/** Hands every later product back to XNNPACK after a failure of the GEMM (a worker that failed or timed out), and says so once. */
function stopAfterFailure(current: GemmState, error: unknown): void {
  if (state === current) state = undefined;
  offReason = `own GEMM stopped (${(error as Error).message}); large matMuls run on XNNPACK`;
  console.warn(`fitstream: ${offReason}.`);
  void current.gemm.dispose().catch(() => undefined);
}

/** The epilogue of a fused product: a bias along n and an activation, applied while C is copied out. */
export interface Epilogue {
  readonly bias: Float32Array | undefined;
  readonly relu: boolean;
}

/**
 * C = op(a)·op(b) on the own GEMM, or undefined when it does not serve this product (operands with a batch, small,
 * non-float32, an unsupported fused part) and the caller's route must compute it.
 * @param fused `_FusedMatMul`'s bias and activation; undefined for `BatchMatMul`.
 */
export function gemmMatMul(
  backend: WasmBackendLike,
  inputs: { readonly a: TensorInfo; readonly b: TensorInfo; readonly bias?: TensorInfo | undefined; readonly preluActivationWeights?: TensorInfo | undefined },
  attrs: NamedAttrMap,
  fused: boolean,
): TensorInfo | undefined {
  if (state === undefined) return undefined;
  const { a, b } = inputs;
  const shape = productShape(a, b, attrs);
  if (shape === undefined || !paysOff(shape)) return undefined;
  const epilogue = fused ? fusedEpilogue(inputs, attrs, shape.n) : undefined;
  if (fused && epilogue === undefined) return undefined;
  return runProduct(backend, a, b, shape, epilogue);
}

/**
 * `_FusedMatMul`'s bias and activation as an epilogue a product can apply itself (bias of n float32 values, linear or
 * relu), or undefined for any other (PReLU, other activations): the caller's route must compute those.
 */
export function fusedEpilogue(
  inputs: { readonly bias?: TensorInfo | undefined; readonly preluActivationWeights?: TensorInfo | undefined },
  attrs: NamedAttrMap,
  n: number,
): { readonly bias: TensorInfo | undefined; readonly relu: boolean } | undefined {
  const activation = attrs['activation'] ?? 'linear';
  if (inputs.preluActivationWeights !== undefined || (activation !== 'linear' && activation !== 'relu')) return undefined;
  if (inputs.bias !== undefined && (inputs.bias.dtype !== 'float32' || sizeOf(inputs.bias.shape) !== n)) return undefined;
  return { bias: inputs.bias, relu: activation === 'relu' };
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

/** Runs one product on the own GEMM (two threads where started) with an optional epilogue; undefined if it failed. */
function runProduct(
  backend: WasmBackendLike,
  a: TensorInfo,
  b: TensorInfo,
  shape: Required<GemmShape>,
  epilogue: { readonly bias: TensorInfo | undefined; readonly relu: boolean } | undefined,
): TensorInfo | undefined {
  const current = state;
  if (current === undefined) return undefined;
  const outShape = [...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), shape.m, shape.n];
  try {
    current.gemm.load(backend.typedArrayFromHeap(a) as Float32Array, backend.typedArrayFromHeap(b) as Float32Array, shape);
    current.gemm.compute(2);
  } catch (error) {
    stopAfterFailure(current, error);
    return undefined;
  }
  // Views only after makeOutput: an allocation may grow the heap, which detaches earlier views.
  const out = backend.makeOutput(outShape, 'float32');
  const c = backend.typedArrayFromHeap(out) as Float32Array;
  current.gemm.read(c);
  if (epilogue !== undefined) {
    const bias = epilogue.bias === undefined ? undefined : (backend.typedArrayFromHeap(epilogue.bias) as Float32Array);
    applyEpilogue(c, shape.n, { bias, relu: epilogue.relu });
  }
  current.products++;
  return out;
}

/** The GEMM shape of an unbatched float32 product (every axis but the last two is 1), or undefined. */
export function productShape(a: TensorInfo, b: TensorInfo, attrs: NamedAttrMap): Required<GemmShape> | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  if (!a.shape.slice(0, -2).every((d) => d === 1) || !b.shape.slice(0, -2).every((d) => d === 1)) return undefined;
  const transposeA = attrs['transposeA'] === true;
  const transposeB = attrs['transposeB'] === true;
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const m = transposeA ? a1 : a0;
  const k = transposeA ? a0 : a1;
  if ((transposeB ? b1 : b0) !== k) return undefined; // let the stock kernel report the mismatch
  return { m, k, n: transposeB ? b0 : b1, transposeA, transposeB };
}

function paysOff({ m, k, n }: GemmShape): boolean {
  if (k > MAX_INNER) return false;
  const multiplyAdds = m * k * n;
  return multiplyAdds >= MIN_MULTIPLY_ADDS && multiplyAdds >= MIN_MULTIPLY_ADDS_PER_FLOAT * (m * k + k * n + m * n);
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((size, d) => size * d, 1);
}

/** Adds the bias to each row of C and applies relu, in place (one pass over C; a handful of µs for an MLP layer). */
export function applyEpilogue(c: Float32Array, n: number, { bias, relu }: Epilogue): void {
  if (bias === undefined && !relu) return;
  for (let row = 0; row < c.length; row += n) {
    for (let j = 0; j < n; j++) {
      const value = c[row + j]! + (bias === undefined ? 0 : bias[j]!);
      c[row + j] = relu && value < 0 ? 0 : value;
    }
  }
}
