/**
 * `UnsortedSegmentSum` for the wasm backend, which tfjs-backend-wasm 4.22 lacks. The gradient of `gather` uses it,
 * so without it an Embedding layer cannot train on wasm.
 *
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]; ids outside [0, numSegments) are dropped (TensorFlow semantics).
 *
 * Implemented as one scatter-add pass straight over the wasm heap in JS: the work is O(N·D) memory traffic with no
 * arithmetic to vectorise, so a JIT-compiled loop is already at memory speed. The alternatives built from wasm
 * kernels are asymptotically worse: one-hot × x is O(N·S·D) with an N×S temporary (51 MB for a 10k vocabulary and
 * 1280 ids), and tfjs' cpu-style "one mask per segment" loop launches S kernels. Summation order is sequential in i,
 * as in TensorFlow.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'UnsortedSegmentSum';

/** Creates the `UnsortedSegmentSum` kernel function (float32/int32 data; segment ids of any rank ≤ rank of x). */
export function createUnsortedSegmentSumKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend, attrs }) => {
    const x = requireInput(inputs, 'x', NAME);
    const segmentIds = requireInput(inputs, 'segmentIds', NAME);
    const numSegments = attrs['numSegments'];
    if (typeof numSegments !== 'number' || !Number.isInteger(numSegments) || numSegments < 0) {
      throw new Error(`fitstream wasm kernel ${NAME}: numSegments must be a non-negative integer, got ${JSON.stringify(numSegments)}`);
    }
    if (x.dtype !== 'float32' && x.dtype !== 'int32') {
      throw new Error(`fitstream wasm kernel ${NAME}: unsupported dtype '${x.dtype}' (float32 and int32 only)`);
    }
    const idRank = segmentIds.shape.length;
    if (idRank > x.shape.length || segmentIds.shape.some((size, i) => size !== x.shape[i])) {
      throw new Error(
        `fitstream wasm kernel ${NAME}: segmentIds shape [${segmentIds.shape.join(',')}] must be a prefix of ` +
          `x shape [${x.shape.join(',')}]`,
      );
    }
    const innerShape = x.shape.slice(idRank);
    const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
    const width = innerShape.reduce((a, b) => a * b, 1);

    const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
    // Take the heap views only after makeOutput: an allocation may grow (and so detach) the wasm memory.
    const outValues = backend.typedArrayFromHeap(out);
    outValues.fill(0);
    if (rows === 0 || width === 0 || numSegments === 0) {
      return out;
    }
    const xValues = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(segmentIds);
    for (let i = 0; i < rows; i++) {
      const segment = Math.trunc(ids[i] ?? -1);
      if (segment < 0 || segment >= numSegments) {
        continue;
      }
      const from = i * width;
      const to = segment * width;
      for (let j = 0; j < width; j++) {
        outValues[to + j] = (outValues[to + j] ?? 0) + (xValues[from + j] ?? 0);
      }
    }
    return out;
  });
}
