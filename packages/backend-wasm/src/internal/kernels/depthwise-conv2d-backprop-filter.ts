/**
 * `DepthwiseConv2dNativeBackpropFilter` for the wasm backend, which tfjs-backend-wasm 4.22 lacks (so
 * depthwiseConv2d and separableConv2d layers cannot train).
 *
 * dW[kh,kw,c,m] = Σ_{b,oh,ow} x_pad[b, oh·sh + kh·dh, ow·sw + kw·dw, c] · dy[b,oh,ow,c·M+m]
 *
 * Each (b, c) pair is an independent 2-D correlation of one x plane with one dy plane, which is exactly what a
 * depthwise convolution computes per channel. So fold the batch into the channels (`x → [1,H,W,B·C]`,
 * `dy → [OH,OW,B·C,M]` as a depthwise filter with multiplier M), run XNNPACK's depthwise conv with stride = forward
 * dilation and dilation = forward stride, and sum the B partial filters. No compute is wasted (same MACs as the
 * forward pass), unlike a dense Conv2D formulation that would also compute every cross-channel product.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { convGradientGeometry } from './conv-gradient-geometry.js';
import { dim, type KernelTable, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, type Tf, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'DepthwiseConv2dNativeBackpropFilter';

// Opens like every conv-gradient kernel (its inputs, then convGradientGeometry; conv2d-backprop-filter.ts and depthwise-conv2d-backprop-input.ts alike): the loops that follow are its own.
/** Creates the `DepthwiseConv2dNativeBackpropFilter` kernel function (any multiplier, strides, dilations, padding). */
export function createDepthwiseConv2dBackpropFilterKernel(tf: Tf, table: KernelTable): KernelFunc {
  return toKernelFunc(({ inputs, backend, attrs }) => {
    const x = requireInput(inputs, 'x', NAME);
    const dy = requireInput(inputs, 'dy', NAME);
    const filterShape = attrs['filterShape'] as number[];
    const g = convGradientGeometry(tf, NAME, x.shape, filterShape, attrs, true);
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    const { batch: b, inChannels: c, filterHeight: kh, filterWidth: kw } = g;
    const multiplier = g.outChannels / c;

    return withKernelScope(table, backend, (scope) => {
      const xFolded = scope.reshape(scope.transpose(x, [1, 2, 0, 3]), [1, g.inHeight, g.inWidth, b * c]);
      const dyFolded = scope.reshape(scope.transpose(dy, [1, 2, 0, 3]), [g.outHeight, g.outWidth, b * c, multiplier]);
      // Pad bottom/right so the correlation yields exactly KH×KW outputs (negative = crop unread rows).
      const paddedHeight = (kh - 1) * dh + (g.outHeight - 1) * sh + 1;
      const paddedWidth = (kw - 1) * dw + (g.outWidth - 1) * sw + 1;
      const partial = scope.depthwiseConv2d(xFolded, dyFolded, {
        strides: [dh, dw],
        dilations: [sh, sw],
        pads: [g.padTop, paddedHeight - g.padTop - g.inHeight, g.padLeft, paddedWidth - g.padLeft - g.inWidth],
      });
      if (dim(partial.shape, 1) !== kh || dim(partial.shape, 2) !== kw) {
        throw new Error(`fitstream wasm kernel ${NAME}: internal shape mismatch [${partial.shape.join(',')}]`);
      }
      // [1,KH,KW,B·C·M] -> [KH,KW,B,C·M] -> Σ_b -> [KH,KW,C,M]
      const perBatch = scope.reshape(partial, [kh, kw, b, c * multiplier]);
      return scope.reshape(scope.sumAxis(perBatch, 2), [kh, kw, c, multiplier]);
    });
  });
}
