/**
 * `Sum` over the leading axes of a float32 tensor — the bias gradients of conv and dense layers (`[B,H,W,C]` → `[C]`,
 * `[B,C]` → `[C]`) — as one WebAssembly SIMD pass over the heap (`sumRows` of heap-simd-loops.ts).
 *
 * The stock tfjs-backend-wasm 4.22 kernel first transposes the tensor so that the reduced axes are innermost, then
 * sums each row: a full copy of the activation gradient before any arithmetic. Here every channel is summed
 * sequentially over the rows in float32, four channels per f32x4 lane group, the order of a plain float loop. Other
 * reductions, other dtypes, kept sizes that are not a multiple of 4, and engines without WebAssembly SIMD take the
 * stock kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { heapOffset, heapSimdLoopsOf } from './heap-simd-loops.js';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Sum';

/** Creates the `Sum` kernel function. @param original the stock wasm kernel (every other reduction). */
export function createSumKernel(original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const x = requireInput(args.inputs, 'x', NAME);
    const rank = x.shape.length;
    const axes = normaliseAxes(args.attrs['axis'] as number | number[] | null | undefined, rank);
    const kept = axes === undefined ? [] : x.shape.slice(axes.length);
    const width = kept.reduce((a, b) => a * b, 1);
    const rows = x.shape.slice(0, axes?.length ?? 0).reduce((a, b) => a * b, 1);
    const loops =
      axes !== undefined && axes.length > 0 && axes.length < rank && axes.every((axis, i) => axis === i) &&
      x.dtype === 'float32' && width % 4 === 0 && width > 0 && rows > 0
        ? heapSimdLoopsOf(args.backend)
        : undefined;
    if (loops === undefined || axes === undefined) {
      return original(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    }
    const outShape = args.attrs['keepDims'] === true ? [...axes.map(() => 1), ...kept] : kept;
    const out = args.backend.makeOutput(outShape, 'float32');
    // Offsets only after makeOutput (an allocation may grow the heap; offsets stay valid, views would not).
    loops.sumRows(heapOffset(args.backend, x), heapOffset(args.backend, out), rows, width * 4);
    return out;
  });
}

/** Sorted, non-negative, de-duplicated axes; undefined when `axis` is absent or malformed (the stock kernel decides). */
function normaliseAxes(axis: number | number[] | null | undefined, rank: number): number[] | undefined {
  if (axis === undefined || axis === null) return undefined;
  const list = Array.isArray(axis) ? axis : [axis];
  const out = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) return undefined;
    out.add(a < 0 ? a + rank : a);
  }
  return [...out].sort((a, b) => a - b);
}
