/**
 * Kernels that cut the dispatches of a dense training step (issue 18: a batch-64 MLP step dispatched ≈120 kernels, a
 * third of them for the loss, its gradient and the metrics, on tensors of 64×10 values).
 *
 * Each replaces a chain of tiny tfjs kernels — each a dispatch through the engine, a tape node and a new tensor —
 * by one pass over the wasm heap:
 *
 * - {@link RELU_GRAD}: the gradient of `Relu`, `dy` where `x > 0` (tfjs: `mul(dy, cast(step(x)))`, three kernels).
 * - {@link SOFTMAX_GRAD}: the gradient of `Softmax` over the last axis, `y·(dy − Σ dy·y)` (tfjs: four kernels).
 * - {@link BIAS_GRAD}: the gradient of a bias added along the last axis (`Add` of `[…, n]` and `[n]`), `dy` summed over
 *   every other axis (tfjs: `Sum` then `Reshape`).
 * - {@link CATEGORICAL_CROSSENTROPY} and {@link CATEGORICAL_CROSSENTROPY_GRAD}: the per-sample categorical
 *   cross-entropy of probabilities, `−Σ y·log(clip(p / Σp, ε, 1 − ε))` (the Keras formula `@fitstream/losses` uses),
 *   and its gradient with respect to both `yTrue` and `yPred` (tfjs: 7 kernels forward, ≈20 backward, plus the tape's
 *   clones of every saved input).
 * - {@link CATEGORICAL_ACCURACY}: per-sample `argmax(y) == argmax(p)` as 0/1 (tfjs: five kernels).
 *
 * The gradient kernels are used through the gradients registered for `Relu`, `Softmax` and `Add` (see
 * route-step-gradients.ts); the loss and accuracy kernels through `@fitstream/losses` (its `resolveLoss` and
 * `resolveMetrics`, which the trainer uses), which finds them in tfjs' kernel registry by these names, as the fused
 * optimizer updates are found (its internal/fused-step-kernels.ts spells the same names; neither package imports the
 * other). All of them compute in double precision and round once to float32, so they agree with the float32 chains
 * they replace to a few ulps (the tests hold them to 1e-5 against the stock path).
 *
 * The loss, softmax and accuracy kernels are plain JavaScript loops over heap views: their tensors are small (64×10)
 * and the cost being removed is per dispatch. The relu and bias gradients, on 64×256 values, run as WebAssembly SIMD
 * passes (relu-grad-simd.ts, and the `sumRows` loop of kernels/heap-simd-loops.ts) where the engine has SIMD, and as
 * JavaScript loops otherwise.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { heapOffset, heapSimdLoopsOf } from '../kernels/heap-simd-loops.js';
import { requireInput, toKernelFunc, type WasmBackendLike } from '../kernels/wasm-kernel-types.js';
import { reluGradSimdOf } from './relu-grad-simd.js';

// The kernels' registered names: a list of string constants, alike in shape only to other name lists (checkpoint-format.ts's file names).
export const RELU_GRAD = 'FitstreamReluGrad';
export const SOFTMAX_GRAD = 'FitstreamSoftmaxGrad';
export const BIAS_GRAD = 'FitstreamBiasGrad';
export const CATEGORICAL_CROSSENTROPY = 'FitstreamCategoricalCrossentropy';
export const CATEGORICAL_CROSSENTROPY_GRAD = 'FitstreamCategoricalCrossentropyGrad';
export const CATEGORICAL_ACCURACY = 'FitstreamCategoricalAccuracy';

/** The clip bound of @fitstream/losses' categorical cross-entropy (Keras' epsilon). */
const EPSILON = 1e-7;

function float32Input(inputs: Parameters<KernelFunc>[0]['inputs'], name: string, kernel: string): TensorInfo {
  const info = requireInput(inputs, name, kernel);
  if (info.dtype !== 'float32') throw new Error(`${kernel}: input '${name}' must be float32, got ${info.dtype}`);
  return info;
}

