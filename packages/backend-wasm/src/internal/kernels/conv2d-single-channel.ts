/**
 * `Conv2D` for a stride-1 convolution with one input channel (a first layer on grey images) on the register-blocked
 * SIMD loops of conv-single-channel-simd.ts; everything else goes to the stock kernel (XNNPACK).
 *
 * With one input channel XNNPACK has nothing to vectorise over in its inner dimension (KH·KW, e.g. 9): the bench's
 * small CNN's first layer, [64,28,28,1] → 16 channels 3×3 'same', took 0.95 ms a call there (≈ 15 GFLOP/s). Here each
 * image is copied once into a zero-padded `[Hp, Wp]` buffer, then blocks of 2 output columns × 16 channels are summed
 * over the taps in registers. Every output is Σ over the taps in row-major order of x·w from 0, in float32 — the cpu
 * backend's order (which rounds each product and sum in float64, so the two may differ in the last bit).
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { convSingleChannelLoopsOf, MAX_COLUMNS, MAX_GROUPS } from './conv-single-channel-simd.js';
import { heapOffset, heapSimdLoopsOf } from './heap-simd-loops.js';
import { type KernelTable, withKernelScope } from './wasm-kernel-scope.js';
import { requireInput, toKernelFunc, type Tf, type WasmBackendLike } from './wasm-kernel-types.js';

const NAME = 'Conv2D';

/** Creates the `Conv2D` kernel function. @param original the stock wasm kernel, for the cases not handled here. */
export function createConv2DKernel(tf: Tf, table: KernelTable, original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const x = requireInput(args.inputs, 'x', NAME);
    const filter = requireInput(args.inputs, 'filter', NAME);
    return singleChannelConv(tf, table, args.backend, { x, filter, bias: undefined, relu: false }, args.attrs) ?? original(args);
  });
}

/** A convolution's operands and epilogue: y = max(conv(x, filter) + bias, 0) with `relu`, without it conv + bias. */
export interface ConvOperands {
  readonly x: TensorInfo;
  readonly filter: TensorInfo;
  readonly bias: TensorInfo | undefined;
  readonly relu: boolean;
}

/**
 * The convolution on the SIMD loops when it has one input channel, stride 1 and dilation 1 (NHWC float32, output
 * channels a multiple of 4, a bias of one value per output channel); undefined otherwise, for the caller's route.
 */
