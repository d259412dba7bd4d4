import { beforeAll, describe, expect, it } from 'vitest';
import { randomValues, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';
import type { WasmBackendLike } from './wasm-kernel-types.js';
import { weightGradientLoops } from './weight-gradient-simd.js';

/** Runs `run` with heap copies of `inputs` and a zeroed output of `outSize` floats; returns the output. */
function onHeap(inputs: Float32Array[], outSize: number, run: (offsets: number[], out: number) => void): Float32Array {
  const backend = tf.backend() as unknown as WasmBackendLike;
  const tensors = inputs.map((values) => tf.tensor(values));
  const out = tf.zeros([outSize]);
  try {
    const at = (t: tf.Tensor): number => backend.typedArrayFromHeap(t).byteOffset;
    run(tensors.map(at), at(out));
    return out.dataSync() as Float32Array;
  } finally {
    tf.dispose([...tensors, out]);
  }
}

describe('weight-gradient SIMD loops on the wasm heap', () => {
  beforeAll(setUpWasmWithKernels);

  it('validate on this engine, shared and not', () => {
    // The project's TypeScript lib has no WebAssembly types (wasm-assembly/heap-module.ts).
    const { validate } = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
    expect(validate(weightGradientLoops.bytes(false))).toBe(true);
    expect(validate(weightGradientLoops.bytes(true))).toBe(true);
    expect(weightGradientLoops.of(tf.backend())).toBeDefined();
  });

  it.each([
    [4, 4],
    [8, 12],
    [2048, 64],
    [20, 32],
  ])('transpose4 of [%i, %i] is the exact transpose', (k, n) => {
    const src = randomValues(k * n, k + n);
    const loops = weightGradientLoops.of(tf.backend())!;
    const out = onHeap([src], k * n, ([s], d) => loops.transpose4(s!, d, k, n));
    const expected = new Float32Array(k * n);
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) expected[j * k + i] = src[i * n + j]!;
    expect(Array.from(out)).toEqual(Array.from(expected));
  });

  it.each([
    [1, 1, 4],
    [20, 4, 32],
    [2048, 4, 256],
    [7, 3, 8],
  ])('columnProducts over %i rows, d = %i, g = %i: the float32 sums of a row-order loop, bit for bit', (rows, d, g) => {
    const x = randomValues(rows * d, rows + d);
    const dz = randomValues(rows * g, rows + g + 1);
    const loops = weightGradientLoops.of(tf.backend())!;
    const out = onHeap([x, dz], d * g, ([xs, dzs], acc) => loops.columnProducts(xs!, dzs!, acc, rows, d, g * 4));
    const expected = new Float32Array(d * g);
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < d; q++) {
        for (let c = 0; c < g; c++) expected[q * g + c] = Math.fround(expected[q * g + c]! + Math.fround(x[r * d + q]! * dz[r * g + c]!));
      }
    }
    expect(Array.from(out)).toEqual(Array.from(expected));
  });
});
