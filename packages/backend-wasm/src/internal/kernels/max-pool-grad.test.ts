import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uninstallWasmKernels } from '../install-wasm-kernels.js';
import { maxPoolGrad2x2Of } from './heap-simd-loops.js';
import { backendDataIds, onBackend, randomTensor, relativeError, setUpWasmWithKernels, tf, WorstError } from '../../test-support/wasm-kernel-harness.js';

const worst = new WorstError();

type PoolCase = readonly [string, number[], [number, number], [number, number], 'valid' | 'same'];

const CASES: PoolCase[] = [
  ['square 2×2/2', [2, 8, 8, 3], [2, 2], [2, 2], 'valid'],
  ['non-square input 2×2/2 (wrong on stock wasm)', [2, 8, 6, 3], [2, 2], [2, 2], 'valid'],
  ['3×3/2 same', [2, 7, 6, 3], [3, 3], [2, 2], 'same'],
  ['maxPooling1d shape: [N,L,1,C] with 2×1', [3, 9, 1, 4], [2, 1], [2, 1], 'valid'],
  ['1×2/1×2', [2, 5, 8, 2], [1, 2], [1, 2], 'valid'],
  ['overlapping 3×2/1', [1, 6, 5, 2], [3, 2], [1, 1], 'valid'],
  ['overlapping 3×3/1 same', [2, 5, 4, 3], [3, 3], [1, 1], 'same'],
  // The SIMD path: 2×2/2 over even height and width, channels a multiple of 4.
  ['SIMD 2×2/2, 4 channels', [2, 6, 8, 4], [2, 2], [2, 2], 'valid'],
  ['SIMD 2×2/2, 16 channels, non-square', [3, 4, 10, 16], [2, 2], [2, 2], 'valid'],
  ['2×2/2 with odd width (scalar loop)', [2, 6, 7, 4], [2, 2], [2, 2], 'valid'],
];

/** dL/dx of sum(maxPool(x) · w) on the active backend. */
function poolGradient([, shape, filter, strides, pad]: PoolCase): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor(randomTensor(shape, 7).values, shape);
    const grad = tf.grad((input: tf.Tensor) => {
      const pooled = tf.maxPool(input as tf.Tensor4D, filter, strides, pad);
      return tf.sum(tf.mul(pooled, tf.tensor(randomTensor(pooled.shape, 8).values, pooled.shape)));
    });
    return grad(x).dataSync() as Float32Array;
  });
}

describe('MaxPoolGrad on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`MaxPoolGrad wasm vs cpu, worst relative error: ${worst.toString()}`);
  });

  it.each(CASES)('%s: equals the cpu backend', async (...c) => {
    const expected = await onBackend('cpu', () => poolGradient(c));
    const before = backendDataIds();
    const actual = poolGradient(c);
    expect(backendDataIds()).toBe(before);
    // Exact where windows do not overlap; overlapping windows add several dy into one dx in a different order.
    expect(worst.record(relativeError(actual, expected), c[0])).toBeLessThanOrEqual(1e-6);
  });

  it.each([
    ['ties (relu zeros)', (v: number) => Math.max(0, v)],
    ['ties everywhere', () => 1],
    ['−∞ windows', (v: number, i: number) => (i % 12 < 8 ? Number.NEGATIVE_INFINITY : v)],
    ['+∞ and −∞', (v: number, i: number) => (i % 7 === 0 ? Number.POSITIVE_INFINITY : i % 5 === 0 ? Number.NEGATIVE_INFINITY : v)],
  ] as const)('SIMD path: %s route like the cpu backend', async (_, map) => {
    const shape = [2, 4, 6, 8];
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(Array.from(randomTensor(shape, 9).values, (v, i) => map(v, i)), shape);
        const w = tf.tensor(randomTensor([2, 2, 3, 8], 10).values, [2, 2, 3, 8]);
        return Array.from(tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid'), w)))(x).dataSync());
      });
    expect(run()).toEqual(await onBackend('cpu', run));
  });

  it('has the SIMD loop on this engine (so the cases above ran it)', () => {
    expect(maxPoolGrad2x2Of(tf.backend())).toBeTypeOf('function');
  });

  it('routes ties to the first maximum, like the cpu backend', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.ones([1, 4, 2, 1]);
        return Array.from(tf.grad((input: tf.Tensor) => tf.sum(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid')))(x).dataSync());
      });
    expect(run()).toEqual(await onBackend('cpu', run));
  });

  it('the stock wasm kernel is wrong for non-square inputs (why this kernel exists)', async () => {
    const c = CASES[1]!;
    const expected = await onBackend('cpu', () => poolGradient(c));
    uninstallWasmKernels(tf);
    try {
      expect(relativeError(poolGradient(c), expected)).toBeGreaterThan(0.01);
    } finally {
      await setUpWasmWithKernels();
    }
  });
});
