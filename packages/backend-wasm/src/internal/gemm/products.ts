/**
 * What the own matMul routes (gemm-mat-mul.ts, heap-gemm.ts, kernels/narrow-mat-mul.ts) share: the GEMM shape of an
 * unbatched float32 product, and `_FusedMatMul`'s bias and relu as an epilogue applied to C.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { heapOffset, heapSimdLoopsOf } from '../kernels/heap-simd-loops.js';
import type { WasmBackendLike } from '../kernels/wasm-kernel-types.js';
import type { GemmShape } from './two-thread-gemm.js';

/** The epilogue of a fused product: a bias along n and relu, applied to C once it is computed. */
export interface Epilogue {
  readonly bias: Float32Array | undefined;
  readonly relu: boolean;
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

/** A product's operands as the matMul kernels receive them (`_FusedMatMul`'s bias and PReLU weights when fused). */
export interface ProductOperands {
  readonly a: TensorInfo;
  readonly b: TensorInfo;
  readonly bias?: TensorInfo | undefined;
  readonly preluActivationWeights?: TensorInfo | undefined;
}

/**
 * The shape and epilogue of a product the own routes can take: unbatched float32 operands and, when `fused`, a bias
 * and linear/relu as {@link fusedEpilogue} accepts them (no epilogue work otherwise); undefined for any other.
 */
export function ownRouteProduct(
  operands: ProductOperands,
  attrs: NamedAttrMap,
  fused: boolean,
): { readonly shape: Required<GemmShape>; readonly epilogue: { readonly bias: TensorInfo | undefined; readonly relu: boolean } } | undefined {
  const shape = productShape(operands.a, operands.b, attrs);
  const epilogue = shape === undefined ? undefined : fused ? fusedEpilogue(operands, attrs, shape.n) : { bias: undefined, relu: false };
  return shape === undefined || epilogue === undefined ? undefined : { shape, epilogue };
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

/**
 * Applies a fused product's bias and relu to C (`out` on the heap, rows of n) in place: one SIMD pass
 * (heap-simd-loops.ts `addRows` / `addRowsRelu`) for a bias over n a multiple of 4, {@link applyEpilogue} otherwise
 * — the same float32 sums either way. The JavaScript loop took ≈ 0.1 ms per [64,256] C inside a training step.
 */
export function applyEpilogueOnHeap(backend: WasmBackendLike, out: TensorInfo, n: number, { bias, relu }: { readonly bias: TensorInfo | undefined; readonly relu: boolean }): void {
  if (bias === undefined && !relu) return;
  const loops = bias !== undefined && n % 4 === 0 ? heapSimdLoopsOf(backend) : undefined;
  if (loops !== undefined && bias !== undefined) {
    const c = heapOffset(backend, out);
    (relu ? loops.addRowsRelu : loops.addRows)(c, heapOffset(backend, bias), c, sizeOf(out.shape) / n, 4 * n);
    return;
  }
  const biasValues = bias === undefined ? undefined : (backend.typedArrayFromHeap(bias) as Float32Array);
  applyEpilogue(backend.typedArrayFromHeap(out) as Float32Array, n, { bias: biasValues, relu });
}
