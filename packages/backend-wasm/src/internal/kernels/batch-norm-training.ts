/**
 * Batch normalisation in training as two kernels: the forward statistics + normalisation, and the whole backward.
 *
 * tfjs-layers' `BatchNormalization` trains through `tf.moments` and `tf.batchNorm`, and tfjs' gradients of those are
 * ≈ 45 kernels per step (means, squares, differences, a `Tile` of the per-channel factor to the full activation, six
 * sums, …) each a full pass over the activation plus a dispatch and an allocation — about a quarter of a small CNN's
 * step on wasm. With the input's channels last (the layer's default `axis: -1`), the statistics are per channel over
 * every other axis, and the exact gradient of the training-mode output y = γ·(x − μ)/√(σ² + ε) + β, with μ and σ²
 * the batch mean and (biased) variance, is
 *
 *   x̂ = (x − μ)·s,  s = 1/√(σ² + ε)
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·s·(dy − dβ/R − x̂·dγ/R)     (sums over the R positions of each channel)
 *
 * (the same function tfjs differentiates op by op: its `moments` stops the gradient through the mean inside the
 * variance, which changes nothing because Σ(x − μ) = 0). `FitstreamBatchNormTrain` returns y, μ and σ² in two
 * passes over x (statistics, output); `FitstreamBatchNormTrainGrad` returns dx, dγ, dβ in two passes over x and dy.
 * Sums are accumulated in float64 (tfjs' op chain sums in float32; the two agree to float32 rounding), on the SIMD
 * loops of channel-sums-simd.ts when the channels are a multiple of 4, else in JavaScript (the same sums bit for bit);
 * the output and dx passes, per-channel affine maps, run on the heap SIMD loop `channelAffine` (heap-simd-loops.ts)
 * when the channels are a multiple of 4. On this 2-core box under shared load the layer's forward + backward on
 * [64,14,14,16] takes 16 ms against 28 ms for tfjs' op chain (interleaved, medians of 12), ≈ 40 fewer dispatches.
 *
 * The layer uses them through its class's `call`, wrapped while the kernels are installed: in training, on wasm, with
 * the channels axis last, a float32 input and both γ and β, the wrapped `call` runs the fused kernel and then updates
 * the moving statistics with exactly the layer's own ops; everything else runs the layer's own `call`.
 */
