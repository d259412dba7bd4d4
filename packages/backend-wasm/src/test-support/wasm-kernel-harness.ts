/**
 * Test support for the wasm kernels (imported by the colocated `*.test.ts` files only).
 *
 * References come from two independent sources: tfjs' cpu backend running the same kernel on the same random
 * inputs, and direct-loop implementations of the gradient formulas below for the attributes the cpu kernels ignore
 * (the cpu conv gradient kernels assume dilation 1).
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import '@tensorflow/tfjs-backend-wasm';
import { convGradientGeometry, type ConvGradientGeometry } from '../internal/kernels/conv-gradient-geometry.js';
import { installWasmKernels } from '../internal/install-wasm-kernels.js';

export { tf };

/** A tensor as plain data, so it can be created on any backend. */
export interface HostTensor {
  readonly values: Float32Array | Int32Array;
  readonly shape: number[];
  readonly dtype?: 'float32' | 'int32';
}

/** Initialises cpu (for references) and wasm, installs the kernels and leaves wasm active. */
export async function setUpWasmWithKernels(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
  installWasmKernels(tf);
}

/** Runs `fn` with `backend` active and switches back to the previous backend afterwards. */
export async function onBackend<T>(backend: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    return fn();
  } finally {
    await tf.setBackend(previous);
  }
}

/** Deterministic uniform values in [-1, 1) (mulberry32), so failures reproduce. */
export function randomValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** A random float32 {@link HostTensor}. */
export function randomTensor(shape: number[], seed: number): HostTensor {
  return { values: randomValues(shape.reduce((a, b) => a * b, 1), seed), shape };
}

/** Runs one kernel through the engine on the active backend and returns its output as host data. */
export function runKernelOnHost(
  kernelName: string,
  inputs: Record<string, HostTensor>,
  attrs: tf.NamedAttrMap,
): { values: Float32Array | Int32Array; shape: number[] } {
  return tf.tidy(() => {
    const tensors: tf.NamedTensorMap = {};
    for (const [name, host] of Object.entries(inputs)) {
      tensors[name] = tf.tensor(host.values, host.shape, host.dtype ?? 'float32');
    }
    const out = tf.engine().runKernel<tf.Tensor>(kernelName, tensors, attrs);
    return { values: out.dataSync() as Float32Array | Int32Array, shape: out.shape };
  });
}

/** Runs `kernelName` on cpu and on wasm with the same inputs. */
export async function runOnBoth(
  kernelName: string,
  inputs: Record<string, HostTensor>,
  attrs: tf.NamedAttrMap,
): Promise<{ cpu: ReturnType<typeof runKernelOnHost>; wasm: ReturnType<typeof runKernelOnHost> }> {
  const cpu = await onBackend('cpu', () => runKernelOnHost(kernelName, inputs, attrs));
  const wasm = await onBackend('wasm', () => runKernelOnHost(kernelName, inputs, attrs));
  return { cpu, wasm };
}

/** Normwise relative error ‖actual − expected‖∞ / ‖expected‖∞ (0 when both are all zeros). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    return Number.POSITIVE_INFINITY;
  }
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] ?? Number.NaN;
    const e = expected[i] ?? Number.NaN;
    const diff = Math.abs(a - e);
    maxDiff = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.max(maxDiff, diff);
    maxRef = Math.max(maxRef, Math.abs(e));
  }
  return maxDiff === 0 ? 0 : maxDiff / (maxRef === 0 ? 1 : maxRef);
}

/** Tracks the worst relative error seen by a test file, for the report line it prints. */
export class WorstError {
  #worst = 0;
  #where = 'none';

  record(error: number, where: string): number {
    if (error > this.#worst || this.#where === 'none') {
      this.#worst = Math.max(error, this.#worst);
      this.#where = where;
    }
    return error;
  }

  toString(): string {
    return `${this.#worst.toExponential(2)} (${this.#where})`;
  }
}

/** Heap buffers held by the active backend: unlike `tf.memory().numTensors`, this also sees leaked intermediates. */
export function backendDataIds(): number {
  return tf.engine().backend.numDataIds();
}

/**
 * Runs `fn` once (a warm-up: caches and packed operands may stay), then `repeats` more times, and expects neither the
 * engine's tensor count nor the backend's heap buffers ({@link backendDataIds}) to have grown: the kernels' leak check.
 */
