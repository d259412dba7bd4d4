import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, randomTensor, runOnBoth, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';

type PoolCase = readonly [string, number[], [number, number], [number, number], 'valid' | 'same'];

const CASES: PoolCase[] = [
  // The SIMD pass: 2×2/2 over even height and width, channels a multiple of 4.
  ['SIMD 2×2/2, 4 channels', [2, 6, 8, 4], [2, 2], [2, 2], 'valid'],
  ['SIMD 2×2/2, 16 channels, non-square', [3, 4, 10, 16], [2, 2], [2, 2], 'valid'],
  ['SIMD 2×2/2 same (no padding at even sizes)', [2, 8, 8, 8], [2, 2], [2, 2], 'same'],
  ['SIMD: the small CNN\'s pool at batch 4', [4, 28, 28, 16], [2, 2], [2, 2], 'valid'],
  // The stock kernel.
  ['odd width', [2, 6, 7, 4], [2, 2], [2, 2], 'valid'],
  ['3 channels', [2, 8, 8, 3], [2, 2], [2, 2], 'valid'],
  ['3×3/2 same', [2, 7, 6, 4], [3, 3], [2, 2], 'same'],
  ['2×2/1', [2, 6, 6, 4], [2, 2], [1, 1], 'valid'],
];

describe('MaxPool on wasm', () => {
  beforeAll(setUpWasmWithKernels);

  it.each(CASES)('equals the cpu kernel exactly: %s', async (_, shape, filterSize, strides, pad) => {
    const { cpu, wasm } = await runOnBoth('MaxPool', { x: randomTensor(shape, 3) }, { filterSize, strides, pad });
    expect(wasm.shape).toEqual(cpu.shape);
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
  });

  it('frees nothing it should keep and keeps nothing it should free', () => {
    const x = tf.tensor(randomTensor([2, 6, 8, 4], 5).values, [2, 6, 8, 4]);
    expectNoLeak(() => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid').dispose(), 5);
    x.dispose();
  });
});
