/**
 * `DepthwiseConv2dNativeBackpropInput` for the wasm backend, which tfjs-backend-wasm 4.22 lacks (so a
 * depthwiseConv2d that is not the first layer cannot train).
 *
 * dx[b,h,w,c] = Σ_{kh,kw,m} dy[b,oh,ow,c·M+m] · W[kh,kw,c,m]   where h = oh·sh + kh·dh − padTop (same for w)
 *
 * With zeros inserted between dy's rows/columns for strided convs, this is a stride-1 "full" depthwise correlation of
 * dy with the spatially reversed filter, taken per dy channel (multiplier 1 over C·M channels), followed by a sum of
 * the M channels that came from the same input channel. All of it runs on XNNPACK's depthwise conv.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { convGradientGeometry } from './conv-gradient-geometry.js';
import { type KernelTable, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, type Tf, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'DepthwiseConv2dNativeBackpropInput';

// Opens like every conv-gradient kernel (its inputs, then convGradientGeometry; depthwise-conv2d-backprop-filter.ts alike): the loops that follow are its own.
/** Creates the `DepthwiseConv2dNativeBackpropInput` kernel function (any multiplier, strides, dilations, padding). */
export function createDepthwiseConv2dBackpropInputKernel(tf: Tf, table: KernelTable): KernelFunc {
  return toKernelFunc(({ inputs, backend, attrs }) => {
    const dy = requireInput(inputs, 'dy', NAME);
    const filter = requireInput(inputs, 'filter', NAME);
    const inputShape = attrs['inputShape'] as number[];
    const g = convGradientGeometry(tf, NAME, inputShape, filter.shape, attrs, true);
    const [dh, dw] = g.dilations;
    const { batch: b, inChannels: c, filterHeight: kh, filterWidth: kw } = g;
    const multiplier = g.outChannels / c;

    return withKernelScope(table, backend, (scope) => {
      const upsampled = scope.upsampleWithZeros(dy, g.strides);
      const flipped = scope.reshape(scope.reverse(filter, [0, 1]), [kh, kw, c * multiplier, 1]);
      // Output row h reads upsampled rows h + padTop − kh·dh: a 'valid' correlation over dy padded by
      // (KH−1)·dh − padTop on top; the bottom padding makes the output exactly H rows (negative = crop).
      const top = (kh - 1) * dh - g.padTop;
      const left = (kw - 1) * dw - g.padLeft;
      const bottom = g.inHeight + (kh - 1) * dh - top - (upsampled.shape[1] ?? 0);
      const right = g.inWidth + (kw - 1) * dw - left - (upsampled.shape[2] ?? 0);
      const perOutputChannel = scope.depthwiseConv2d(upsampled, flipped, {
        strides: [1, 1],
        dilations: [dh, dw],
        pads: [top, bottom, left, right],
      });
      // [B,H,W,C·M] -> [B,H,W,C,M] -> Σ_m -> [B,H,W,C]
      const grouped = scope.reshape(perOutputChannel, [b, g.inHeight, g.inWidth, c, multiplier]);
      return scope.sumAxis(grouped, 4);
    });
  });
}
