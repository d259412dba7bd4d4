/**
 * Products with a narrow result whose left operand is transposed, C[M, N] = Aᵀ·op(B) with N ≤ 16 (the weight
 * gradient Xᵀ·dY of a classifier's last dense layer), as a WebAssembly SIMD loop on the tfjs heap that reads A
 * transposed in place.
 *
 * On XNNPACK that product needs X transposed first (fitstream's `Transpose`, batch-mat-mul-transpose.ts); the own GEMM
 * (gemm-mat-mul.ts) would copy X into its shared memory, more floats than the product has multiply-adds per float.
 * Measured (medians of 30 calls, one thread): [64,3136]ᵀ·[64,10] (the bench's small CNN) 0.35–0.47 ms with the
 * transpose and XNNPACK against 0.22–0.23 here; [64,256]ᵀ·[64,10] 0.038 against 0.033. Not the forward X·W: there
 * XNNPACK needs no transpose and was faster (0.19 against 0.23–0.26 ms for [64,3136]·[3136,10]).
 *
 * `narrow{R}x{V}(a, rsA, ksA, b, c, M, K)` (R ≤ 2 rows, V ≤ 4 vectors of 4 columns): for rows r < M (a multiple of R),
 * C[r, :] = Σ_k op(A)[r, k] · B'[k, :] from 0 in k order, op(A)[r, k] read at a + r·rsA + k·ksA (bytes: A as stored
 * or transposed, in place), B' a copy of op(B) padded to 4·V columns (zeros), C padded likewise. Each step splats one
 * element of op(A) and multiplies it by V vectors of B' (R·V ≤ 8 accumulators: more spill, see
 * conv-single-channel-simd.ts). The padded result is packed into the output (heap-simd-loops.ts `copyRows`), then the
 * bias and relu of `_FusedMatMul` are applied.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { applyEpilogueOnHeap, ownRouteProduct, type ProductOperands } from '../gemm/products.js';
// The register-tile building blocks conv-single-channel-simd.ts uses too (the duplicates listing pairs the two import lists).
import {
  codeEntry,
  doWhile,
  eachOfTile,
  get,
  heapLoops,
  I32_ADD,
  I32_MUL,
  i32,
  i32s,
  increment,
  loadSplatAt,
  multiplyAddInto,
  set,
  V128_ZERO,
  v128LoadAt,
  v128StoreAt,
} from '../wasm-assembly/heap-loops.js';
import { heapOffset, heapSimdLoopsOf } from './heap-simd-loops.js';
import type { WasmBackendLike } from './wasm-kernel-types.js';

/** The widest result this route takes (4 vectors of 4 columns). */
export const NARROW_MAX_N = 16;
/** The smallest product it takes, in multiply-adds (a dense [64,256] → 10 layer's 164 k is above). */
export const NARROW_MIN_MULTIPLY_ADDS = 1 << 16;

const MAX_ROWS = 2;
const MAX_VECTORS = 4;

// locals: parameters a rsA ksA b c m k (0–6), i32 r kk ap bp cp (7–11), v128 s (12), then the accumulators.
function narrowBody(rows: number, vectors: number): number[] {
  const [A, RSA, KSA, B, C, M, K] = [0, 1, 2, 3, 4, 5, 6];
  const [R, KK, AP, BP, CP] = [7, 8, 9, 10, 11];
  const S = 12;
  const ACC = (i: number, v: number): number => 13 + i * vectors + v;
  const each = (f: (i: number, v: number) => number[]): number[] => eachOfTile(rows, vectors, f);
  const step = [
    ...Array.from({ length: rows }, (_, i) => [
      ...get(AP), ...(i === 0 ? [] : [...get(RSA), I32_ADD]), ...loadSplatAt(0), ...set(S),
      ...Array.from({ length: vectors }, (__, v) => [...get(S), ...get(BP), ...v128LoadAt(16 * v), ...multiplyAddInto(ACC(i, v))]).flat(),
    ]).flat(),
    ...increment(AP, get(KSA)), ...increment(BP, i32(16 * vectors)), ...increment(KK, i32(1)),
  ];
  const tile = [
    ...each((i, v) => [...V128_ZERO, ...set(ACC(i, v))]),
    ...get(A), ...get(R), ...get(RSA), I32_MUL, I32_ADD, ...set(AP),
    ...get(B), ...set(BP), ...i32(0), ...set(KK),
    ...doWhile(KK, K, step),
    ...each((i, v) => [...get(CP), ...get(ACC(i, v)), ...v128StoreAt(16 * (i * vectors + v))]),
    ...increment(CP, i32(16 * rows * vectors)), ...increment(R, i32(rows)),
  ];
  return codeEntry(5, 1 + rows * vectors, [...get(C), ...set(CP), ...i32(0), ...set(R), ...doWhile(R, M, tile)]);
}

