/**
 * Heap access and native matMul calls for the whole-sequence recurrent kernels.
 *
 * The gate passes index one `Float32Array` over the whole wasm heap with each tensor's base offset (a single
 * monomorphic array keeps V8's loops tight, where a fresh view per tensor and per time step would not). Offsets of
 * live tensors never move; only the heap's `ArrayBuffer` is replaced when it grows, so {@link RecurrentHeap.f32}
 * re-reads it after every allocation.
 */
import type { DataId, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { WasmBackendLike } from '../kernels/wasm-kernel-types.js';
import { single } from '../kernels/wasm-kernel-scope.js';
import { heapSimdLoopsOf } from '../kernels/heap-simd-loops.js';
import { weightGradientLoops } from '../kernels/weight-gradient-simd.js';
import { gemmMatMulMeasured } from '../gemm/gemm-mat-mul.js';

/** The parts of tfjs-backend-wasm's backend the recurrent kernels read besides {@link WasmBackendLike}. */
interface WasmBackendInternals extends WasmBackendLike {
  /** Null once the backend was disposed (`tf.removeBackend`, `tf.engine().reset()`). */
  readonly wasm: { readonly HEAPU8: Uint8Array } | null;
  readonly dataIdMap: { get(dataId: DataId): { memoryOffset: number } | undefined; has(dataId: DataId): boolean };
}

/** The native kernels the recurrent kernels call, resolved at install time. */
export interface RecurrentNativeKernels {
  readonly batchMatMul: KernelFunc;
  readonly fusedMatMul: KernelFunc;
  readonly transpose: KernelFunc;
}

/** The activations the gate passes implement (tfjs-layers' class names). */
export const ACTIVATIONS = ['linear', 'relu', 'tanh', 'sigmoid', 'hardSigmoid'] as const;
/** One of {@link ACTIVATIONS}. */
export type RecurrentActivationName = (typeof ACTIVATIONS)[number];

/** Activation codes: the index in {@link ACTIVATIONS}. */
export const LINEAR = 0;
export const RELU = 1;
export const TANH = 2;
export const SIGMOID = 3;
export const HARD_SIGMOID = 4;

/** The code of an activation attribute, or an error naming the kernel and the supported names. */
export function activationCode(value: unknown, attr: string, kernelName: string): number {
  const index = ACTIVATIONS.indexOf(value as RecurrentActivationName);
  if (index < 0) {
    throw new Error(`${kernelName}: attribute '${attr}' must be one of ${ACTIVATIONS.join(', ')}; got ${String(value)}`);
  }
  return index;
}

// tanh as Eigen's float32 rational approximation (numerator of degree 13, denominator 6 in x, on x clamped to
// ±7.99881172…, where float32 tanh is ±1): a few multiply-adds and one division instead of Math.tanh's or Math.exp's
// ≈15 ns, within ≈2 float32 ulps of the exact value (tfjs' own kernels differ from it by as much).
const TANH_CLAMP = 7.99881172180175781;
const A1 = 4.89352455891786e-3;
const A3 = 6.37261928875436e-4;
const A5 = 1.48572235717979e-5;
const A7 = 5.12229709037114e-8;
const A9 = -8.60467152213735e-11;
const A11 = 2.00018790482477e-13;
const A13 = -2.76076847742355e-16;
const B0 = 4.89352518554385e-3;
const B2 = 2.26843463243900e-3;
const B4 = 1.18534705686654e-4;
const B6 = 1.19825839466702e-6;

/** tanh to float32 accuracy (see above). */
export function fastTanh(v: number): number {
  const x = v > TANH_CLAMP ? TANH_CLAMP : v < -TANH_CLAMP ? -TANH_CLAMP : v;
  const x2 = x * x;
  const p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
  const q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0;
  return p / q;
}

/** tfjs' activations in double precision (the heap stores round them to float32, as tfjs' kernels do). */
export function activate(code: number, v: number): number {
  switch (code) {
    case RELU:
      return v > 0 ? v : 0;
    case TANH:
      return fastTanh(v);
    case SIGMOID:
      // σ(x) = (1 + tanh(x/2)) / 2
      return 0.5 + 0.5 * fastTanh(0.5 * v);
    case HARD_SIGMOID: {
      // tfjs-layers: clipByValue(0.5 + 0.2·x, 0, 1).
      const y = 0.2 * v + 0.5;
      return y < 0 ? 0 : y > 1 ? 1 : y;
    }
    default:
      return v;
  }
}

/** Applies the activation in place to `f32[start, end)`: one tight loop per activation. */
export function activateRange(code: number, f32: Float32Array, start: number, end: number): void {
  switch (code) {
    case RELU:
      for (let k = start; k < end; k++) {
        const v = f32[k]!;
        f32[k] = v > 0 ? v : 0;
      }
      return;
    case TANH:
      for (let k = start; k < end; k++) f32[k] = fastTanh(f32[k]!);
      return;
    case SIGMOID:
      for (let k = start; k < end; k++) f32[k] = 0.5 + 0.5 * fastTanh(0.5 * f32[k]!);
      return;
    case HARD_SIGMOID:
      for (let k = start; k < end; k++) {
        const y = 0.2 * f32[k]! + 0.5;
        f32[k] = y < 0 ? 0 : y > 1 ? 1 : y;
      }
      return;
    default:
  }
}

/**
 * The activation's derivative written in terms of its output `y` (what the forward pass saved), matching tfjs'
 * gradients: relu `x > 0`, tanh `1 − y²`, sigmoid `y(1 − y)`, hard sigmoid `0.2` inside the clip range.
 */
export function derivative(code: number, y: number): number {
  switch (code) {
    case RELU:
      return y > 0 ? 1 : 0;
    case TANH:
      return 1 - y * y;
    case SIGMOID:
      return y * (1 - y);
    case HARD_SIGMOID:
      return y > 0 && y < 1 ? 0.2 : 0;
    default:
      return 1;
  }
}

let simdEnabled = true;

/** Turns the recurrent kernels' SIMD loops off (gate passes, weight-gradient loops: the fallbacks run) or back on. For tests and measurements. */
export function setRecurrentSimdEnabled(enabled: boolean): void {
  simdEnabled = enabled;
}

/** Whether the recurrent kernels may use their SIMD loops. */
export function recurrentSimdEnabled(): boolean {
  return simdEnabled;
}

/** Allocations, offsets and native matMuls for one kernel call; {@link disposeTemps} frees its intermediates. */
export class RecurrentHeap {
  readonly #backend: WasmBackendInternals;
  readonly #temps: TensorInfo[] = [];
  #heap: Float32Array;

  constructor(
    backend: WasmBackendLike,
    private readonly native: RecurrentNativeKernels,
  ) {
    this.#backend = backend as WasmBackendInternals;
    this.#heap = new Float32Array(this.#heapBuffer());
  }

  #heapBuffer(): ArrayBufferLike {
    const wasm = this.#backend.wasm;
    if (wasm === null) throw new Error('fitstream recurrent kernel: the wasm backend has been disposed');
    return wasm.HEAPU8.buffer;
  }

  /** The whole heap as float32; call again after any allocation (the buffer is replaced when the heap grows). */
  f32(): Float32Array {
    const buffer = this.#heapBuffer();
    if (this.#heap.buffer !== buffer) {
      this.#heap = new Float32Array(buffer);
    }
    return this.#heap;
  }

  /**
   * Whether `info`'s data is still on the heap: neither it nor the backend disposed (`get` of a missing id would ask
   * the engine to move it).
   */
  holds(info: TensorInfo): boolean {
    return this.#backend.wasm !== null && this.#backend.dataIdMap.has(info.dataId);
  }

  /** Index of a tensor's first element in {@link f32}. */
  offset(info: TensorInfo): number {
    const entry = this.#backend.dataIdMap.get(info.dataId);
    if (entry === undefined) {
      throw new Error('fitstream recurrent kernel: a tensor passed to the kernel has been disposed');
    }
    return entry.memoryOffset / 4;
  }

  /** A kernel output (not freed by {@link disposeTemps}). */
  output(shape: number[]): TensorInfo {
    return this.#backend.makeOutput(shape, 'float32');
  }

  /** An intermediate freed by {@link disposeTemps}. */
  temp(shape: number[]): TensorInfo {
    return this.adopt(this.output(shape));
  }

  adopt(info: TensorInfo): TensorInfo {
    this.#temps.push(info);
    return info;
  }

  /** Frees one intermediate early (it must have come from {@link temp} or {@link adopt}). */
  free(info: TensorInfo): void {
    const index = this.#temps.indexOf(info);
    if (index >= 0) {
      this.#temps.splice(index, 1);
      this.#backend.disposeData(info.dataId);
    }
  }

  /** Takes an intermediate off the temp list to return it as a kernel output read with `shape` (same size). */
  release(info: TensorInfo, shape: number[]): TensorInfo {
    const index = this.#temps.indexOf(info);
    if (index < 0) throw new Error('fitstream recurrent kernel: release() of a tensor that is not an intermediate');
    this.#temps.splice(index, 1);
    return viewAs(info, shape);
  }

  disposeTemps(): void {
    for (const info of this.#temps) {
      this.#backend.disposeData(info.dataId);
    }
    this.#temps.length = 0;
  }

  /**
   * A copy of `src` in a buffer allocated with `shape`: the native matMul caches its packed right operand per buffer
   * whatever the shape it is called with, so a right operand must always be a buffer of its own shape.
   */
  copy(src: TensorInfo, shape: number[]): TensorInfo {
    const out = this.temp(shape);
    const heap = this.f32();
    const from = this.offset(src);
    heap.copyWithin(this.offset(out), from, from + shape.reduce((a, b) => a * b, 1));
    return out;
  }

  /** Turns an intermediate into a kernel output with `shape` (a copy into a buffer of that shape; frees `info`). */
  settle(info: TensorInfo, shape: number[]): TensorInfo {
    const out = this.output(shape);
    const f32 = this.f32();
    const from = this.offset(info);
    f32.copyWithin(this.offset(out), from, from + shape.reduce((a, b) => a * b, 1));
    this.free(info);
    return out;
  }

  /** `a·b` for rank-3 `[1, m, k]·[1, k, n]` (XNNPACK's GEMM); `b` must be a buffer of its own shape. */
  matMul(a: TensorInfo, b: TensorInfo): TensorInfo {
    const attrs = { transposeA: false, transposeB: false };
    return this.adopt(single(this.native.batchMatMul({ inputs: { a, b }, backend: this.#backend, attrs }), 'BatchMatMul'));
  }

  /**
   * `aᵀ·b` for `a` `[k, m]` and `b` `[k, n]`: on the own GEMM where it runs (it reads `a` transposed in place and
   * does not pack `b`), else a transpose and the native matMul.
   */
  matMulTransposedA(a: TensorInfo, b: TensorInfo, k: number, m: number): TensorInfo {
    const own = gemmMatMulMeasured(this.#backend, a, b, { transposeA: true, transposeB: false });
    return own === undefined ? this.matMul(this.transposed(a, k, m), b) : this.adopt(own);
  }

  /** `a·b + bias` (bias over the last axis; batch 1 only, where the native kernel adds it correctly). */
  matMulBias(a: TensorInfo, b: TensorInfo, bias: TensorInfo | undefined): TensorInfo {
    if (bias === undefined) {
      return this.matMul(a, b);
    }
    const attrs = { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 };
    return this.adopt(single(this.native.fusedMatMul({ inputs: { a, b, bias }, backend: this.#backend, attrs }), '_FusedMatMul'));
  }

  /**
   * Xᵀ·dZ `[d, g]` and the row sums of dZ `[g]` as kernel outputs, for X `[rows, d]` and dZ `[rows, g]`, on the SIMD
   * loops (kernels/weight-gradient-simd.ts, heap-simd-loops.ts `sumRows`): each a float32 sum over the rows in order,
   * dZ read in place. Undefined where they do not run (no SIMD, g not a multiple of 4); the caller then uses GEMMs.
   */
  columnProducts(x: TensorInfo, dZ: TensorInfo, rows: number, d: number, g: number): [TensorInfo, TensorInfo] | undefined {
    const loops = g % 4 === 0 && recurrentSimdEnabled() ? weightGradientLoops.of(this.#backend) : undefined;
    const sums = loops === undefined ? undefined : heapSimdLoopsOf(this.#backend);
    if (loops === undefined || sums === undefined) return undefined;
    const [products, rowSums] = [this.output([d, g]), this.output([g])];
    // Offsets (not views) across the allocations above; the accumulator starts at zero.
    const at = this.offset(products);
    this.f32().fill(0, at, at + d * g);
    loops.columnProducts(this.offset(x) * 4, this.offset(dZ) * 4, at * 4, rows, d, g * 4);
    sums.sumRows(this.offset(dZ) * 4, this.offset(rowSums) * 4, rows, g * 4);
    return [products, rowSums];
  }

  /** The transpose `[1, k, n] → [1, n, k]` of a `[k, n]` or `[1, k, n]` tensor, in a buffer of its own. */
  transposed(x: TensorInfo, k: number, n: number): TensorInfo {
    const loops = k % 4 === 0 && n % 4 === 0 && recurrentSimdEnabled() ? weightGradientLoops.of(this.#backend) : undefined;
    if (loops !== undefined) {
      // 4×4 blocks on the SIMD loop: the same values, ≈ 10× faster than the stock Transpose.
      const out = this.temp([1, n, k]);
      loops.transpose4(this.offset(x) * 4, this.offset(out) * 4, k, n);
      return out;
    }
    const view = { dataId: x.dataId, shape: [1, k, n], dtype: x.dtype };
    return this.adopt(single(this.native.transpose({ inputs: { x: view }, backend: this.#backend, attrs: { perm: [0, 2, 1] } }), 'Transpose'));
  }
}

/** `info` read with another shape of the same size (only for operands that are read, never returned or freed). */
export function viewAs(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** The dims of a tensor of the given rank, with an error naming the kernel and the input. */
export function dims(info: TensorInfo, rank: number, input: string, kernelName: string): number[] {
  if (info.shape.length !== rank || info.dtype !== 'float32') {
    throw new Error(`${kernelName}: input '${input}' must be a rank-${rank} float32 tensor, got ${info.dtype} [${info.shape.join(',')}]`);
  }
  return info.shape;
}

/** Checks that `info` has exactly `shape`. */
export function expectShape(info: TensorInfo, shape: number[], input: string, kernelName: string): void {
  if (info.dtype !== 'float32' || info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${kernelName}: input '${input}' must be float32 [${shape.join(',')}], got ${info.dtype} [${info.shape.join(',')}]`);
  }
}
