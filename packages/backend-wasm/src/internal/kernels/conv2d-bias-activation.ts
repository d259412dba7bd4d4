/**
 * tfjs-layers' `Conv2D` with a bias and a relu activation, in training, as one forward kernel with a gradient of its
 * own (`FitstreamConv2DBiasActivation`).
 *
 * Under a gradient tape tfjs' `fused.conv2d` fuses only a linear activation, so such a layer runs as `Conv2D`, then
 * `Add` of the bias (a pass over the activation), then `Relu` (another), each a tape node whose inputs the tape clones.
 * For the bench's small CNN ([64,28,28,16]) those two passes took ≈ 0.2 + 0.16 ms of a ≈ 6 ms step. Here:
 *
 * - forward: y = max(conv(x, W) + b, 0) in one kernel: the SIMD loops of conv2d-single-channel.ts for one input
 *   channel at stride 1 (the sums start from the bias, relu at the store), XNNPACK's `FusedConv2D` (bias and relu
 *   fused) otherwise;
 * - gradient: dz = dy where y > 0 and db = Σ dz over the batch and positions in one pass ({@link RELU_BIAS_GRAD}),
 *   then — each only when the tape needs it — dx = `Conv2DBackpropInput`(dz, W) and dW = `Conv2DBackpropFilter`(x, dz).
 *
 * While installed, the layer class's `call` takes this path on the wasm backend under a gradient tape for NHWC
 * float32 inputs with a bias, relu and dilation 1; everything else (inference, where tfjs fuses by itself included)
 * runs the original `call`. {@link restoreConvLayer} puts the class's own `call` back.
 */
import type { KernelFunc, NamedAttrMap, Tensor } from '@tensorflow/tfjs';
import { RELU_GRAD } from '../dense/step-kernels.js';
import { singleChannelConv } from './conv2d-single-channel.js';
import { heapOffset, heapSimdLoopsOf } from './heap-simd-loops.js';
import { LayerCallPatch } from './layer-call-patch.js';
import type { KernelTable } from './wasm-kernel-scope.js';
import { requireInput, toKernelFunc, type Tf } from './wasm-kernel-types.js';

export const CONV2D_BIAS_ACTIVATION = 'FitstreamConv2DBiasActivation';

/**
 * Creates the forward kernel: inputs `x` `[B,H,W,Ci]`, `filter`, `bias`; attrs as tfjs' `Conv2D` plus `activation`
 * (`'linear'` or `'relu'`).
 * @param fusedConv the stock wasm `FusedConv2D` kernel, for the convolutions the SIMD loops do not take.
 */
export function createConv2DBiasActivationKernel(tf: Tf, table: KernelTable, fusedConv: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const { inputs, backend, attrs } = args;
    const x = requireInput(inputs, 'x', CONV2D_BIAS_ACTIVATION);
    const filter = requireInput(inputs, 'filter', CONV2D_BIAS_ACTIVATION);
    const bias = requireInput(inputs, 'bias', CONV2D_BIAS_ACTIVATION);
    const relu = attrs['activation'] === 'relu';
    return singleChannelConv(tf, table, backend, { x, filter, bias, relu }, attrs) ?? fusedConv({ inputs: { x, filter, bias }, backend, attrs: { ...attrs, activation: relu ? 'relu' : 'linear' } });
  });
}

let gradientRegistered = false;

/** Registers the kernel's gradient (once per process: tfjs' gradient registry has no removal). */
export function registerConv2DBiasActivationGradient(tf: Tf): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: CONV2D_BIAS_ACTIVATION,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [Tensor, Tensor, Tensor];
      const upstream = dy as Tensor;
      // Computed once, before the closures: the tape calls each of them in a scope of its own.
      const [dz, db] = reluAndBiasGradients(tf, upstream, y, attrs['activation'] === 'relu');
      const geometry = { strides: attrs['strides'], pad: attrs['pad'], dataFormat: 'NHWC', dimRoundingMode: attrs['dimRoundingMode'] } as NamedAttrMap;
      return {
        x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, { ...geometry, inputShape: x.shape }) as Tensor,
        filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz }, { ...geometry, filterShape: filter.shape }) as Tensor,
        bias: () => db,
      };
    },
  });
  gradientRegistered = true;
}

/**
 * dz (dy through the activation) and the bias gradient Σ dz over every axis but the last: one {@link RELU_BIAS_GRAD}
 * pass where it is registered (the fused conv and dense layers' gradients).
 */