type Narrow = (a: number, rsA: number, ksA: number, b: number, c: number, m: number, k: number) => void;

const SIZES = Array.from({ length: MAX_ROWS * MAX_VECTORS }, (_, i) => [1 + Math.floor(i / MAX_VECTORS), 1 + (i % MAX_VECTORS)] as const);
const LOOPS = heapLoops<Record<string, Narrow>>(() => SIZES.map(([r, v]) => ({ name: `narrow${r}x${v}`, params: i32s(7), code: narrowBody(r, v) })));

/** The module's bytes (tests validate them). */
export function narrowMatMulBytes(shared: boolean): Uint8Array {
  return LOOPS.bytes(shared);
}

/**
 * aᵀ·op(b) (+ `_FusedMatMul`'s bias and linear/relu activation when `fused`) when a is transposed, the result narrow
 * (N ≤ 16) and the product large enough; undefined otherwise, and where the loops cannot run (no SIMD), for the
 * caller's route.
 */
export function narrowMatMul(backend: WasmBackendLike, operands: ProductOperands, attrs: NamedAttrMap, fused: boolean): TensorInfo | undefined {
  const routed = ownRouteProduct(operands, attrs, fused);
  if (routed === undefined) return undefined;
  const { shape, epilogue } = routed;
  const { m, k, n, transposeA, transposeB } = shape;
  if (!transposeA || n > NARROW_MAX_N || m * k * n < NARROW_MIN_MULTIPLY_ADDS) return undefined;
  const { a, b } = operands;
  const loops = LOOPS.of(backend);
  if (loops === undefined) return undefined;
  const vectors = Math.ceil(n / 4);
  const width = 4 * vectors;
  const padded = backend.makeOutput([k, width], 'float32');
  const result = backend.makeOutput([m, width], 'float32');
  const out = backend.makeOutput([...(a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2), m, n], 'float32');
  try {
    // Views and offsets only after the allocations (an allocation may grow, and so detach, the wasm memory).
    const bValues = backend.typedArrayFromHeap(b) as Float32Array;
    const bPadded = backend.typedArrayFromHeap(padded) as Float32Array;
    // B' = op(B) with zero columns up to `width`: k·n reads, a few µs (the weight is new every step).
    for (let kk = 0; kk < k; kk++) {
      const row = kk * width;
      for (let j = 0; j < n; j++) bPadded[row + j] = transposeB ? (bValues[j * k + kk] ?? 0) : (bValues[kk * n + j] ?? 0);
      for (let j = n; j < width; j++) bPadded[row + j] = 0;
    }
    const a0 = heapOffset(backend, a);
    // op(A)[r, kk]: A stored [M, K] (rows K floats apart) or, transposed, [K, M] (read in place).
    const rsA = transposeA ? 4 : 4 * k;
    const ksA = transposeA ? 4 * m : 4;
    const b0 = heapOffset(backend, padded);
    const c0 = heapOffset(backend, result);
    const even = m - (m % MAX_ROWS);
    if (even > 0) loops[`narrow${MAX_ROWS}x${vectors}`]!(a0, rsA, ksA, b0, c0, even, k);
    if (even < m) loops[`narrow1x${vectors}`]!(a0 + even * rsA, rsA, ksA, b0, c0 + even * width * 4, m - even, k);
    // The padded rows packed into C: one SIMD copy (a JavaScript loop took ≈ 0.1 ms for the small CNN's 3136 × 10).
    const rows = n >= 4 ? heapSimdLoopsOf(backend) : undefined;
    if (rows !== undefined) rows.copyRows(c0, heapOffset(backend, out), m, n * 4, width * 4, n * 4);
    else {
      const resultValues = backend.typedArrayFromHeap(result) as Float32Array;
      const outValues = backend.typedArrayFromHeap(out) as Float32Array;
      for (let r = 0; r < m; r++) {
        for (let j = 0; j < n; j++) outValues[r * n + j] = resultValues[r * width + j] ?? 0;
      }
    }
    applyEpilogueOnHeap(backend, out, n, epilogue);
  } catch (error) {
    backend.disposeData(out.dataId);
    throw error;
  } finally {
    backend.disposeData(padded.dataId);
    backend.disposeData(result.dataId);
  }
  return out;
}
