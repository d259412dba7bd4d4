/**
 * `MaxPool` for the common 2×2 / stride-2 pool (`maxPooling2d({ poolSize: 2 })`) over an even height and width with
 * channels a multiple of 4: one WebAssembly SIMD pass (`maxPool2x2`, heap-simd-loops.ts), the same window the
 * gradient kernel (max-pool-grad.ts) reads. Every other pool, and a backend without SIMD, runs the stock kernel.
 *
 * The stock kernel (XNNPACK) took 0.28–0.39 ms for the bench's small CNN's [64,28,28,16] pool in a training step.
 */
import type { KernelFunc, NamedAttrMap } from '@tensorflow/tfjs';
import { heapOffset, heapSimdLoopsOf } from './heap-simd-loops.js';
import { requireInput, toKernelFunc, type Tf } from './wasm-kernel-types.js';

const NAME = 'MaxPool';

/** Creates the `MaxPool` kernel function. @param original the stock wasm kernel, for the pools not handled here. */
export function createMaxPoolKernel(tf: Tf, original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const { inputs, backend, attrs } = args;
    const x = requireInput(inputs, 'x', NAME);
    const loops = heapSimdLoopsOf(backend);
    if (loops === undefined || x.dtype !== 'float32' || x.shape.length !== 4) return original(args);
    const [batch, height, width, channels] = x.shape as [number, number, number, number];
    const info = poolInfo(tf, [batch, height, width, channels], attrs);
    if (!isPool2x2(info)) return original(args);
    const { outHeight, outWidth } = info;
    const y = backend.makeOutput([batch, outHeight, outWidth, channels], 'float32');
    // Offsets only after makeOutput (an allocation may grow the memory; offsets stay valid, views would not).
    loops.maxPool2x2(heapOffset(backend, x), heapOffset(backend, y), batch * outHeight, outWidth, channels * 4, width * channels * 4);
    return y;
  });
}

/** The pool's geometry (tfjs' own computation) for an NHWC input of `shape` and MaxPool / MaxPoolGrad `attrs`. */
export function poolInfo(tf: Tf, shape: [number, number, number, number], attrs: NamedAttrMap): ReturnType<Tf['backend_util']['computePool2DInfo']> {
  return tf.backend_util.computePool2DInfo(
    shape,
    attrs['filterSize'] as [number, number] | number,
    attrs['strides'] as [number, number] | number,
    1,
    attrs['pad'] as 'valid' | 'same' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
}

/**
 * Whether the pool is the one the SIMD loops take (`maxPool2x2`, `maxPoolGrad2x2`): 2×2 / stride 2, no padding, an
 * even height and width, channels a multiple of 4, not empty.
 */
export function isPool2x2(info: ReturnType<Tf['backend_util']['computePool2DInfo']>): boolean {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  return (
    info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 &&
    inHeight === 2 * outHeight && inWidth === 2 * outWidth && inChannels % 4 === 0 && batchSize * outHeight * outWidth > 0
  );
}
