/**
 * What the LSTM's and the GRU's whole-sequence kernels do alike: reading and checking their inputs, the geometry of
 * the call, one {@link RecurrentHeap} per call with its outputs freed on a failure, the time index of each processed
 * step, and the weight-gradient GEMMs. The gate math stays per cell (`lstm-sequence-kernels.ts`,
 * `gru-sequence-kernels.ts`).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { requireInput, type WasmBackendLike, type WasmKernelArgs } from '../kernels/wasm-kernel-types.js';
import { activationCode, dims, expectShape, RecurrentHeap, type RecurrentNativeKernels, viewAs } from './recurrent-heap.js';

/** The sizes and attrs of one whole-sequence call: B, T, D, H, the gate width G (gates × H) and the activations. */
export interface SequenceGeometry {
  readonly batch: number;
  readonly steps: number;
  readonly inputDim: number;
  readonly units: number;
  /** The width of the gate axis: `gateCount × units` (4H for the LSTM, 3H for the GRU). */
  readonly gateWidth: number;
  readonly act: number;
  readonly ract: number;
  readonly goBackwards: boolean;
}

/** Reads B, T, D and H from `x` [B,T,D] and `recurrentKernel` [H, gateCount·H], and the attrs' activations. */
export function sequenceGeometry(
  x: TensorInfo,
  recurrentKernel: TensorInfo,
  attrs: WasmKernelArgs['attrs'],
  kernelName: string,
  gateCount: number,
): SequenceGeometry {
  const [batch = 0, steps = 0, inputDim = 0] = dims(x, 3, 'x', kernelName);
  const [units = 0] = dims(recurrentKernel, 2, 'recurrentKernel', kernelName);
  expectShape(recurrentKernel, [units, gateCount * units], 'recurrentKernel', kernelName);
  if (steps < 1) throw new Error(`${kernelName}: input 'x' has no time steps (shape [${x.shape.join(',')}])`);
  return {
    batch,
    steps,
    inputDim,
    units,
    gateWidth: gateCount * units,
    act: activationCode(attrs['activation'], 'activation', kernelName),
    ract: activationCode(attrs['recurrentActivation'], 'recurrentActivation', kernelName),
    goBackwards: attrs['goBackwards'] === true,
  };
}

/** The required inputs every whole-sequence kernel reads (the forward kernel's, and part of the backward's). */
type SharedKey = 'x' | 'kernel' | 'recurrentKernel' | 'h0';

/**
 * Reads the inputs named by `keys` (in that order, so a missing one is reported as before) plus the optional `bias`,
 * computes the geometry from `x` and `recurrentKernel`, then checks `kernel` [D,G], `h0` [B,H], the shapes `shapes`
 * gives the other inputs (in its order), and `bias` [G].
 */
export function sequenceInputs<K extends string>(
  args: WasmKernelArgs,
  kernelName: string,
  gateCount: number,
  keys: readonly (K | SharedKey)[],
  shapes: (g: SequenceGeometry) => ReadonlyArray<readonly [K | 'kernel' | 'h0', number[]]>,
): { readonly inputs: Record<K | SharedKey, TensorInfo>; readonly bias: TensorInfo | undefined; readonly geometry: SequenceGeometry } {
  const inputs = {} as Record<K | SharedKey, TensorInfo>;
  for (const key of keys) inputs[key] = requireInput(args.inputs, key, kernelName);
  const bias = args.inputs['bias'];
  const geometry = sequenceGeometry(inputs.x, inputs.recurrentKernel, args.attrs, kernelName, gateCount);
  for (const [key, shape] of shapes(geometry)) expectShape(inputs[key], shape, key, kernelName);
  if (bias !== undefined) expectShape(bias, [geometry.gateWidth], 'bias', kernelName);
  return { inputs, bias, geometry };
}

/**
 * Runs one kernel call's body on a fresh {@link RecurrentHeap}: the body pushes each kernel output it makes onto
 * `outputs` as soon as it exists, so a failure part-way disposes them; the heap's intermediates are freed either way.
 */
export function onRecurrentHeap(
  backend: WasmBackendLike,
  native: RecurrentNativeKernels,
  body: (heap: RecurrentHeap, outputs: TensorInfo[]) => TensorInfo[],
): TensorInfo[] {
  const heap = new RecurrentHeap(backend, native);
  const outputs: TensorInfo[] = [];
  try {
    return body(heap, outputs);
  } catch (error) {
    for (const info of outputs) backend.disposeData(info.dataId);
    throw error;
  } finally {
    heap.disposeTemps();
  }
}

/** The time index read at processing step `s` (processing order runs backwards in time under `goBackwards`). */
export function timeIndex(g: SequenceGeometry, s: number): number {
  return g.goBackwards ? g.steps - 1 - s : s;
}

/** x·W + b for every time step at once: one GEMM `[1, B·T, D]·[1, D, G]` (+ bias), rows aligned with x's `[B·T]` rows. */
export function inputProjection(heap: RecurrentHeap, g: SequenceGeometry, x: TensorInfo, kernel: TensorInfo, bias: TensorInfo | undefined): TensorInfo {
  const { batch: B, steps: T, inputDim: D, gateWidth: G } = g;
  return heap.matMulBias(viewAs(x, [1, B * T, D]), heap.copy(kernel, [1, D, G]), bias);
}

/** Copies the first `count` floats of `src` into `dst` (both on the heap). */
export function copyFloats(heap: RecurrentHeap, dst: TensorInfo, src: TensorInfo, count: number): void {
  const from = heap.offset(src);
  heap.f32().copyWithin(heap.offset(dst), from, from + count);
}

/**
 * Input widths up to which Xᵀ·dZ runs on the SIMD column loop rather than a GEMM. Measured for 2048 rows and 4H = 256
 * (loop + row sums vs two XNNPACK GEMMs with dZ new, so packed): D = 8: 0.48 vs 2.6 ms, 16: 0.90 vs 2.2, 32: 1.8 vs
 * 3.0, 64: 3.8 vs 4.4 — the loop's cost grows with D, the GEMMs' mostly with dZ; 16 keeps a wide margin.
 */
const NARROW_INPUT = 16;

/**
 * dW = Xᵀ·dZ and dBias = Σ rows of dZ, one GEMM each (kernel outputs, not temps). dx = dZ·Wᵀ is left to the
 * registered gradient, which computes it only when the input needs a gradient (not for a model's first layer).
 */
export function weightGradients(
  heap: RecurrentHeap,
  p: { x: TensorInfo; dZ: TensorInfo; B: number; T: number; D: number; G: number },
): [TensorInfo, TensorInfo] {
  const { x, dZ, B, T, D, G } = p;
  const rows = B * T;
  // A narrow input (the bench LSTM's 4 features) on the SIMD loops: dZ read in place, not packed for a GEMM.
  const narrow = D <= NARROW_INPUT ? heap.columnProducts(x, dZ, rows, D, G) : undefined;
  if (narrow !== undefined) return narrow;
  const dKernel = heap.matMul(heap.transposed(x, rows, D), dZ);
  const ones = heap.temp([1, 1, rows]);
  heap.f32().fill(1, heap.offset(ones), heap.offset(ones) + rows);
  const dBias = heap.matMul(ones, dZ);
  return [heap.settle(dKernel, [D, G]), heap.settle(dBias, [G])];
}
