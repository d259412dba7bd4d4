/**
 * `Conv2DBackpropFilter` for the wasm backend, which tfjs-backend-wasm 4.22 lacks (so conv layers cannot train).
 *
 * dW[kh,kw,ci,co] = Σ_{b,oh,ow} x_pad[b, oh·sh + kh·dh, ow·sw + kw·dw, ci] · dy[b,oh,ow,co]
 *
 * is itself a convolution once the roles are swapped: take x as a batch of `Ci` images of size H×W with `B` channels
 * (`[Ci,H,W,B]`) and dy as a filter of size OH×OW from `B` to `Co` channels (`[OH,OW,B,Co]`). Convolving with
 * stride = forward dilation and dilation = forward stride gives `[Ci,KH,KW,Co]`, which is dW after one transpose.
 * Every step is an XNNPACK kernel, ≈50–70× faster than running tfjs' cpu kernel on the copied data.
 *
 * That convolution has only Ci·KH·KW output pixels, so with few input channels (a first layer on grey or RGB images)
 * XNNPACK's convolution has almost no rows to spread its work over. There, with stride and dilation 1 and NHWC, the
 * kernel instead builds the transposed im2col matrix — one row per (kh, kw, ci): the input channel ci shifted by
 * (kh, kw), i.e. a slice of the padded `[Ci,B,H,W]` input — and multiplies it with dy as `[B·OH·OW, Co]` on the
 * native matMul (XNNPACK's GEMM): dW = cols[KH·KW·Ci, P] · dy[P, Co], with no transposed operand. Measured on this
 * box (batch 64, 3×3, ms per call, interleaved): see {@link Conv2DBackpropFilterOptions.maxInChannelsForGemm}.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { convGradientGeometry } from './conv-gradient-geometry.js';
import type { ConvGradientGeometry } from './conv-gradient-geometry.js';
import { dim, type KernelScope, type KernelTable, single, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, type Tf, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Conv2DBackpropFilter';

/** Options of {@link createConv2DBackpropFilterKernel}. */
export interface Conv2DBackpropFilterOptions {
  /** The wasm `BatchMatMul` kernel (plain, untransposed products) the im2col path multiplies with. */
  readonly matMul: KernelFunc;
  /**
   * Stride-1, dilation-1 NHWC gradients with at most this many input channels take the im2col + GEMM path, the others
   * the swapped-roles convolution (`0`: never).
   */
  readonly maxInChannelsForGemm: number;
}

/** Creates the `Conv2DBackpropFilter` kernel function (NHWC and NCHW; any strides, dilations and padding). */
export function createConv2DBackpropFilterKernel(tf: Tf, table: KernelTable, options?: Conv2DBackpropFilterOptions): KernelFunc {
  return toKernelFunc(({ inputs, backend, attrs }) => {
    const x = requireInput(inputs, 'x', NAME);
    const dy = requireInput(inputs, 'dy', NAME);
    const filterShape = attrs['filterShape'] as number[];
    const g = convGradientGeometry(tf, NAME, x.shape, filterShape, attrs, false);
    const [sh, sw] = g.strides;
    const [dh, dw] = g.dilations;
    if (
      options !== undefined &&
      g.channelsLast &&
      g.inChannels <= options.maxInChannelsForGemm &&
      sh === 1 && sw === 1 && dh === 1 && dw === 1 &&
      x.dtype === 'float32' && dy.dtype === 'float32'
    ) {
      const { matMul } = options;
      return withKernelScope(table, backend, (scope) => im2colGradient(scope, matMul, x, dy, g));
    }

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

/** dW = cols · dy on the GEMM, for stride 1 and dilation 1 (NHWC); see the module comment. */
function im2colGradient(scope: KernelScope, matMul: KernelFunc, x: TensorInfo, dy: TensorInfo, g: ConvGradientGeometry): TensorInfo {
  const { batch, inChannels: ci, outChannels: co, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = g;
  const positions = batch * oh * ow;
  // [Ci,B,H,W], padded so that every (kh, kw) shift is an in-bounds OH×OW window (bottom/right: what the last shift
  // reads beyond the input, never negative here because slicing leaves unread rows out anyway).
  const xT = scope.transpose(x, [3, 0, 1, 2]);
  const bottom = Math.max(0, oh + kh - 1 - g.padTop - g.inHeight);
  const right = Math.max(0, ow + kw - 1 - g.padLeft - g.inWidth);
  const padded = scope.pad(xT, [
    [0, 0],
    [0, 0],
    [g.padTop, bottom],
    [g.padLeft, right],
  ]);
  const rows: TensorInfo[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      rows.push(scope.reshape(scope.slice(padded, [0, 0, i, j], [ci, batch, oh, ow]), [ci, positions]));
    }
  }
  // Rows ordered (kh, kw, ci): the row-major order of the filter's first three axes.
  const cols = rows.length === 1 ? rows[0]! : scope.concat(rows, 0);
  const product = scope.adopt(
    single(
      matMul({
        inputs: { a: scope.reshape(cols, [1, kh * kw * ci, positions]), b: scope.reshape(dy, [1, positions, co]) },
        backend: scope.backend,
        attrs: { transposeA: false, transposeB: false },
      }),
      'BatchMatMul',
    ),
  );
  return scope.reshape(product, [kh, kw, ci, co]);
}
