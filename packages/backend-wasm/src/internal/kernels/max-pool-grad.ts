/**
 * `MaxPoolGrad` for the wasm backend. The stock tfjs-backend-wasm 4.22 kernel returns wrong gradients whenever the
 * input's height and width differ (measured against the cpu backend: e.g. x [2,8,6,3] with a 2×2/2 pool, or any
 * `maxPooling1d`, which tfjs runs as a [N,L,1,C] pool; a 1-wide input with a 2×1 pool even crashes it with "memory
 * access out of bounds"). Square inputs happen to come out right, which is why square-image CNNs looked fine.
 *
 * This kernel routes each dy value to the first maximum of its window (the cpu backend's tie-break), scanning the
 * window straight on the wasm heap: O(output · window) reads, channels innermost so memory access is sequential.
 * The common 2×2 / stride-2 pool over even height and width with channels a multiple of 4 runs the WebAssembly SIMD
 * loop of heap-simd-loops.ts instead (same routing, four channels at a time).
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { heapOffset, maxPoolGrad2x2Of } from './heap-simd-loops.js';
import { isPool2x2, poolInfo } from './max-pool.js';
import { nhwc } from './wasm-kernel-scope.js';
import { requireInput, toKernelFunc, type Tf } from './wasm-kernel-types.js';

const NAME = 'MaxPoolGrad';

/** Creates the `MaxPoolGrad` kernel function (inputs `dy`, `input`, `output`; attrs as tfjs' MaxPoolGrad). */
export function createMaxPoolGradKernel(tf: Tf): KernelFunc {
  return toKernelFunc(({ inputs, backend, attrs }) => {
    const dy = requireInput(inputs, 'dy', NAME);
    const x = requireInput(inputs, 'input', NAME);
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
      throw new Error(`fitstream wasm kernel ${NAME}: float32 only, got input ${x.dtype} and dy ${dy.dtype}`);
    }
    const [batch, inHeight, inWidth, channels] = nhwc(x.shape);
    const info = poolInfo(tf, [batch, inHeight, inWidth, channels], attrs);
    const { outHeight, outWidth, strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
    const [dyBatch, dyHeight, dyWidth, dyChannels] = nhwc(dy.shape);
    if (dyBatch !== batch || dyHeight !== outHeight || dyWidth !== outWidth || dyChannels !== channels) {
      throw new Error(
        `fitstream wasm kernel ${NAME}: dy shape [${dy.shape.join(',')}] does not match the pool output ` +
          `[${batch},${outHeight},${outWidth},${channels}] of input [${x.shape.join(',')}]`,
      );
    }
    const dx = backend.makeOutput([...x.shape], 'float32');
    const simd = isPool2x2(info) ? maxPoolGrad2x2Of(backend) : undefined;
    if (simd !== undefined) {
      // Offsets only after makeOutput (an allocation may move nothing, but views would detach).
      simd(heapOffset(backend, x), heapOffset(backend, dy), heapOffset(backend, dx), batch * outHeight, outWidth, channels * 4, inWidth * channels * 4);
      return dx;
    }
    // Views only after makeOutput: an allocation may grow (and so detach) the wasm memory.
    const dxValues = backend.typedArrayFromHeap(dx);
    dxValues.fill(0);
    const xValues = backend.typedArrayFromHeap(x);
    const dyValues = backend.typedArrayFromHeap(dy);
    const padTop = info.padInfo.top;
    const padLeft = info.padInfo.left;
    for (let b = 0; b < batch; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const hStart = oh * strideHeight - padTop;
        const h0 = Math.max(0, hStart);
        const h1 = Math.min(inHeight, hStart + effectiveFilterHeight);
        for (let ow = 0; ow < outWidth; ow++) {
          const wStart = ow * strideWidth - padLeft;
          const w0 = Math.max(0, wStart);
          const w1 = Math.min(inWidth, wStart + effectiveFilterWidth);
          const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
          for (let c = 0; c < channels; c++) {
            let best = Number.NEGATIVE_INFINITY;
            let at = -1;
            for (let h = h0; h < h1; h++) {
              let index = ((b * inHeight + h) * inWidth + w0) * channels + c;
              for (let w = w0; w < w1; w++, index += channels) {
                const value = xValues[index]!;
                if (value > best) {
                  best = value;
                  at = index;
                }
              }
            }
            if (at >= 0) dxValues[at] = dxValues[at]! + dyValues[dyBase + c]!;
          }
        }
      }
    }
    return dx;
  });
}
