/**
 * `Add` of a per-channel vector to a float32 activation — a conv layer's bias in training (`[B,H,W,C] + [C]`, which
 * tfjs-layers adds as its own op whenever the convolution is under a gradient tape with a non-linear activation) — as
 * one WebAssembly SIMD pass over the heap (`addRows` of heap-simd-loops.ts).
 *
 * Why: the stock tfjs-backend-wasm 4.22 `Add` takes its generic broadcasting loop for this shape, ≈ 0.85 ns per
 * element on this machine: 0.69 ms of the bench's 8 ms small-CNN step for `[64,28,28,16] + [16]`, four times a
 * same-shape add of that size. Every element is one float32 addition, exactly as in the stock kernel (addition is
 * commutative in IEEE arithmetic, so `[C] + x` takes the same path). Anything else — other dtypes, equal shapes, other
 * broadcasts, channel counts that are not a multiple of 4, empty tensors, engines without WebAssembly SIMD — takes the
 * stock kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { heapOffset, heapSimdLoopsOf } from './heap-simd-loops.js';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Add';

/** Creates the `Add` kernel function. @param original the stock wasm kernel (every other addition). */
export function createAddKernel(original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const a = requireInput(args.inputs, 'a', NAME);
    const b = requireInput(args.inputs, 'b', NAME);
    const split = channelBias(a, b) ?? channelBias(b, a);
    const loops = split === undefined ? undefined : heapSimdLoopsOf(args.backend);
    if (split === undefined || loops === undefined) return original(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    const { x, bias, rows, channels } = split;
    const out = args.backend.makeOutput([...x.shape], 'float32');
    // Offsets only after makeOutput (an allocation may grow the heap; offsets stay valid, views would not).
    loops.addRows(heapOffset(args.backend, x), heapOffset(args.backend, bias), heapOffset(args.backend, out), rows, channels * 4);
    return out;
  });
}

/**
 * `x` and `bias` when `bias` is a channel vector of `x` (shape `[C]` after leading 1s, no higher rank than `x`, C the
 * last axis of `x` and a multiple of 4), both float32 and `x` not empty; otherwise undefined.
 */
function channelBias(x: TensorInfo, bias: TensorInfo): { x: TensorInfo; bias: TensorInfo; rows: number; channels: number } | undefined {
  if (x.dtype !== 'float32' || bias.dtype !== 'float32' || x.shape.length < 2 || bias.shape.length > x.shape.length) return undefined;
  const channels = x.shape[x.shape.length - 1]!;
  if (channels === 0 || channels % 4 !== 0) return undefined;
  if (bias.shape[bias.shape.length - 1] !== channels || bias.shape.slice(0, -1).some((d) => d !== 1)) return undefined;
  const rows = x.shape.slice(0, -1).reduce((p, d) => p * d, 1);
  return rows > 1 ? { x, bias, rows, channels } : undefined;
}