export function singleChannelConv(tf: Tf, table: KernelTable, backend: WasmBackendLike, operands: ConvOperands, attrs: NamedAttrMap): TensorInfo | undefined {
  const { x, filter, bias, relu } = operands;
  const loops = convSingleChannelLoopsOf(backend);
  const dataFormat = (attrs['dataFormat'] as string | undefined) ?? 'NHWC';
  if (loops === undefined || x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4 || dataFormat !== 'NHWC') {
    return undefined;
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs['strides'] as number | [number, number],
    (attrs['dilations'] as number | [number, number] | undefined) ?? 1,
    attrs['pad'] as 'valid' | 'same' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize: batch, inHeight, inWidth, inChannels, outHeight: oh, outWidth: ow, outChannels: co, filterHeight: kh, filterWidth: kw } = info;
  if (
    inChannels !== 1 || co % 4 !== 0 || info.strideHeight !== 1 || info.strideWidth !== 1 ||
    info.dilationHeight !== 1 || info.dilationWidth !== 1 || batch * oh * ow * co === 0 ||
    (bias !== undefined && (bias.dtype !== 'float32' || bias.shape.reduce((n, d) => n * d, 1) !== co))
  ) {
    return undefined;
  }
  // Stride 1: the padded image is [Hp, Wp] = [OH + KH − 1, OW + KW − 1], every window inside it.
  const { top, bottom, left, right } = info.padInfo;
  const hp = inHeight + top + bottom;
  const wp = inWidth + left + right;
  return withKernelScope(table, backend, (scope) => {
    const padded = scope.adopt(backend.makeOutput([batch, hp, wp], 'float32'));
    const out = scope.adopt(backend.makeOutput([batch, oh, ow, co], 'float32'));
    // Views and offsets only after the allocations (an allocation may grow, and so detach, the wasm memory).
    padImagesOnHeap(backend, x, padded, { batch, height: inHeight, width: inWidth, hp, wp, top, left });
    const x0 = heapOffset(backend, padded);
    const w0 = heapOffset(backend, filter);
    const out0 = heapOffset(backend, out);
    // 0 tells the loops "no bias": no tensor lives at heap offset 0.
    const bias0 = bias === undefined ? 0 : heapOffset(backend, bias);
    const rowC = co * 4;
    const pairs = Math.floor(ow / MAX_COLUMNS);
    const rest = ow - pairs * MAX_COLUMNS;
    for (let b = 0; b < batch; b++) {
      const image = x0 + b * hp * wp * 4;
      const outImage = out0 + b * oh * ow * rowC;
      for (let c = 0; c < co; c += 4 * MAX_GROUPS) {
        const groups = Math.min(MAX_GROUPS, (co - c) / 4);
        const biasBlock = bias0 === 0 ? 0 : bias0 + c * 4;
        if (pairs > 0) loops.conv(MAX_COLUMNS, groups)(image, w0 + c * 4, outImage + c * 4, oh, pairs, kh, kw, rowC, wp * 4, ow * rowC, biasBlock, relu ? 1 : 0);
        for (let p = 0; p < rest; p++) {
          const column = pairs * MAX_COLUMNS + p;
          loops.conv(1, groups)(image + column * 4, w0 + c * 4, outImage + column * rowC + c * 4, oh, 1, kh, kw, rowC, wp * 4, ow * rowC, biasBlock, relu ? 1 : 0);
        }
      }
    }
    return out;
  });
}

/** A batch of [height, width] images and where they go in zero-padded [hp, wp] images: offset by (top, left). */
export interface PaddedImages {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly hp: number;
  readonly wp: number;
  readonly top: number;
  readonly left: number;
}

/**
 * Copies the images of `source` (one channel, [batch, height, width] as stored) into the zero-padded images of
 * `target` (here and for the one-channel filter gradient, conv2d-backprop-filter.ts): a zero fill, then one SIMD
 * `copyRows` call per image (heap-simd-loops.ts). The stock `PadV2` took 1.2 ms for [64,28,28,1] (a generic strided
 * loop) and an element-by-element JavaScript loop ≈ 70 µs — twice per small-CNN step; rows narrower than four floats
 * take that loop.
 */
export function padImagesOnHeap(backend: WasmBackendLike, source: TensorInfo, target: TensorInfo, images: PaddedImages): void {
  const { batch, height, width, hp, wp, top, left } = images;
  const loops = width >= 4 ? heapSimdLoopsOf(backend) : undefined;
  // Views after the loops are bound (binding them may allocate on the heap).
  const padded = backend.typedArrayFromHeap(target) as Float32Array;
  padded.fill(0);
  if (loops === undefined) {
    padImages(backend.typedArrayFromHeap(source) as Float32Array, padded, images);
    return;
  }
  const from = heapOffset(backend, source);
  const to = heapOffset(backend, target);
  for (let b = 0; b < batch; b++) {
    loops.copyRows(from + b * height * width * 4, to + ((b * hp + top) * wp + left) * 4, height, width * 4, width * 4, wp * 4);
  }
}

/** {@link padImagesOnHeap}'s copies element by element, into a `target` already zero. */
function padImages(source: Float32Array, target: Float32Array, { batch, height, width, hp, wp, top, left }: PaddedImages): void {
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < height; r++) {
      let from = (b * height + r) * width;
      let to = (b * hp + r + top) * wp + left;
      for (const end = from + width; from < end; from++, to++) target[to] = source[from] ?? 0;
    }
  }
}