export function reluAndBiasGradients(tf: Tf, dy: Tensor, y: Tensor, relu: boolean): [Tensor, Tensor] {
  if (relu && tf.getKernel(RELU_BIAS_GRAD, tf.getBackend()) !== undefined) return tf.engine().runKernel(RELU_BIAS_GRAD, { dy, y }) as [Tensor, Tensor];
  const dz = !relu ? dy : tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined ? (tf.engine().runKernel(RELU_GRAD, { dy, x: y }) as Tensor) : tf.mul(dy, tf.step(y));
  return [dz, tf.sum(dz, Array.from({ length: dz.rank - 1 }, (_, axis) => axis))];
}

export const RELU_BIAS_GRAD = 'FitstreamReluBiasGrad';

/**
 * Creates the {@link RELU_BIAS_GRAD} kernel: inputs `dy` and `y` (a relu's output, the same shape); outputs `[dz, db]`,
 * dz = dy where y > 0 and +0 elsewhere (relu's gradient), db = dz summed over every axis but the last in float32, row
 * by row (the order of the `Sum` kernel's SIMD rows). One SIMD pass (`reluMaskSumRows`) for a last axis that is a
 * multiple of 4; a JavaScript loop with the same results otherwise.
 */
export function createReluBiasGradKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend }) => {
    const dy = requireInput(inputs, 'dy', RELU_BIAS_GRAD);
    const y = requireInput(inputs, 'y', RELU_BIAS_GRAD);
    const width = dy.shape[dy.shape.length - 1];
    if (dy.dtype !== 'float32' || y.dtype !== 'float32' || dy.shape.join(',') !== y.shape.join(',') || width === undefined || width === 0) {
      throw new Error(`${RELU_BIAS_GRAD}: dy and y must be float32 of one shape with a last axis, got ${dy.dtype} [${dy.shape.join(',')}] and ${y.dtype} [${y.shape.join(',')}]`);
    }
    const rows = dy.shape.reduce((n, d) => n * d, 1) / width;
    const dz = backend.makeOutput([...dy.shape], 'float32');
    const db = backend.makeOutput([width], 'float32');
    const loops = width % 4 === 0 ? heapSimdLoopsOf(backend) : undefined;
    if (loops !== undefined) {
      // Offsets only after the allocations (an allocation may grow the heap; offsets stay valid, views would not).
      loops.reluMaskSumRows(heapOffset(backend, dy), heapOffset(backend, y), heapOffset(backend, dz), heapOffset(backend, db), rows, width * 4);
      return [dz, db];
    }
    const [d, v, z, sum] = [dy, y, dz, db].map((info) => backend.typedArrayFromHeap(info) as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
    sum.fill(0);
    for (let r = 0, base = 0; r < rows; r++, base += width) {
      for (let j = 0; j < width; j++) {
        const value = (v[base + j] ?? 0) > 0 ? (d[base + j] ?? 0) : 0;
        z[base + j] = value;
        sum[j] = Math.fround((sum[j] ?? 0) + value);
      }
    }
    return [dz, db];
  });
}

/** The parts of tfjs-layers' `Conv2D` (its `Conv` base) read here. */
interface ConvLayerLike {
  readonly rank: number;
  readonly dataFormat: string;
  readonly strides: number[];
  readonly padding: string;
  readonly dilationRate: number[];
  readonly activation: { getClassName(): string } | null;
  readonly kernel: { read(): Tensor };
  readonly bias: { read(): Tensor } | null;
}

const patch = new LayerCallPatch();

/** Wraps `Conv2D.prototype.call` (idempotent); see the module comment. */
export function patchConvLayer(tf: Tf): void {
  patch.wrapSingleInput<ConvLayerLike>(tf, 'Conv2D', CONV2D_BIAS_ACTIVATION, (layer, x) => {
    const { kernel, bias, strides, padding } = layer;
    if (
      // Without a tape tfjs fuses bias and activation itself (FusedConv2D).
      tf.engine().state.gradientDepth === 0 ||
      x.rank !== 4 ||
      layer.rank !== 2 ||
      layer.dataFormat !== 'channelsLast' ||
      bias == null ||
      layer.activation?.getClassName().toLowerCase() !== 'relu' ||
      layer.dilationRate.some((d) => d !== 1)
    ) {
      return undefined;
    }
    return tf.tidy(() => tf.engine().runKernel(CONV2D_BIAS_ACTIVATION, { x, filter: kernel.read(), bias: bias.read() }, { strides, pad: padding, dataFormat: 'NHWC', dilations: 1, activation: 'relu' }) as Tensor);
  });
}

/** Puts the layer class's own `call` back exactly (called by `uninstallWasmKernels`). */
export function restoreConvLayer(): void {
  patch.restore();
}
