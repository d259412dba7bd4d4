/**
 * `Conv2DBackpropFilter` for the wasm backend, which tfjs-backend-wasm 4.22 lacks (so conv layers cannot train).
 *
 * dW[kh,kw,ci,co] = Σ_{b,oh,ow} x_pad[b, oh·sh + kh·dh, ow·sw + kw·dw, ci] · dy[b,oh,ow,co]
 *
 * is itself a convolution once the roles are swapped: take x as a batch of `Ci` images of size H×W with `B` channels
 * (`[Ci,H,W,B]`) and dy as a filter of size OH×OW from `B` to `Co` channels (`[OH,OW,B,Co]`). Convolving with
 * stride = forward dilation and dilation = forward stride gives `[Ci,KH,KW,Co]`, which is dW after one transpose.
 * Every step is an XNNPACK kernel, ≈50–70× faster than running tfjs' cpu kernel on the copied data.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { convGradientGeometry } from './conv-gradient-geometry.js';
import { dim, type KernelTable, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, type Tf, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Conv2DBackpropFilter';

/** Creates the `Conv2DBackpropFilter` kernel function (NHWC and NCHW; any strides, dilations and padding). */
export function createConv2DBackpropFilterKernel(tf: Tf, table: KernelTable): KernelFunc {
  return toKernelFunc(({ inputs, backend, attrs }) => {
    const x = requireInput(inputs, 'x', NAME);
    const dy = requireInput(inputs, 'dy', NAME);
    const filterShape = attrs['filterShape'] as number[];
    const g = convGradientGeometry(tf, NAME, x.shape, filterShape, attrs, false);
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;

    return withKernelScope(table, backend, (scope) => {
      // Both layouts end up as "x: [Ci,H,W,B]" and "dy: [OH,OW,B,Co]"; for NCHW the transposes just differ.
      const xT = scope.transpose(x, g.channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0]);
      const dyT = scope.transpose(dy, g.channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1]);
      // Pad bottom/right so the convolution yields exactly KH×KW outputs; a negative value crops rows of x that the
      // forward conv never read ('valid' padding with a remainder).
      const paddedHeight = (g.filterHeight - 1) * dh + (g.outHeight - 1) * sh + 1;
      const paddedWidth = (g.filterWidth - 1) * dw + (g.outWidth - 1) * sw + 1;
      const grad = scope.conv2d(xT, dyT, {
        strides: [dh, dw],
        dilations: [sh, sw],
        pads: [g.padTop, paddedHeight - g.padTop - g.inHeight, g.padLeft, paddedWidth - g.padLeft - g.inWidth],
      });
      if (dim(grad.shape, 1) !== g.filterHeight || dim(grad.shape, 2) !== g.filterWidth) {
        throw new Error(`fitstream wasm kernel ${NAME}: internal shape mismatch [${grad.shape.join(',')}]`);
      }
      return scope.transpose(grad, [1, 2, 0, 3]);
    });
  });
}