import type { KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs';
import { heapOffset, heapSimdLoopsOf, type HeapSimdLoops } from './heap-simd-loops.js';
import { type ChannelSums, channelSums } from './channel-sums-simd.js';
import { LayerCallPatch } from './layer-call-patch.js';
import { passUnreachedAsNull } from './unreached-gradients.js';
import { requireInput, type Tf, toKernelFunc, type WasmBackendLike, type WasmKernelArgs } from './wasm-kernel-types.js';

export const BATCH_NORM_TRAIN = 'FitstreamBatchNormTrain';
export const BATCH_NORM_TRAIN_GRAD = 'FitstreamBatchNormTrainGrad';

/** Rows (positions) and channels of a channels-last tensor. */
function rowsAndChannels(shape: readonly number[], kernel: string): [number, number] {
  const channels = shape[shape.length - 1];
  if (shape.length < 2 || channels === undefined || channels === 0) {
    throw new Error(`${kernel}: expected a channels-last tensor of rank ≥ 2 with channels, got shape [${shape.join(',')}]`);
  }
  return [shape.reduce((a, b) => a * b, 1) / channels, channels];
}

function requireFloat32(infos: readonly TensorInfo[], kernel: string): void {
  for (const info of infos) {
    if (info.dtype !== 'float32') throw new Error(`${kernel}: float32 inputs expected, got ${info.dtype}`);
  }
}

/**
 * What both kernels read and allocate first: the float32 inputs named by `keys` (x among them), `epsilon`, x's rows and
 * channels, and the three outputs `[x.shape]`, `[C]`, `[C]` (allocated before any view: an allocation may grow, and so
 * detach, the wasm memory).
 */
function batchNormCall<K extends string>(
  { inputs, backend, attrs }: WasmKernelArgs,
  kernelName: string,
  keys: readonly (K | 'x')[],
): { inputs: Record<K | 'x', TensorInfo>; epsilon: number; rows: number; channels: number; outputs: [TensorInfo, TensorInfo, TensorInfo] } {
  const read = {} as Record<K | 'x', TensorInfo>;
  for (const key of keys) read[key] = requireInput(inputs, key, kernelName);
  requireFloat32(keys.map((key) => read[key]), kernelName);
  const x = read.x;
  const [rows, channels] = rowsAndChannels(x.shape, kernelName);
  const outputs: [TensorInfo, TensorInfo, TensorInfo] = [
    backend.makeOutput([...x.shape], 'float32'),
    backend.makeOutput([channels], 'float32'),
    backend.makeOutput([channels], 'float32'),
  ];
  return { inputs: read, epsilon: attrs['epsilon'] as number, rows, channels, outputs };
}

function view(backend: WasmBackendLike, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/**
 * A zeroed, 16-byte aligned block of `arrays` × C float64 on the heap and the SIMD sums that read and write it.
 * `run` writes `inputs` at the block's start, calls `sums` with the block's byte offset, frees the block and returns
 * the per-channel arrays that follow the inputs (copies).
 */
interface F64Block {
  run(inputs: ArrayLike<number>[], call: (sums: ChannelSums, at: number) => void): Float64Array[];
}

/**
 * A block for the SIMD sums (channel-sums-simd.ts), or undefined where they do not run (no SIMD, channels not a multiple
 * of 4): the caller then runs its JavaScript loop. Allocate it before taking any view (the allocation may grow the
 * memory), and take no other allocation between this and `run` (the block's view would detach).
 */
function f64Block(backend: WasmBackendLike, sums: ChannelSums | undefined, arrays: number, channels: number): F64Block | undefined {
  if (sums === undefined || channels % 4 !== 0) return undefined;
  // float32 tensors are only 4-byte aligned: 3 spare floats let the block start on a 16-byte boundary.
  const scratch = backend.makeOutput([2 * arrays * channels + 3], 'float32');
  const raw = view(backend, scratch);
  const offset = Math.ceil(raw.byteOffset / 16) * 16;
  const values = new Float64Array(raw.buffer, offset, arrays * channels).fill(0);
  return {
    run: (inputs, call) => {
      try {
        inputs.forEach((input, i) => values.set(input, i * channels));
        call(sums, offset);
        return Array.from({ length: arrays - inputs.length }, (_, i) => values.slice((inputs.length + i) * channels, (inputs.length + i + 1) * channels));
      } finally {
        backend.disposeData(scratch.dataId);
      }
    },
  };
}

/**
 * out = u·p − (v − m)·q + t per channel on the heap SIMD loop (`channelAffine`), when it runs and the channels are a
 * multiple of 4; returns false otherwise (the caller then runs its scalar loop).
 */
function simdAffine(
  backend: WasmBackendLike,
  loops: HeapSimdLoops | undefined,
  [u, v, out]: readonly [TensorInfo, TensorInfo, TensorInfo],
  params: readonly [Float64Array, Float64Array, Float64Array, Float64Array],
  rows: number,
  channels: number,
): boolean {
  if (loops === undefined || channels % 4 !== 0) return false;
  const packed = backend.makeOutput([4 * channels], 'float32');
  try {
    // The view after the allocation.
    const values = view(backend, packed);
    params.forEach((param, i) => values.set(param, i * channels));
    loops.channelAffine(heapOffset(backend, u), heapOffset(backend, v), heapOffset(backend, out), heapOffset(backend, packed), rows, channels * 4);
  } finally {
    backend.disposeData(packed.dataId);
  }
  return true;
}

/** Inputs `x` `[…, C]`, `scale` `[C]`, `offset` `[C]`; attr `epsilon`. Outputs y, mean `[C]`, variance `[C]`. */
export function createBatchNormTrainKernel(): KernelFunc {
  return toKernelFunc((args) => {
    const { backend } = args;
    const { inputs, epsilon, rows, channels, outputs } = batchNormCall(args, BATCH_NORM_TRAIN, ['x', 'scale', 'offset']);
    const { x, scale, offset } = inputs;
    const [y, meanOut, varianceOut] = outputs;
    // The sums' scratch block before any view (an allocation may grow, and so detach, the wasm memory).
    const block = f64Block(backend, channelSums.of(backend), 3, channels);
    const xs = view(backend, x);
    const ys = view(backend, y);
    const gamma = view(backend, scale);
    const beta = view(backend, offset);
    // One pass for both statistics: sums of x − K and (x − K)² in float64, shifted by each channel's first value K so
    // that a large mean does not cancel (float32 squares are exact in float64).
    const shiftBy = Float64Array.from(xs.subarray(0, channels));
    let sum: Float64Array;
    let squares: Float64Array;
    if (block !== undefined) {
      // [shift, Σd, Σd²] on the SIMD loop: the JavaScript loop's operations in its order, so the same sums. (The
      // backward's Σdy, Σdy·x̂ below have this same SIMD-or-loop shape over different sums.)
      [sum, squares] = block.run([shiftBy], (sums, at) => sums.channelMoments(heapOffset(backend, x), at, at + 8 * channels, rows, channels * 4)) as [
        Float64Array,
        Float64Array,
      ];
    } else {
      sum = new Float64Array(channels);
      squares = new Float64Array(channels);
      for (let base = 0; base < xs.length; base += channels) {
        for (let c = 0; c < channels; c++) {
          const d = xs[base + c]! - shiftBy[c]!;
          sum[c]! += d;
          squares[c]! += d * d;
        }
      }
    }
    const mean = new Float64Array(channels);
    for (let c = 0; c < channels; c++) mean[c] = Math.fround(shiftBy[c]! + sum[c]! / rows);
    const factor = new Float64Array(channels);
    const shift = new Float64Array(channels);
    const means = view(backend, meanOut);
    const variances = view(backend, varianceOut);
    for (let c = 0; c < channels; c++) {
      const centred = sum[c]! / rows;
      const variance = Math.fround(Math.max(0, squares[c]! / rows - centred * centred));
      means[c] = mean[c]!;
      variances[c] = variance;
      // y = (x − μ)·γ·s + β = x·factor + shift
      factor[c] = gamma[c]! / Math.sqrt(variance + epsilon);
      shift[c] = beta[c]! - mean[c]! * factor[c]!;
    }
    // y = x·0 − (x − μ)·(−γs) + β on the SIMD loop, else the scalar loop.
    const negFactor = factor.map((f) => -f);
    const betas = Float64Array.from(beta);
    if (!simdAffine(backend, heapSimdLoopsOf(backend), [x, x, y], [new Float64Array(channels), mean, negFactor, betas], rows, channels)) {
      for (let base = 0; base < xs.length; base += channels) {
        for (let c = 0; c < channels; c++) ys[base + c] = xs[base + c]! * factor[c]! + shift[c]!;
      }
    }
    return [y, meanOut, varianceOut];
  });
}

/** Inputs `dy`, `x`, `scale`, `mean`, `variance`; attr `epsilon`. Outputs dx, dScale `[C]`, dOffset `[C]`. */
export function createBatchNormTrainGradKernel(): KernelFunc {
  return toKernelFunc((args) => {
    const { backend } = args;
    const { inputs, epsilon, rows, channels, outputs } = batchNormCall(args, BATCH_NORM_TRAIN_GRAD, ['dy', 'x', 'scale', 'mean', 'variance']);
    const { dy, x, scale, mean: meanIn, variance: varianceIn } = inputs;
    const [dxOut, dScaleOut, dOffsetOut] = outputs;
    // The sums' scratch block before any view (an allocation may grow, and so detach, the wasm memory).
    const block = f64Block(backend, channelSums.of(backend), 4, channels);
    const xs = view(backend, x);
    const dys = view(backend, dy);
    const dxs = view(backend, dxOut);
    const gamma = view(backend, scale);
    const mean = view(backend, meanIn);
    const variance = view(backend, varianceIn);
    if (dys.length !== xs.length) throw new Error(`${BATCH_NORM_TRAIN_GRAD}: dy has ${dys.length} values but x has ${xs.length}`);
    const invStd = new Float64Array(channels);
    for (let c = 0; c < channels; c++) invStd[c] = 1 / Math.sqrt(variance[c]! + epsilon);
    let sumDy: Float64Array;
    let sumDyXhat: Float64Array;
    if (block !== undefined) {
      // [μ, s, Σdy, Σdy·x̂] on the SIMD loop: the JavaScript loop's operations in its order, so the same sums. (The
      // forward's statistics above have this same SIMD-or-loop shape over different sums.)
      const oDy = heapOffset(backend, dy);
      const oX = heapOffset(backend, x);
      [sumDy, sumDyXhat] = block.run([mean, invStd], (sums, at) => sums.channelGradSums(oDy, oX, at, at + 16 * channels, rows, channels * 4)) as [
        Float64Array,
        Float64Array,
      ];
    } else {
      sumDy = new Float64Array(channels);
      sumDyXhat = new Float64Array(channels);
      for (let base = 0; base < xs.length; base += channels) {
        for (let c = 0; c < channels; c++) {
          const g = dys[base + c]!;
          sumDy[c]! += g;
          sumDyXhat[c]! += g * (xs[base + c]! - mean[c]!) * invStd[c]!;
        }
      }
    }
    // dx = k·(dy − a − x̂·b) with k = γ·s, a = Σdy/R, b = Σdy·x̂/R, x̂ = (x − μ)·s
    const k = new Float64Array(channels);
    const a = new Float64Array(channels);
    const b = new Float64Array(channels);
    const dScale = view(backend, dScaleOut);
    const dOffset = view(backend, dOffsetOut);
    for (let c = 0; c < channels; c++) {
      k[c] = gamma[c]! * invStd[c]!;
      a[c] = sumDy[c]! / rows;
      b[c] = (sumDyXhat[c]! / rows) * invStd[c]!;
      dScale[c] = sumDyXhat[c]!;
      dOffset[c] = sumDy[c]!;
    }
    // dx = dy·k − (x − μ)·(k·b) − k·a on the SIMD loop, else the scalar loop.
    const kb = k.map((kc, c) => kc * b[c]!);
    const negKa = k.map((kc, c) => -kc * a[c]!);
    if (!simdAffine(backend, heapSimdLoopsOf(backend), [dy, x, dxOut], [k, Float64Array.from(mean), kb, negKa], rows, channels)) {
      for (let base = 0; base < xs.length; base += channels) {
        for (let c = 0; c < channels; c++) {
          dxs[base + c] = k[c]! * (dys[base + c]! - a[c]! - (xs[base + c]! - mean[c]!) * b[c]!);
        }
      }
    }
    return [dxOut, dScaleOut, dOffsetOut];
  });
}

let gradientRegistered = false;

/**
 * Whether a per-channel gradient is present and not all zeros: null where the fused call passed it through
 * (unreached-gradients.ts), else a `[C]` read, cheap next to the passes it saves.
 */
function reachesLoss(d: Tensor | null | undefined): d is Tensor {
  return d != null && (d.dataSync() as Float32Array).some((v) => v !== 0);
}

/**
 * Registers the gradient of {@link BATCH_NORM_TRAIN} once per process (it only runs where the forward kernel ran).
 * Gradients arriving at the mean and variance outputs are added with tfjs ops: d/dx of μ is 1/R, of σ² is 2(x − μ)/R.
 * The layer only feeds them to its moving averages, which do not reach a loss: the fused call passes their
 * gradients as null (unreached-gradients.ts), and where tfjs' zeros arrive instead they are skipped too — three full
 * passes over the activation (≈ 0.75 ms of the bench's small-CNN step) that added zero.
 */
export function registerBatchNormTrainingGradient(tf: Tf): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dMean, dVariance] = dys as Array<Tensor | null>;
      const [x, scale, mean, variance] = saved as [Tensor, Tensor, Tensor, Tensor];
      const [dx, dScale, dOffset] = tf.engine().runKernel(
        BATCH_NORM_TRAIN_GRAD,
        { dy: dy ?? tf.zerosLike(x), x, scale, mean, variance },
        attrs as NamedAttrMap,
      ) as [Tensor, Tensor, Tensor];
      const rows = x.size / mean.size;
      let total = dx;
      if (reachesLoss(dMean)) total = tf.add(total, tf.div(dMean, rows));
      if (reachesLoss(dVariance)) total = tf.add(total, tf.mul(tf.sub(x, mean), tf.div(tf.mul(dVariance, 2), rows)));
      return { x: () => total, scale: () => dScale, offset: () => dOffset };
    },
  });
  gradientRegistered = true;
}

