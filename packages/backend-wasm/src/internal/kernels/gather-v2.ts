/**
 * `GatherV2` fast path for the wasm and cpu backends: whole rows copied on the wasm heap, or between the cpu backend's
 * arrays.
 *
 * The stock wasm kernel copies element by element through a generic strided loop (≈37 ns/element on this box:
 * gathering 64 rows of 784 floats — one MLP batch — takes ≈1.9 ms, ≈20 % of a training step) and reads the indices
 * through `readSync` (a copy). The stock cpu kernel is slower still: it turns every output element's flat index into
 * coordinates and back, allocating an array each time (gathering 128 rows of 784 floats takes ≈7 ms and leaves
 * ≈100 000 short-lived arrays for the garbage collector, whose pauses two replica threads on two cores then share).
 * This kernel handles any axis and batchDims with int32 indices: it bounds-checks
 * every index first (a clear error naming the position, the value and the valid range), then copies each gathered
 * slice as one `TypedArray.set` of a heap subarray (short rows are copied element by element, which is cheaper than
 * creating a subarray). String/complex data and non-int32 indices go to the original kernel.
 *
 * It also fixes a stock bug: tfjs-backend-wasm 4.22 gathers the wrong rows for `batchDims > 0` (e.g. x [2,5,3],
 * indices [[4,0,1],[3,3,2]], axis 1, batchDims 1: the second batch gets rows 1,3,3 instead of 3,3,2); the cpu
 * backend and this kernel agree.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { isArrayDtype, tensorStorageOf, type ValueArray } from './tensor-storage.js';

const NAME = 'GatherV2';
/** Rows shorter than this are copied with a plain loop instead of `subarray` + `set`. */
const SHORT_ROW = 32;

/** Whether `values` is the typed array tfjs keeps for `dtype` (a cpu tensor's values may be another). */
function holds(values: ValueArray, dtype: string): boolean {
  return dtype === 'float32' ? values instanceof Float32Array : dtype === 'int32' ? values instanceof Int32Array : values instanceof Uint8Array;
}

/**
 * Creates the `GatherV2` kernel function for the wasm or the cpu backend.
 * @param original the backend's stock kernel, for the cases not handled here.
 */
export function createGatherV2Kernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs ?? {};
    const x = inputs['x'];
    const indices = inputs['indices'];
    const axisAttr = attrs['axis'];
    const batchAttr = attrs['batchDims'] ?? 0;
    if (x === undefined || indices === undefined || !isArrayDtype(x.dtype) || indices.dtype !== 'int32' || typeof axisAttr !== 'number' || typeof batchAttr !== 'number') {
      return original(args);
    }
    const storage = tensorStorageOf(backend, NAME);
    const rank = x.shape.length;
    const axis = axisAttr < 0 ? axisAttr + rank : axisAttr;
    const batchDims = batchAttr < 0 ? batchAttr + indices.shape.length : batchAttr;
    if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
      throw new Error(`fitstream kernel ${NAME}: axis ${axisAttr} is out of range for x of rank ${rank}`);
    }
    const batchShapeMatches = x.shape.slice(0, batchDims).every((size, i) => size === indices.shape[i]);
    if (!Number.isInteger(batchDims) || batchDims < 0 || batchDims > axis || batchDims > indices.shape.length || !batchShapeMatches) {
      // Invalid batchDims: the stock kernel produces tfjs' own error for it.
      return original(args);
    }
    const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
    const batch = product(x.shape.slice(0, batchDims));
    const dimSize = x.shape[axis] ?? 0;
    const outer = product(x.shape.slice(batchDims, axis));
    const inner = product(x.shape.slice(axis + 1));
    const count = product(indices.shape);
    const perBatch = batch === 0 ? 0 : count / batch;

    // Validate before allocating, so a bad index leaves nothing behind.
    const ids = storage.view(indices);
    if (!holds(ids, 'int32') || !holds(storage.view(x), x.dtype)) return original(args);
    for (let i = 0; i < count; i++) {
      const index = ids[i] ?? -1;
      if (index < 0 || index >= dimSize) {
        throw new Error(
          `${NAME}: index ${index} at position ${i} of the indices is out of range [0, ${dimSize}) for axis ${axis} ` +
            `of x with shape [${x.shape.join(',')}]`,
        );
      }
    }
    const out = storage.allocate([...x.shape.slice(0, axis), ...indices.shape.slice(batchDims), ...x.shape.slice(axis + 1)], x.dtype);
    if (batch * outer * perBatch * inner === 0) {
      return out;
    }
    // Views only after makeOutput: an allocation may grow (and so detach) the wasm memory.
    const source = storage.view(x);
    const target = storage.view(out);
    const index = storage.view(indices);
    let to = 0;
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < outer; o++) {
        const base = (b * outer + o) * dimSize * inner;
        for (let i = b * perBatch, end = i + perBatch; i < end; i++) {
          const from = base + (index[i] ?? 0) * inner;
          if (inner >= SHORT_ROW) {
            target.set(source.subarray(from, from + inner), to);
          } else {
            for (let j = 0; j < inner; j++) target[to + j] = source[from + j] ?? 0;
          }
          to += inner;
        }
      }
    }
    return out;
  };
}
