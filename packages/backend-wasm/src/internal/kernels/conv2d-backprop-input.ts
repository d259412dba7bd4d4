/**
 * Faster `Conv2DBackpropInput` for the wasm backend (the gradient of conv2d w.r.t. its input, and conv2dTranspose).
 *
 * tfjs-backend-wasm's native kernel is a naive loop (177 ms of a 352 ms wide-CNN step). For stride 1 the input
 * gradient is a plain "full" convolution of dy with the spatially reversed filter whose in/out channels are swapped:
 *
 *   dx = conv2d(pad(dy, K-1-pad), transpose(reverse(W, [0,1]), [0,1,3,2]), 'valid')
 *
 * which runs on XNNPACK. A strided forward conv first needs `stride - 1` zeros inserted between dy's rows and
 * columns (reshape + pad), after which the same stride-1 formula applies. That wastes (1 - 1/(sh·sw)) of the MACs on
 * zeros but is still faster than the native loop once the input has a few channels. Measured on this box (batch 64,
 * 28×28, 3×3, stride 2, ms): Ci=8/Co=16 15.6 → 5.5, Ci=4/Co=8 5.8 → 3.4, Ci=3/Co=16 6.3 → 5.6, but Ci=2/Co=8
 * 2.6 → 3.2 and Ci=1/Co=32 3.1 → 8.6; hence {@link Conv2DBackpropInputOptions.minInChannelsForStrided}. NCHW data
 * always goes to the native kernel.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { convGradientGeometry } from './conv-gradient-geometry.js';
import { type KernelTable, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, type Tf, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Conv2DBackpropInput';

/** Options of {@link createConv2DBackpropInputKernel}. */
export interface Conv2DBackpropInputOptions {
  /**
   * Strided convs with at least this many input channels use the zero-upsampling path, the others the native
   * kernel (`Infinity`: stride 1 only). Stride 1 always takes the fast path.
   */
  readonly minInChannelsForStrided: number;
}

/**
 * Creates the `Conv2DBackpropInput` kernel function.
 * @param native the original tfjs-backend-wasm kernel, used for the cases the fast path does not cover.
 */
export function createConv2DBackpropInputKernel(
  tf: Tf,
  table: KernelTable,
  native: KernelFunc,
  options: Conv2DBackpropInputOptions,
): KernelFunc {
  return toKernelFunc((args) => {
    const { inputs, backend, attrs } = args;
    const dy = requireInput(inputs, 'dy', NAME);
    const filter = requireInput(inputs, 'filter', NAME);
    const inputShape = attrs['inputShape'] as number[];
    const g = convGradientGeometry(tf, NAME, inputShape, filter.shape, attrs, false);
    const [sh, sw] = g.strides;
    const strided = sh !== 1 || sw !== 1;
    if (!g.channelsLast || dy.dtype !== 'float32' || (strided && g.inChannels < options.minInChannelsForStrided)) {
      return native(args);
    }

    return withKernelScope(table, backend, (scope) => {
      const upsampled = scope.upsampleWithZeros(dy, [sh, sw]);
      const flipped = scope.transpose(scope.reverse(filter, [0, 1]), [0, 1, 3, 2]);
      // Output row h reads dy rows h + padTop - kh, i.e. a 'valid' conv over dy padded by K-1-padTop on top; the
      // bottom padding makes the output exactly H rows (negative = crop rows no input position depends on).
      const top = g.filterHeight - 1 - g.padTop;
      const left = g.filterWidth - 1 - g.padLeft;
      const bottom = g.inHeight + g.filterHeight - 1 - top - (upsampled.shape[1] ?? 0);
      const right = g.inWidth + g.filterWidth - 1 - left - (upsampled.shape[2] ?? 0);
      return scope.conv2d(upsampled, flipped, { strides: [1, 1], dilations: [1, 1], pads: [top, bottom, left, right] });
    });
  });
}