function sameShape(a: TensorInfo, b: TensorInfo, kernel: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${kernel}: shapes [${a.shape.join(',')}] and [${b.shape.join(',')}] differ`);
  }
}

/** Rows × classes of a tensor whose last axis is the class axis. */
function rowsAndWidth(info: TensorInfo, kernel: string): [number, number] {
  const width = info.shape[info.shape.length - 1];
  if (info.shape.length < 1 || width === undefined || width < 1) throw new Error(`${kernel}: expected a last axis of size ≥ 1, got [${info.shape.join(',')}]`);
  const size = info.shape.reduce((a, b) => a * b, 1);
  return [size / width, width];
}

/**
 * The float32 inputs `first` and `second` (read in this order), which must have the same shape, with the rows × width
 * of that shape's last axis: what the softmax-gradient, loss and accuracy kernels read.
 */
function rowPair(inputs: Parameters<KernelFunc>[0]['inputs'], first: string, second: string, kernel: string): [TensorInfo, TensorInfo, number, number] {
  const a = float32Input(inputs, first, kernel);
  const b = float32Input(inputs, second, kernel);
  sameShape(a, b, kernel);
  return [a, b, ...rowsAndWidth(b, kernel)];
}

function views(backend: WasmBackendLike, ...infos: TensorInfo[]): Float32Array[] {
  // After every allocation: an allocation may grow the heap and detach earlier views.
  return infos.map((info) => backend.typedArrayFromHeap(info) as Float32Array);
}

/**
 * `dy` where `x > 0`, else +0. Inputs `dy`, `x`. (tfjs' `mul(dy, step(x))` gives −0 for a negative `dy` and NaN where
 * `x` is NaN; both are 0 here.)
 */
export function createReluGradKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend }) => {
    const dy = float32Input(inputs, 'dy', RELU_GRAD);
    const x = float32Input(inputs, 'x', RELU_GRAD);
    sameShape(dy, x, RELU_GRAD);
    const out = backend.makeOutput([...dy.shape], 'float32');
    const simd = reluGradSimdOf(backend);
    if (simd !== undefined) {
      // Offsets only after makeOutput (an allocation may grow the heap; offsets stay valid, views would not).
      simd(heapOffset(backend, dy), heapOffset(backend, x), heapOffset(backend, out), dy.shape.reduce((a, b) => a * b, 1));
      return out;
    }
    const [d, v, o] = views(backend, dy, x, out);
    for (let i = 0; i < o!.length; i++) o![i] = v![i]! > 0 ? d![i]! : 0;
    return out;
  });
}

/** `y·(dy − Σ_last dy·y)` per row of the last axis. Inputs `dy`, `y` (the softmax output). */
export function createSoftmaxGradKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend }) => {
    const [dy, y, rows, width] = rowPair(inputs, 'dy', 'y', SOFTMAX_GRAD);
    const out = backend.makeOutput([...dy.shape], 'float32');
    const [d, s, o] = views(backend, dy, y, out);
    for (let r = 0, base = 0; r < rows; r++, base += width) {
      let dot = 0;
      for (let j = 0; j < width; j++) dot += d![base + j]! * s![base + j]!;
      for (let j = 0; j < width; j++) o![base + j] = s![base + j]! * (d![base + j]! - dot);
    }
    return out;
  });
}

/** `dy` ([…, n]) summed over every axis but the last: output [n]. Input `dy`. */
export function createBiasGradKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend }) => {
    const dy = float32Input(inputs, 'dy', BIAS_GRAD);
    const [rows, width] = rowsAndWidth(dy, BIAS_GRAD);
    const out = backend.makeOutput([width], 'float32');
    const loops = width % 4 === 0 ? heapSimdLoopsOf(backend) : undefined;
    if (loops !== undefined) {
      loops.sumRows(heapOffset(backend, dy), heapOffset(backend, out), rows, width * 4);
      return out;
    }
    const [d, o] = views(backend, dy, out);
    const sums = new Float64Array(width);
    for (let r = 0, base = 0; r < rows; r++, base += width) {
      for (let j = 0; j < width; j++) sums[j]! += d![base + j]!;
    }
    o!.set(sums);
    return out;
  });
}

/** Per row: `−Σ y·log(clip(p / Σp, ε, 1 − ε))`. Inputs `yTrue`, `yPred` ([..., classes], same shape); output [rows]. */
export function createCategoricalCrossentropyKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend }) => {
    const [yTrue, yPred, rows, width] = rowPair(inputs, 'yTrue', 'yPred', CATEGORICAL_CROSSENTROPY);
    const out = backend.makeOutput(yPred.shape.slice(0, -1), 'float32');
    const [t, p, o] = views(backend, yTrue, yPred, out);
    for (let r = 0, base = 0; r < rows; r++, base += width) {
      let sum = 0;
      for (let j = 0; j < width; j++) sum += p![base + j]!;
      let loss = 0;
      for (let j = 0; j < width; j++) loss -= t![base + j]! * Math.log(clip(p![base + j]! / sum));
      o![r] = loss;
    }
    return out;
  });
}

/**
 * The gradient of {@link CATEGORICAL_CROSSENTROPY} scaled per row by `dy`: outputs `[dYTrue, dYPred]`. With
 * `r = p / Σp` and `q = clip(r)`: `dYTrue = −dy·log q`; `dq = −dy·y / q`, passed where `ε ≤ r ≤ 1 − ε` (the clip's
 * gradient); `dYPred_k = dr_k / Σp − Σ_j dr_j·p_j / (Σp)²`. Inputs `dy` ([rows]), `yTrue`, `yPred`.
 */
export function createCategoricalCrossentropyGradKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend }) => {
    const dy = float32Input(inputs, 'dy', CATEGORICAL_CROSSENTROPY_GRAD);
    const [yTrue, yPred, rows, width] = rowPair(inputs, 'yTrue', 'yPred', CATEGORICAL_CROSSENTROPY_GRAD);
    const dySize = dy.shape.reduce((a, b) => a * b, 1);
    if (dySize !== rows) throw new Error(`${CATEGORICAL_CROSSENTROPY_GRAD}: dy has ${dySize} values for ${rows} rows`);
    const dTrue = backend.makeOutput([...yTrue.shape], 'float32');
    const dPred = backend.makeOutput([...yPred.shape], 'float32');
    const [g, t, p, oTrue, oPred] = views(backend, dy, yTrue, yPred, dTrue, dPred);
    const dr = new Float64Array(width);
    for (let r = 0, base = 0; r < rows; r++, base += width) {
      const gr = g![r]!;
      let sum = 0;
      for (let j = 0; j < width; j++) sum += p![base + j]!;
      let weighted = 0;
      for (let j = 0; j < width; j++) {
        const ratio = p![base + j]! / sum;
        const q = clip(ratio);
        oTrue![base + j] = -gr * Math.log(q);
        // ClipByValue's gradient passes where min ≤ x ≤ max (NaN blocks it), as tfjs' does.
        const d = ratio >= EPSILON && ratio <= 1 - EPSILON ? (-gr * t![base + j]!) / q : 0;
        dr[j] = d;
        weighted += d * p![base + j]!;
      }
      const correction = weighted / (sum * sum);
      for (let j = 0; j < width; j++) oPred![base + j] = dr[j]! / sum - correction;
    }
    return [dTrue, dPred];
  });
}

/**
 * Per row: 1 where the first maximum of `yTrue` and of `yPred` are at the same index, else 0. Output [rows]. (Framed
 * like the cross-entropy kernel — rowPair, one output per row — but the per-row work differs, so only the reading is
 * shared.)
 */
export function createCategoricalAccuracyKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend }) => {
    const [yTrue, yPred, rows, width] = rowPair(inputs, 'yTrue', 'yPred', CATEGORICAL_ACCURACY);
    const out = backend.makeOutput(yPred.shape.slice(0, -1), 'float32');
    const [t, p, o] = views(backend, yTrue, yPred, out);
    for (let r = 0, base = 0; r < rows; r++, base += width) {
      o![r] = argMax(t!, base, width) === argMax(p!, base, width) ? 1 : 0;
    }
    return out;
  });
}

function clip(value: number): number {
  // Math.min/max propagate NaN, as tfjs' clipByValue does.
  return Math.min(Math.max(value, EPSILON), 1 - EPSILON);
}

/** Index of the first maximum (tfjs' argMax keeps the first of equal values). */
function argMax(values: Float32Array, base: number, width: number): number {
  let best = 0;
  let max = values[base]!;
  for (let j = 1; j < width; j++) {
    const v = values[base + j]!;
    if (v > max) {
      max = v;
      best = j;
    }
  }
  return best;
}
