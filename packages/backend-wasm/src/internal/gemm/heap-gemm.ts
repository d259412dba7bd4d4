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
import { COLUMNS_PER_PANEL, gemmFunctions, type GemmExports } from './gemm-module.js';
import { applyEpilogueOnHeap, ownRouteProduct, type ProductOperands } from './products.js';
import type { GemmShape } from './two-thread-gemm.js';

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

/** Packed panels per chunk of a product: what fits in 32 KiB (a core's L1 data cache), at least one. */
const PACKED_CHUNK_BYTES = 32768;

/**
 * C = op(a)·op(b) for unbatched float32 operands, with `_FusedMatMul`'s bias and linear/relu when `fused`; undefined
 * when this route does not serve the product (batched, a plain product with a short inner dimension, an unsupported
 * fused part, no SIMD) and the caller's must.
 */
export function heapGemmMatMul(backend: WasmBackendLike, operands: ProductOperands, attrs: NamedAttrMap, fused: boolean): TensorInfo | undefined {
  const routed = ownRouteProduct(operands, attrs, fused);
  if (routed === undefined) return undefined;
  const { shape, epilogue } = routed;
  if (!shape.transposeA && !shape.transposeB && shape.k < MIN_INNER_AS_STORED) return undefined;
  const product = startInPlace(backend, operands.a, operands.b, shape);
  if (product === undefined) return undefined;
  try {
    product.multiply([0, shape.m], [0, product.panels]);
  } catch (error) {
    product.abandon();
    throw error;
  }
  return product.finish(epilogue);
}

/**
 * A product under way in place on the heap: C allocated, B's panels packed as they are needed. {@link InPlaceProduct.multiply} computes
 * a block of C's rows and panels; {@link InPlaceProduct.finish} applies the epilogue and hands C over, or
 * {@link InPlaceProduct.abandon} frees it.
 */
export interface InPlaceProduct {
  readonly shape: Required<GemmShape>;
  /** ⌈n / 8⌉: C's column panels. */
  readonly panels: number;
  /** Packs panels p0 … p1 − 1 of B where not packed yet ({@link InPlaceProduct.multiply} packs what it needs itself). */
  pack(p0: number, p1: number): void;
  /** C rows r0 … r1 − 1 (r0 a multiple of gemm-module.ts' ROWS_PER_TILE) times panels p0 … p1 − 1, summed over all of k. */
  multiply(rows: readonly [number, number], panels: readonly [number, number]): void;
  /** Views of op(A) as stored, the packed panels (panel p at p·k·8 floats) and C; take them after any allocation. */
  views(): { readonly a: Float32Array; readonly packed: Float32Array; readonly c: Float32Array };
  finish(epilogue: { readonly bias: TensorInfo | undefined; readonly relu: boolean }): TensorInfo;
  abandon(): void;
}

/**
 * Packs B and allocates C for an unbatched float32 product on the heap (shape from {@link productShape}); undefined
 * when the loops cannot run here (no SIMD), the heap is shared (tfjs' threaded build, whose XNNPACK has threads of its
 * own) or an operand lies too close to the memory's end for the micro-kernel's reads past it.
 */
export function startInPlace(backend: WasmBackendLike, a: TensorInfo, b: TensorInfo, shape: Required<GemmShape>): InPlaceProduct | undefined {
  const { m, k, n, transposeA, transposeB } = shape;
  if (m === 0 || k === 0 || n === 0) return undefined;
  const loops = LOOPS.of(backend);
  if (loops === undefined) return undefined;
  const panels = Math.ceil(n / COLUMNS_PER_PANEL);
  const panelFloats = panels * k * COLUMNS_PER_PANEL;
  // The packed panels, then 32 bytes of scratch for a last panel narrower than 8 columns.
  const packed = backend.makeOutput([panelFloats + COLUMNS_PER_PANEL], 'float32');
  const out = backend.makeOutput([...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), m, n], 'float32');
  const free = (): void => {
    backend.disposeData(packed.dataId);
    backend.disposeData(out.dataId);
  };
  // Offsets only after the allocations (an allocation may grow the memory; offsets stay, views would detach).
  const a0 = heapOffset(backend, a);
  const b0 = heapOffset(backend, b);
  const memory = (backend.typedArrayFromHeap(out) as Float32Array).buffer;
  const memoryBytes = memory.byteLength;
  // A shared heap is tfjs' threaded build (a cross-origin-isolated page), whose XNNPACK runs on tfjs' own threads.
  const threadedTfjs = typeof SharedArrayBuffer === 'function' && memory instanceof SharedArrayBuffer;
  if (threadedTfjs || a0 + 4 * m * k + OVERREAD_BYTES > memoryBytes || b0 + 4 * k * n + OVERREAD_BYTES > memoryBytes) {
    free();
    return undefined;
  }
  const p0 = heapOffset(backend, packed);
  const scratch = p0 + 4 * panelFloats;
  const c0 = heapOffset(backend, out);
  // Panels are packed as they are first needed, a few at a time just before their products, while they are still in
  // cache: packing all of [784, 256] first took the one-thread product from 0.55 to 0.9 ms inside a training step.
  const isPacked = new Uint8Array(panels);
  const chunk = Math.max(1, Math.floor(PACKED_CHUNK_BYTES / (k * 4 * COLUMNS_PER_PANEL)));
  const pack = (first: number, last: number): void => {
    for (let p = first; p < last; p++) {
      if (isPacked[p] === 1) continue;
      let end = p + 1;
      while (end < last && isPacked[end] === 0) end++;
      loops.pack(b0, p0, k, n, transposeB ? 1 : 0, p, end);
      isPacked.fill(1, p, end);
      p = end - 1;
    }
  };
  return {
    shape,
    panels,
    pack,
    multiply([r0, r1], [first, last]) {
      for (let p = first; p < last; p += chunk) {
        const end = Math.min(last, p + chunk);
        pack(p, end);
        // op(A)[r, kk] at a + r·rsA + kk·ksA: A stored [M, K] (gemmN) or [K, M] (gemmT, a tile's rows adjacent).
        if (transposeA) loops.gemmT(a0, 4, 4 * m, p0, c0, 4 * n, k, m, n, r0, r1, p, end, scratch);
        else loops.gemmN(a0, 4 * k, 4, p0, c0, 4 * n, k, m, n, r0, r1, p, end, scratch);
      }
    },
    views: () => ({
      a: backend.typedArrayFromHeap(a) as Float32Array,
      packed: (backend.typedArrayFromHeap(packed) as Float32Array).subarray(0, panelFloats),
      c: backend.typedArrayFromHeap(out) as Float32Array,
    }),
    finish({ bias, relu }) {
      backend.disposeData(packed.dataId);
      applyEpilogueOnHeap(backend, out, n, { bias, relu });
      products++;
      return out;
    },
    abandon: free,
  };
}
