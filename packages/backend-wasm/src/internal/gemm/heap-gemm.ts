/**
 * Unbatched float32 products, C = op(A)·op(B), on the own GEMM's micro-kernel (gemm-module.ts) instantiated on the
 * tfjs heap itself: one thread, operands read where they lie, no copy into the two-thread GEMM's shared memory.
 *
 * This is the route for the products the two-thread GEMM (gemm-mat-mul.ts: large ones) and the narrow loop
 * (narrow-mat-mul.ts: Aᵀ·B with N ≤ 16) do not take, except plain products with a short inner dimension
 * ({@link MIN_INNER_AS_STORED}). On XNNPACK a transposed product costs a materialised transpose (fitstream's
 * `Transpose`), and every product in training packs its right operand anew (a trained weight is a new buffer each
 * step); for dY·Wᵀ with few rows batch-mat-mul-transpose.ts also transposed the result. Here B is packed into 8-column
 * panels (`pack`, which gathers a transposed B in place) and A is read in place by `gemmN` (A as stored) or `gemmT`
 * (A stored transposed). Measured on this 2-core box, per training step (medians, 80 steps):
 *
 * | product | before (XNNPACK) | here |
 * | --- | --- | --- |
 * | MLP dX = dY·Wᵀ [64,10]·[256,10]ᵀ | 0.18 ms | 0.03–0.04 |
 * | MLP last layer [64,256]·[256,10] + bias | 0.09 | 0.03–0.05 |
 * | small CNN dX [64,10]·[3136,10]ᵀ | 0.46 | 0.20–0.25 |
 * | small CNN dense [64,3136]·[3136,10] + bias | 0.43–0.49 | 0.21–0.24 |
 * | large CNN, its 5 products (dense [64,9216]·[9216,128] both ways…) | 15.6 | 11.0 |
 *
 * Every element of C is summed over k in order from 0, as on the two-thread GEMM.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { heapLoops } from '../wasm-assembly/heap-loops.js';
import { heapOffset } from '../kernels/heap-simd-loops.js';
import type { WasmBackendLike } from '../kernels/wasm-kernel-types.js';
import { applyEpilogue, fusedEpilogue, productShape } from './gemm-mat-mul.js';
import { COLUMNS_PER_PANEL, gemmFunctions, type GemmExports } from './gemm-module.js';

/** The GEMM's functions bound to the tfjs heap (`run` left out: it is the two-thread driver). */
const LOOPS = heapLoops<Pick<GemmExports, 'pack' | 'gemmN' | 'gemmT'>>(() => gemmFunctions().filter((fn) => fn.name !== 'run'));

let products = 0;

/** Products this route has computed in this process (tests check which route ran). */
export function heapGemmProducts(): number {
  return products;
}

/** The module's bytes (tests validate them). */
export function heapGemmBytes(shared: boolean): Uint8Array {
  return LOOPS.bytes(shared);
}

/**
 * Products with neither operand transposed and a shorter inner dimension stay on XNNPACK: with k this short each 4 × 8
 * tile's set-up and store outweigh its k steps (the LSTM's input projection [2048,4]·[4,256] inside its sequence kernel
 * ran ≈ 1 ms slower per step here).
 */
export const MIN_INNER_AS_STORED = 32;

/**
 * Bytes the micro-kernel may read past an operand's last element: `pack` loads a row-major B's last panel as two v128
 * (28 bytes past a row of fewer than 8 columns), `gemmT` splats a tile's 4 rows (12 bytes past a row of fewer than 4).
 * Those lanes are never stored; the reads must only stay inside the memory.
 */
const OVERREAD_BYTES = 32;

/**
 * C = op(a)·op(b) for unbatched float32 operands with a transposed one, with `_FusedMatMul`'s bias and linear/relu
 * when `fused`; undefined when this route does not serve the product (nothing transposed, batched, an unsupported
 * fused part, no SIMD) and the caller's must.
 */
export function heapGemmMatMul(
  backend: WasmBackendLike,
  inputs: { readonly a: TensorInfo; readonly b: TensorInfo; readonly bias?: TensorInfo | undefined; readonly preluActivationWeights?: TensorInfo | undefined },
  attrs: NamedAttrMap,
  fused: boolean,
): TensorInfo | undefined {
  const { a, b } = inputs;
  const shape = productShape(a, b, attrs);
  if (shape === undefined) return undefined;
  const { m, k, n, transposeA, transposeB } = shape;
  if (m === 0 || k === 0 || n === 0 || (!transposeA && !transposeB && k < MIN_INNER_AS_STORED)) return undefined;
  const epilogue = fused ? fusedEpilogue(inputs, attrs, n) : { bias: undefined, relu: false };
  if (epilogue === undefined) return undefined;
  const loops = LOOPS.of(backend);
  if (loops === undefined) return undefined;
  const panels = Math.ceil(n / COLUMNS_PER_PANEL);
  // The packed panels, then 32 bytes of scratch for a last panel narrower than 8 columns.
  const packed = backend.makeOutput([panels * k * COLUMNS_PER_PANEL + COLUMNS_PER_PANEL], 'float32');
  const out = backend.makeOutput([...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), m, n], 'float32');
  try {
    // Offsets only after the allocations (an allocation may grow the memory; offsets stay, views would detach).
    const a0 = heapOffset(backend, a);
    const b0 = heapOffset(backend, b);
    const memoryBytes = (backend.typedArrayFromHeap(out) as Float32Array).buffer.byteLength;
    if (a0 + 4 * m * k + OVERREAD_BYTES > memoryBytes || b0 + 4 * k * n + OVERREAD_BYTES > memoryBytes) {
      backend.disposeData(out.dataId);
      return undefined;
    }
    const p0 = heapOffset(backend, packed);
    const scratch = p0 + 4 * panels * k * COLUMNS_PER_PANEL;
    const c0 = heapOffset(backend, out);
    loops.pack(b0, p0, k, n, transposeB ? 1 : 0, 0, panels);
    // op(A)[r, kk] at a + r·rsA + kk·ksA: A stored [M, K] (gemmN) or [K, M] (gemmT, a tile's rows adjacent).
    if (transposeA) loops.gemmT(a0, 4, 4 * m, p0, c0, 4 * n, k, m, n, 0, m, 0, panels, scratch);
    else loops.gemmN(a0, 4 * k, 4, p0, c0, 4 * n, k, m, n, 0, m, 0, panels, scratch);
    if (epilogue.bias !== undefined || epilogue.relu) {
      const bias = epilogue.bias === undefined ? undefined : (backend.typedArrayFromHeap(epilogue.bias) as Float32Array);
      applyEpilogue(backend.typedArrayFromHeap(out) as Float32Array, n, { bias, relu: epilogue.relu });
    }
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  } finally {
    backend.disposeData(packed.dataId);
  }
  products++;
  return out;
}
