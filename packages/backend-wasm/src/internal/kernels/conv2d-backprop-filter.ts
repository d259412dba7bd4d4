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
 * That convolution has only Ci·KH·KW output pixels, so XNNPACK's convolution has few rows to spread its work over
 * (none to speak of for a first layer on grey or RGB images). With stride and dilation 1 and NHWC, the kernel instead
 * builds the transposed im2col matrix — one row per (kh, kw, ci): the input channel ci shifted by (kh, kw), i.e. a
 * window of the padded `[Ci,B,H,W]` input, copied by the heap SIMD loop `copyRows` (heap-simd-loops.ts) where it
 * runs — and multiplies it with dy as `[B·OH·OW, Co]` on the native matMul (XNNPACK's GEMM):
 * dW = cols[KH·KW·Ci, P] · dy[P, Co], with no transposed operand. Measured on this box calling the kernel repeatedly
 * on the same dy (batch 64, 3×3, stride 1, ms per call, medians of 5 interleaved rounds, heavy shared load; the GEMM
 * caches its packed dy across such calls, which a training step never can): x [64,28,28,1]→16 51 → 9.0;
 * [64,28,28,1]→32 'valid' 88 → 13; [64,28,28,3]→16 70 → 27; [64,28,28,8]→16 105 → 54; [64,14,14,16]→32 42 → 33;
 * [64,26,26,32]→64 'valid' 647 → 361. The matrix is KH·KW·Ci·P floats, so above
 * {@link Conv2DBackpropFilterOptions.maxColsElements} the convolution runs instead. With many rows the contraction is
 * chunked by images (see CHUNK_MIN_ROWS). Inside training (a new dy every step) the GEMM path lost (see the option),
 * so installWasmKernels enables only the one-input-channel case, accumulated directly by a SIMD loop
 * (see singleChannelGradient): 16 → 3.4 ms in a small-CNN step.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { convGradientGeometry } from './conv-gradient-geometry.js';
import type { ConvGradientGeometry } from './conv-gradient-geometry.js';
import { convSingleChannelLoopsOf, type ConvSingleChannelLoops, MAX_GROUPS, MAX_TAPS } from './conv-single-channel-simd.js';
import { padImagesOnHeap } from './conv2d-single-channel.js';
import { heapOffset, heapSimdLoopsOf, type HeapSimdLoops } from './heap-simd-loops.js';
import { dim, type KernelScope, type KernelTable, single, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, type Tf, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Conv2DBackpropFilter';

/** Options of {@link createConv2DBackpropFilterKernel}. */
export interface Conv2DBackpropFilterOptions {
  /** The wasm `BatchMatMul` kernel (plain, untransposed products) the im2col path multiplies with. */
  readonly matMul: KernelFunc;
  /**
   * Stride-1, dilation-1 NHWC gradients whose im2col matrix has at most this many elements take the im2col + GEMM
   * path, the others the swapped-roles convolution (`0`: never; one input channel with output channels a multiple of
   * 4 takes the direct accumulation regardless). In a training loop dy is new every step, so the GEMM re-packs it as
   * its weights every call: on the bench's conv32-conv64 CNN the GEMM path made the whole step 2.3× slower than the
   * convolution (paired rounds), though a repeated call on the same dy is faster — installWasmKernels passes 0.
   */
  readonly maxColsElements: number;
}

// Opens like every conv-gradient kernel (its inputs, then convGradientGeometry; depthwise-conv2d-backprop-filter.ts alike): the loops that follow are its own.
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
      (g.filterHeight * g.filterWidth * g.inChannels * g.batch * g.outHeight * g.outWidth <= options.maxColsElements ||
        (g.inChannels === 1 && g.outChannels % 4 === 0 && heapSimdLoopsOf(backend) !== undefined && convSingleChannelLoopsOf(backend) !== undefined)) &&
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
  const bottom = Math.max(0, oh + kh - 1 - g.padTop - g.inHeight);
  const right = Math.max(0, ow + kw - 1 - g.padLeft - g.inWidth);
  const loops = heapSimdLoopsOf(scope.backend);
  const blocks = convSingleChannelLoopsOf(scope.backend);
  if (ci === 1 && co % 4 === 0 && loops !== undefined && blocks !== undefined) {
    const hp = g.padTop + g.inHeight + bottom;
    const wp = g.padLeft + g.inWidth + right;
    const padded = scope.adopt(scope.backend.makeOutput([1, batch, hp, wp], 'float32'));
    // Views only after the allocation. One channel: [B,H,W,1] is [1,B,H,W] as it is stored.
    padImagesOnHeap(scope.backend, x, padded, { batch, height: g.inHeight, width: g.inWidth, hp, wp, top: g.padTop, left: g.padLeft });
    return singleChannelGradient(scope, loops, blocks, padded, dy, g);
  }
  const padded = scope.pad(scope.transpose(x, [3, 0, 1, 2]), [
    [0, 0],
    [0, 0],
    [g.padTop, bottom],
    [g.padLeft, right],
  ]);
  const rows = kh * kw * ci;
  const product = (cols: TensorInfo, dyRows: TensorInfo, k: number): TensorInfo =>
    scope.adopt(
      single(
        matMul({
          inputs: { a: scope.reshape(cols, [1, rows, k]), b: scope.reshape(dyRows, [1, k, co]) },
          backend: scope.backend,
          attrs: { transposeA: false, transposeB: false },
        }),
        'BatchMatMul',
      ),
    );
  const perImage = oh * ow;
  const chunkImages = Math.max(1, Math.floor(CHUNK_POSITIONS / perImage));
  if (loops === undefined || rows < CHUNK_MIN_ROWS || co % 4 !== 0 || chunkImages >= batch || ow < 4) {
    // Rows ordered (kh, kw, ci): the row-major order of the filter's first three axes.
    return scope.reshape(product(im2colRows(scope, padded, g, 0, batch), dy, positions), [kh, kw, ci, co]);
  }
  // A long contraction (K = B·OH·OW) streams the whole of both operands through the cache once per output tile;
  // chunks of images keep them cache-sized. The chunk products are stacked and summed by `sumRows`.
  const dy2d = scope.reshape(dy, [positions, co]);
  const chunks = Math.ceil(batch / chunkImages);
  const stack = scope.adopt(scope.backend.makeOutput([chunks, rows * co], 'float32'));
  for (let n = 0; n < chunks; n++) {
    const b0 = n * chunkImages;
    const nb = Math.min(chunkImages, batch - b0);
    const part = product(im2colRows(scope, padded, g, b0, nb), scope.slice(dy2d, [b0 * perImage, 0], [nb * perImage, co]), nb * perImage);
    loops.copyRows(heapOffset(scope.backend, part), heapOffset(scope.backend, stack) + n * rows * co * 4, 1, rows * co * 4, 0, rows * co * 4);
  }
  const sum = scope.adopt(scope.backend.makeOutput([kh, kw, ci, co], 'float32'));
  loops.sumRows(heapOffset(scope.backend, stack), heapOffset(scope.backend, sum), chunks, rows * co * 4);
  return sum;
}

/**
 * One input channel (a first layer on grey images): the im2col matrix has only KH·KW rows, and the GEMM's cost is
 * packing dy as its weights (≈ 13 ms of a 16 ms call for [64,28,28,1]→16). The register-blocked SIMD loops of
 * conv-single-channel-simd.ts instead accumulate x·dy straight from the padded image, one image at a time into its own
 * row of partial sums (blocks of up to 2 taps × 16 channels, each over all of the image's positions), which `sumRows`
 * adds up: 1.0 → 0.56 ms for [64,28,28,1]→16 against the loop that added into memory, with the same bits (each sum
 * sees the same additions in the same order).
 */
function singleChannelGradient(scope: KernelScope, loops: HeapSimdLoops, blocks: ConvSingleChannelLoops, padded: TensorInfo, dy: TensorInfo, g: ConvGradientGeometry): TensorInfo {
  const { batch, outChannels: co, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = g;
  const hp = dim(padded.shape, 2);
  const wp = dim(padded.shape, 3);
  const perImage = kh * kw * co;
  const partials = scope.adopt(scope.backend.makeOutput([batch, perImage], 'float32'));
  const sum = scope.adopt(scope.backend.makeOutput([kh, kw, 1, co], 'float32'));
  // Views and offsets only after the allocations; the SIMD calls allocate nothing.
  scope.backend.typedArrayFromHeap(partials).fill(0);
  const x0 = heapOffset(scope.backend, padded);
  const dy0 = heapOffset(scope.backend, dy);
  const p0 = heapOffset(scope.backend, partials);
  for (let b = 0; b < batch; b++) {
    const image = x0 + b * hp * wp * 4;
    const dyImage = dy0 + b * oh * ow * co * 4;
    const partial = p0 + b * perImage * 4;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j += MAX_TAPS) {
        const taps = Math.min(MAX_TAPS, kw - j);
        for (let c = 0; c < co; c += 4 * MAX_GROUPS) {
          const grad = blocks.grad(taps, Math.min(MAX_GROUPS, (co - c) / 4));
          grad(image + (i * wp + j) * 4, dyImage + c * 4, partial + ((i * kw + j) * co + c) * 4, oh, ow, co * 4, wp * 4);
        }
      }
    }
  }
  loops.sumRows(p0, heapOffset(scope.backend, sum), batch, perImage * 4);
  return sum;
}

