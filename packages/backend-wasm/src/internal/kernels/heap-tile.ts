/**
 * `Tile` for the wasm backend as block copies on the heap.
 *
 * The stock tfjs-backend-wasm 4.22 kernel computes a source index per output element; tfjs' batch-normalisation
 * gradient tiles a `[1,1,1,C]` tensor to the whole activation every step (16 ms of a 43 ms small-CNN step). Here the
 * input's innermost rows are copied once into place and every repetition is then a `copyWithin` of an already filled
 * block, doubling each time: O(output) bytes moved by the engine's memmove, O(log reps) calls per block. Same values
 * as the stock kernel (a copy); string tensors go to the stock kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { HeapArray } from './wasm-kernel-types.js';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Tile';

/** Creates the `Tile` kernel function. @param original the stock wasm kernel (strings, rank 0). */
export function createTileKernel(original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const x = requireInput(args.inputs, 'x', NAME);
    const reps = args.attrs['reps'] as number[];
    if (x.dtype === 'string' || x.dtype === 'complex64' || x.shape.length === 0 || reps.length !== x.shape.length) {
      return original(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    }
    const shape = x.shape;
    const outShape = shape.map((size, i) => size * reps[i]!);
    const out = args.backend.makeOutput(outShape, x.dtype);
    // Views only after makeOutput: an allocation may grow (and so detach) the wasm memory.
    const dst = args.backend.typedArrayFromHeap(out);
    if (dst.length === 0) return out;
    const src = args.backend.typedArrayFromHeap(x);
    const rank = shape.length;
    const inStrides = new Array<number>(rank);
    const outStrides = new Array<number>(rank);
    inStrides[rank - 1] = 1;
    outStrides[rank - 1] = 1;
    for (let i = rank - 2; i >= 0; i--) {
      inStrides[i] = inStrides[i + 1]! * shape[i + 1]!;
      outStrides[i] = outStrides[i + 1]! * outShape[i + 1]!;
    }
    fill(src, dst, shape, reps, inStrides, outStrides, 0, 0, 0);
    return out;
  });
}

/** Fills the output block of `axis` at `dstOffset` from the input block at `srcOffset`, then repeats it. */
function fill(
  src: HeapArray,
  dst: HeapArray,
  shape: readonly number[],
  reps: readonly number[],
  inStrides: readonly number[],
  outStrides: readonly number[],
  axis: number,
  srcOffset: number,
  dstOffset: number,
): void {
  const size = shape[axis]!;
  if (axis === shape.length - 1) {
    dst.set(src.subarray(srcOffset, srcOffset + size), dstOffset);
  } else {
    for (let i = 0; i < size; i++) {
      fill(src, dst, shape, reps, inStrides, outStrides, axis + 1, srcOffset + i * inStrides[axis]!, dstOffset + i * outStrides[axis]!);
    }
  }
  repeat(dst, dstOffset, size * outStrides[axis]!, reps[axis]!);
}

/** Copies `dst[offset, offset + block)` to the `times - 1` blocks after it, doubling the copied span each time. */
function repeat(dst: HeapArray, offset: number, block: number, times: number): void {
  const total = block * times;
  for (let filled = block; filled < total; filled *= 2) {
    const length = Math.min(filled, total - filled);
    dst.copyWithin(offset + filled, offset, offset + length);
  }
}