export function expectNoLeak(fn: () => unknown, repeats: number): void {
  fn();
  const tensors = tf.memory().numTensors;
  const buffers = backendDataIds();
  for (let i = 0; i < repeats; i++) fn();
  expect(tf.memory().numTensors).toBe(tensors);
  expect(backendDataIds()).toBe(buffers);
}

/** Geometry of a forward conv, via the same helper the kernels use (tested independently by the cpu comparisons). */
export function geometry(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
  depthwise: boolean,
): ConvGradientGeometry {
  return convGradientGeometry(tf, 'reference', xShape, filterShape, attrs, depthwise);
}

/**
 * Direct-loop Conv2D / depthwise gradient references (NHWC). For depthwise, `outChannels = C·M` and channel `c·M+m`
 * of dy pairs with filter `[.., c, m]`.
 */
export function referenceConvGradients(
  g: ConvGradientGeometry,
  depthwise: boolean,
): {
  filter(x: Float32Array, dy: Float32Array): Float32Array;
  input(dy: Float32Array, w: Float32Array): Float32Array;
} {
  const { batch, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: CO } = g;
  const { filterHeight: KH, filterWidth: KW, padTop, padLeft } = g;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const multiplier = CO / C;
  const wCols = depthwise ? multiplier : CO;
  // Visits every (x element, dy element, filter element) triple the forward conv multiplies together.
  const forEachTap = (visit: (xIndex: number, dyIndex: number, wIndex: number) => void): void => {
    for (let b = 0; b < batch; b++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          for (let kh = 0; kh < KH; kh++) {
            const h = oh * sh + kh * dh - padTop;
            if (h < 0 || h >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const w = ow * sw + kw * dw - padLeft;
              if (w < 0 || w >= W) continue;
              for (let ci = 0; ci < C; ci++) {
                const xIndex = ((b * H + h) * W + w) * C + ci;
                for (let j = 0; j < wCols; j++) {
                  const co = depthwise ? ci * multiplier + j : j;
                  visit(xIndex, ((b * OH + oh) * OW + ow) * CO + co, ((kh * KW + kw) * C + ci) * wCols + j);
                }
              }
            }
          }
        }
      }
    }
  };
  return {
    filter(x, dy) {
      const dW = new Float64Array(KH * KW * C * wCols);
      forEachTap((xi, di, wi) => {
        dW[wi] = (dW[wi] ?? 0) + (x[xi] ?? 0) * (dy[di] ?? 0);
      });
      return Float32Array.from(dW);
    },
    input(dy, w) {
      const dx = new Float64Array(batch * H * W * C);
      forEachTap((xi, di, wi) => {
        dx[xi] = (dx[xi] ?? 0) + (dy[di] ?? 0) * (w[wi] ?? 0);
      });
      return Float32Array.from(dx);
    },
  };
}

/**
 * op(a)·op(b) of 2-D (or one-batch) operands, each element Σ over k in order from 0 in float32: the sums the own SIMD
 * loops make (narrow-mat-mul.ts, the GEMM's micro-kernel), bit for bit. XNNPACK blocks k differently.
 */
export function float32Product(a: HostTensor, b: HostTensor, transposeA: boolean, transposeB: boolean): Float32Array {
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [a1, a0] : [a0, a1];
  const n = transposeB ? b0 : b1;
  const out = new Float32Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let kk = 0; kk < k; kk++) {
        const x = a.values[transposeA ? kk * m + r : r * k + kk] ?? 0;
        const y = b.values[transposeB ? j * k + kk : kk * n + j] ?? 0;
        sum = Math.fround(sum + Math.fround(x * y));
      }
      out[r * n + j] = sum;
    }
  }
  return out;
}

/** The softmax cross-entropy's gradients with respect to every trainable weight, and the kernels that ran, on the active backend. */
export async function lossGradients(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<{ grads: Float32Array[]; kernels: string[] }> {
  let grads: Float32Array[] = [];
  const info = await tf.profile(() => {
    grads = tf.tidy(() => {
      const { grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar);
      return model.trainableWeights.map((w) => g[w.originalName]!.dataSync() as Float32Array);
    });
  });
  return { grads, kernels: info.kernelNames };
}

/** Trains `model` five SGD steps on (x, y) and expects no tensor and no heap buffer to outlive the first (a layer path's leak check). */
export function expectTrainingHoldsNothing(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): void {
  const optimizer = tf.train.sgd(0.1);
  try {
    expectNoLeak(() => tf.tidy(() => void optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar)), 4);
  } finally {
    optimizer.dispose();
  }
}