/** Positions (B·OH·OW) per chunk of the contraction when it is chunked. */
// Measured on [64,26,26,32]→64 'valid' (ms, chunk products vs the convolution path, interleaved pairs under load):
// 2048 positions 110 vs 122 and 188 vs 229; 512 (one 24×24 image) 141 vs 184 and 73 vs 112.
const CHUNK_POSITIONS = 512;
/**
 * Chunk only im2col matrices with at least this many rows (KH·KW·Ci). Measured (ms, interleaved, under load; chunked
 * vs whole): [64,26,26,32]→64 'valid' (288 rows) 170 vs 259 and 226 vs 212 (conv path 268–367); [64,14,14,16]→32
 * (144 rows) 19–24 vs 15–20: a wash or worse below a few hundred rows. The chunked sums are also closer to exact.
 */
const CHUNK_MIN_ROWS = 256;

/**
 * The `[KH·KW·Ci, B·OH·OW]` im2col matrix of the padded `[Ci,B,Hp,Wp]` input: with the heap SIMD loops, each row is
 * B·OH strided runs of OW floats copied by `copyRows` (one call per (kh, kw, ci, b)); otherwise KH·KW slices and a
 * concat.
 */
function im2colRows(scope: KernelScope, padded: TensorInfo, g: ConvGradientGeometry, firstImage: number, images: number): TensorInfo {
  const { batch, inChannels: ci, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = g;
  const positions = images * oh * ow;
  const hp = dim(padded.shape, 2);
  const wp = dim(padded.shape, 3);
  const loops = ow >= 4 ? heapSimdLoopsOf(scope.backend) : undefined;
  if (loops === undefined) {
    const rows: TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) rows.push(scope.reshape(scope.slice(padded, [0, firstImage, i, j], [ci, images, oh, ow]), [ci, positions]));
    }
    return rows.length === 1 ? rows[0]! : scope.concat(rows, 0);
  }
  const cols = scope.adopt(scope.backend.makeOutput([kh * kw * ci, positions], 'float32'));
  // Offsets only after the allocation.
  const src = heapOffset(scope.backend, padded);
  const dst = heapOffset(scope.backend, cols);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < ci; c++) {
        const row = (i * kw + j) * ci + c;
        for (let b = 0; b < images; b++) {
          const from = src + (((c * batch + firstImage + b) * hp + i) * wp + j) * 4;
          const to = dst + (row * positions + b * oh * ow) * 4;
          loops.copyRows(from, to, oh, ow * 4, wp * 4, ow * 4);
        }
      }
    }
  }
  return cols;
}
