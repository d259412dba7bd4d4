/**
 * `BatchMatMul` replacement that never hands a transposed operand to tfjs-backend-wasm.
 *
 * tfjs-backend-wasm only maps the plain product (NN) to XNNPACK's fast GEMM; with `transposeA`/`transposeB` it falls
 * back to a naive loop (2.3 GFLOP/s NT, 0.4–1.6 TN, against 28 for NN on this box). Backprop through a dense layer
 * is exactly NT (dX = dY·Wᵀ) and TN (dW = Xᵀ·dY). Materialising the transpose with the wasm `Transpose` kernel is
 * O(n²) and cheap next to the O(n³) product, and gives 3–4× faster MLP and ≈2.2× faster LSTM training.
 *
 * Before that route: large unbatched products go to the own GEMM on two threads (gemm-mat-mul.ts), products with a
 * narrow result (N ≤ 16, e.g. a classifier's last layer) to a SIMD loop that reads op(A) in place (narrow-mat-mul.ts),
 * and every other unbatched float32 product (plain ones with an inner dimension ≥ 32) to the own GEMM in place on
 * this heap (gemm/heap-gemm.ts). The transposes below serve batched products.
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { dim, type KernelScope, type KernelTable, single, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, toKernelFunc, type WasmKernelArgs } from './wasm-kernel-types.js';
import { gemmMatMul, inPlaceGemmAllowed } from '../gemm/gemm-mat-mul.js';
import { heapGemmMatMul } from '../gemm/heap-gemm.js';
import type { ProductOperands } from '../gemm/products.js';
import { narrowMatMul } from './narrow-mat-mul.js';

/**
 * An unbatched float32 product on fitstream's own routes — the two-thread GEMM, the narrow loop, the GEMM in place —
 * or undefined when none of them takes it (the caller's stock route must compute it).
 * @param fused `_FusedMatMul`'s bias and activation are in `operands` and `attrs`.
 */
export function ownMatMul(backend: WasmKernelArgs['backend'], operands: ProductOperands, attrs: NamedAttrMap, fused: boolean): TensorInfo | undefined {
  return gemmMatMul(backend, operands, attrs, fused) ?? narrowMatMul(backend, operands, attrs, fused) ?? (inPlaceGemmAllowed() ? heapGemmMatMul(backend, operands, attrs, fused) : undefined);
}

/**
 * Creates the `BatchMatMul` kernel function.
 * @param original the tfjs-backend-wasm kernel, called with `transposeA = transposeB = false`.
 */
export function createBatchMatMulKernel(table: KernelTable, original: KernelFunc): KernelFunc {
  return createTransposingMatMul('BatchMatMul', table, original, []);
}

/**
 * Computes the untransposed product inside a kernel scope (for `_FusedMatMul`, a workaround around the original
 * kernel). Must return a tensor it allocated (adopted by the scope) or created via the scope.
 */
export type PlainMatMul = (scope: KernelScope, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => TensorInfo;

/**
 * Wraps a wasm matMul kernel so transposed operands are materialised before the call.
 * @param passThroughInputs optional inputs forwarded unchanged (the fused kernel's bias / PReLU weights).
 * @param plain how to compute the untransposed product; default: call `original` (and skip the scope entirely when
 *   nothing is transposed).
 */
export function createTransposingMatMul(
  kernelName: string,
  table: KernelTable,
  original: KernelFunc,
  passThroughInputs: readonly string[],
  plain?: PlainMatMul,
): KernelFunc {
  return toKernelFunc((args: WasmKernelArgs) => {
    const { inputs, backend, attrs } = args;
    const a = requireInput(inputs, 'a', kernelName);
    const b = requireInput(inputs, 'b', kernelName);
    const transposeA = attrs['transposeA'] === true;
    const transposeB = attrs['transposeB'] === true;
    // The stock kernel caches its XNNPACK operator (with the packed right operand) per right-operand *buffer*, whatever
    // its shape: a view of that buffer with another shape (a reshape, a unit-axis transpose) then reuses an operator
    // packed for the wrong shape and writes out of bounds. So `b` always reaches it as a buffer of its own shape.
    const bIsView = isReshapedView(backend, b);
    // Non-float32 operands are rejected by the original kernel; let it produce its own error.
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      return original(args);
    }
    const operands = { a, b, bias: inputs['bias'], preluActivationWeights: inputs['preluActivationWeights'] };
    const own = ownMatMul(backend, operands, attrs, passThroughInputs.length > 0);
    if (own !== undefined) {
      return own;
    }
    if (!transposeA && !transposeB && plain === undefined && !bIsView) {
      return original(args);
    }
    if (transposeB && !transposeA && plain === undefined && passThroughInputs.length === 0 && swapsCheaper(a, b)) {
      return withKernelScope(table, backend, (scope) => swappedProduct(scope, a, b, original, backend, attrs, kernelName));
    }
    return withKernelScope(table, backend, (scope) => {
      const plainInputs: Record<string, TensorInfo> = {
        a: transposeA ? swapLastTwoAxes(scope, a) : a,
        b: transposeB ? materialisedTranspose(scope, b, lastTwoSwapped(b)) : bIsView ? materialisedTranspose(scope, b, identityPerm(b)) : b,
      };
      for (const name of passThroughInputs) {
        const info = inputs[name];
        if (info !== undefined) {
          plainInputs[name] = info;
        }
      }
      const plainAttrs = { ...attrs, transposeA: false, transposeB: false };
      if (plain !== undefined) {
        return plain(scope, plainInputs, plainAttrs);
      }
      return scope.adopt(single(original({ inputs: plainInputs, backend, attrs: plainAttrs }), kernelName));
    });
  });
}

