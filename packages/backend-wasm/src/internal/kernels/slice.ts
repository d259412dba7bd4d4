/**
 * `Slice` for the wasm backend without the whole-tensor copy.
 *
 * The stock wasm kernel starts with `backend.readSync(x)`, which copies the *whole* source tensor out of the heap
 * before copying the slice: slicing batch k of an unshuffled dataset costs O(dataset), not O(batch). This kernel
 * copies straight from a heap view of `x`: one `TypedArray.set` for a contiguous slice (e.g. leading-axis batches),
 * else one `set` per contiguous run, for any rank. String tensors go to the original kernel.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import type { Tf } from './wasm-kernel-types.js';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Slice';

/** Creates the `Slice` kernel function. @param original the stock wasm kernel (string tensors). */
export function createSliceKernel(tf: Tf, original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const { inputs, backend, attrs } = args;
    const x = requireInput(inputs, 'x', NAME);
    if (x.dtype !== 'float32' && x.dtype !== 'int32' && x.dtype !== 'bool') {
      return original(args);
    }
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as unknown as Parameters<typeof tf.slice_util.parseSliceParams>[0],
      attrs['begin'] as number | number[],
      attrs['size'] as number | number[] | undefined,
    ) as [number[], number[]];
    const shape = x.shape;
    const rank = shape.length;
    for (let a = 0; a < rank; a++) {
      const b = begin[a] ?? 0;
      const s = size[a] ?? 0;
      if (b < 0 || s < 0 || b + s > (shape[a] ?? 0)) {
        throw new Error(`${NAME}: begin [${begin.join(',')}] + size [${size.join(',')}] exceeds x of shape [${shape.join(',')}]`);
      }
    }
    const out = backend.makeOutput(size, x.dtype);
    const total = size.reduce((p, q) => p * q, 1);
    if (total === 0) {
      return out;
    }
    if (rank === 0) {
      backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x).subarray(0, 1));
      return out;
    }
    const strides = new Array<number>(rank);
    let stride = 1;
    for (let a = rank - 1; a >= 0; a--) {
      strides[a] = stride;
      stride *= shape[a] ?? 1;
    }
    // Axes k+1.. are taken whole, so every run of `run` elements starting at an index of axes ..k is contiguous.
    let k = rank - 1;
    let run = size[k] ?? 1;
    while (k > 0 && size[k] === shape[k]) {
      k--;
      run *= size[k] ?? 1;
    }
    const source = backend.typedArrayFromHeap(x);
    const target = backend.typedArrayFromHeap(out);
    // Odometer over axes 0..k-1; axis k contributes its begin only (the run spans its size).
    const position = new Array<number>(k).fill(0);
    let to = 0;
    for (;;) {
      let from = (begin[k] ?? 0) * (strides[k] ?? 1);
      for (let a = 0; a < k; a++) from += ((begin[a] ?? 0) + (position[a] ?? 0)) * (strides[a] ?? 1);
      target.set(source.subarray(from, from + run), to);
      to += run;
      let a = k - 1;
      while (a >= 0) {
        const next = (position[a] ?? 0) + 1;
        if (next < (size[a] ?? 0)) {
          position[a] = next;
          break;
        }
        position[a] = 0;
        a--;
      }
      if (a < 0) break;
    }
    return out;
  });
}
