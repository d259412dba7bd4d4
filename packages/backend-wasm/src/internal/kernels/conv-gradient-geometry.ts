/**
 * The forward-convolution geometry that the conv gradient kernels re-express as other convolutions.
 *
 * Every gradient kernel receives the forward conv's attributes (strides, pad, dilations, rounding mode, data format)
 * plus the shape it must produce; tfjs' own `computeConv2DInfo` turns them into concrete paddings and output sizes,
 * so 'same'/'valid'/explicit padding and the rounding rules match the forward kernel exactly.
 */
import type { NamedAttrMap } from '@tensorflow/tfjs';
import { nhwc } from './wasm-kernel-scope.js';
import type { Tf } from './wasm-kernel-types.js';

/** Resolved geometry of the forward convolution, always described in NHWC terms. */
export interface ConvGradientGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly outChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly strides: [number, number];
  readonly dilations: [number, number];
  readonly padTop: number;
  readonly padLeft: number;
  /** False for NCHW ('channelsFirst') tensors. */
  readonly channelsLast: boolean;
}

type Pad = Parameters<Tf['backend_util']['computeConv2DInfo']>[4];
type RoundingMode = 'floor' | 'round' | 'ceil';

/**
 * Computes the forward geometry for `xShape` (in the attrs' data format) convolved with `filterShape`.
 * @param depthwise whether `filterShape` is a depthwise `[KH, KW, C, multiplier]` filter.
 */
export function convGradientGeometry(
  tf: Tf,
  kernelName: string,
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: NamedAttrMap,
  depthwise: boolean,
): ConvGradientGeometry {
  const dataFormat = attrs['dataFormat'] ?? 'NHWC';
  if (dataFormat !== 'NHWC' && dataFormat !== 'NCHW') {
    throw new Error(`fitstream wasm kernel ${kernelName}: unsupported dataFormat ${JSON.stringify(dataFormat)}`);
  }
  const channelsLast = dataFormat === 'NHWC';
  const roundingMode = attrs['dimRoundingMode'] as RoundingMode | undefined;
  const info = tf.backend_util.computeConv2DInfo(
    nhwc(xShape),
    nhwc(filterShape),
    pair(attrs['strides'], 'strides', kernelName),
    pair(attrs['dilations'] ?? 1, 'dilations', kernelName),
    attrs['pad'] as Pad,
    roundingMode,
    depthwise,
    channelsLast ? 'channelsLast' : 'channelsFirst',
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    channelsLast,
  };
}

/** `n` or `[h, w]` -> `[h, w]`, validated. */
function pair(value: unknown, name: string, kernelName: string): [number, number] {
  if (typeof value === 'number') {
    return [value, value];
  }
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && v >= 1)) {
    return [value[0] as number, value[1] as number];
  }
  throw new Error(`fitstream wasm kernel ${kernelName}: invalid ${name} ${JSON.stringify(value)}`);
}