/**
 * Whether `a·bᵀ` is cheaper as `(b·aᵀ)ᵀ`. The stock kernel packs its right operand (K×N floats) into XNNPACK's layout
 * on every call with a new buffer, and a transposed operand is always a new buffer; the left operand streams unpacked.
 * For dX = dY·Wᵀ with a batch (M rows) smaller than the layer (N units), packing dYᵀ (K×M) instead of Wᵀ (K×N) and
 * transposing the M×N result wins: the large CNN's dense backward [64,128]·[9216,128]ᵀ 20.6–23.5 → 10.3–12.8 ms,
 * the MLP's [64,256]·[256,256]ᵀ 0.9–1.0 → 0.65–0.68 ms on this box. Unbatched products only (tfjs' matMul hands 2-D
 * operands over as [1, M, K]); fused kernels keep the plain route, whose bias and activation run along N.
 */
function swapsCheaper(a: TensorInfo, b: TensorInfo): boolean {
  const unbatched = (x: TensorInfo) => x.shape.slice(0, -2).every((d) => d === 1);
  if (a.shape.length < 2 || b.shape.length !== a.shape.length || !unbatched(a) || !unbatched(b)) return false;
  const m = dim(a.shape, a.shape.length - 2);
  const n = dim(b.shape, b.shape.length - 2);
  return m > 1 && m < n;
}

/** `a·bᵀ` as `(b·aᵀ)ᵀ`: b streams as the left operand, aᵀ (a buffer of its own) is packed, the result is transposed. */
function swappedProduct(scope: KernelScope, a: TensorInfo, b: TensorInfo, original: KernelFunc, backend: WasmKernelArgs['backend'], attrs: NamedAttrMap, kernelName: string): TensorInfo {
  const aT = materialisedTranspose(scope, a, lastTwoSwapped(a));
  const productT = scope.adopt(single(original({ inputs: { a: b, b: aT }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }), kernelName));
  return scope.transpose(productT, lastTwoSwapped(productT));
}

/** Materialises the transpose of the last two axes (a free reshape when one of them has size 1). */
function lastTwoSwapped(x: TensorInfo): number[] {
  const rank = x.shape.length;
  if (rank < 2) {
    throw new Error(`fitstream wasm kernel: matMul operand must have rank >= 2, got [${x.shape.join(',')}]`);
  }
  return [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
}

function identityPerm(x: TensorInfo): number[] {
  return x.shape.map((_, i) => i);
}

/** The left operand: a transpose, or a free reshape when only unit axes move (the left operand is never cached). */
function swapLastTwoAxes(scope: KernelScope, x: TensorInfo): TensorInfo {
  return scope.transpose(x, lastTwoSwapped(x));
}

/** A transpose into a buffer of its own (never a view): the wasm `Transpose` kernel always allocates its output. */
function materialisedTranspose(scope: KernelScope, x: TensorInfo, perm: number[]): TensorInfo {
  return scope.run('Transpose', { x }, { perm });
}

/** Whether `x` is a view (e.g. a reshape) of a buffer allocated with another shape. */
function isReshapedView(backend: unknown, x: TensorInfo): boolean {
  const entry = (backend as { dataIdMap?: { get(dataId: TensorInfo['dataId']): { shape?: readonly number[] } | undefined } }).dataIdMap?.get(x.dataId);
  const shape = entry?.shape;
  return shape !== undefined && (shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i]));
}