// ---------------------------------------------------------------------------------------------------------------
// The layer class's `call`.

interface LayerVariableLike {
  read(): Tensor;
  write(value: Tensor): unknown;
}

interface BatchNormLayerLike {
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly gamma: LayerVariableLike | null;
  readonly beta: LayerVariableLike | null;
  readonly movingMean: LayerVariableLike;
  readonly movingVariance: LayerVariableLike;
}

const patch = new LayerCallPatch();

/** Wraps `BatchNormalization.prototype.call` (idempotent); see the module comment. */
export function patchBatchNormLayer(tf: Tf): void {
  patch.wrapSingleInput<BatchNormLayerLike>(tf, 'BatchNormalization', BATCH_NORM_TRAIN, (layer, x, kwargs) => {
    if (kwargs?.['training'] !== true || x.rank < 2 || (layer.axis !== -1 && layer.axis !== x.rank - 1) || layer.gamma == null || layer.beta == null) return undefined;
    const { gamma, beta, movingMean, movingVariance, momentum, epsilon } = layer;
    return tf.tidy(() => {
      const [normed, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN, { x, scale: gamma.read(), offset: beta.read() }, { epsilon }) as [
        Tensor,
        Tensor,
        Tensor,
      ];
      // μ and σ² feed only the moving averages: their gradients arrive as null, not as zeros (unreached-gradients.ts).
      passUnreachedAsNull(tf, BATCH_NORM_TRAIN, [normed, mean, variance], { epsilon });
      // The layer's own moving-average update, op for op.
      const doMovingAverage = (variable: LayerVariableLike, value: Tensor): void => {
        tf.tidy(() => {
          const decay = 1 - momentum;
          const origValue = variable.read();
          const updateDelta = tf.mul(tf.sub(origValue, value), decay);
          variable.write(tf.sub(origValue, updateDelta));
        });
      };
      doMovingAverage(movingMean, mean);
      doMovingAverage(movingVariance, variance);
      return normed;
    });
  });
}

/** Puts the layer class's own `call` back exactly (called by `uninstallWasmKernels`). */
export function restoreBatchNormLayer(): void {
  patch.restore();
}
