import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, randomTensor, relativeError, runOnBoth, setUpWasmWithKernels, tf, WorstError } from '../../test-support/wasm-kernel-harness.js';
import { heapSimdLoopsOf } from './heap-simd-loops.js';

const worst = new WorstError();

const CASES: Array<readonly [string, number[], number | number[], boolean]> = [
  ['conv bias gradient [B,H,W,C] over [0,1,2]', [4, 5, 6, 8], [0, 1, 2], false],
  ['dense bias gradient [B,C] over 0', [64, 128], 0, false],
  ['keepDims', [3, 4, 8], [0, 1], true],
  ['negative axes, unsorted', [3, 4, 2, 4], [-3, 0], false],
  ['kept size not a multiple of 4 (stock kernel)', [5, 6, 3], [0, 1], false],
  ['trailing axes (stock kernel)', [5, 6, 4], [1, 2], false],
  ['every axis (stock kernel)', [5, 8], [0, 1], false],
];

describe('Sum on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`Sum wasm vs cpu, worst relative error: ${worst.toString()}`);
  });

  it('has the SIMD loop on this engine (so the leading-axes cases ran it)', () => {
    expect(heapSimdLoopsOf(tf.backend())?.sumRows).toBeTypeOf('function');
  });

  it.each(CASES)('%s: equals the cpu backend', async (where, shape, axis, keepDims) => {
    const x = randomTensor(shape, 5);
    const { cpu, wasm } = await runOnBoth('Sum', { x }, { axis, keepDims });
    expect(wasm.shape).toEqual(cpu.shape);
    expect(worst.record(relativeError(wasm.values, cpu.values), where)).toBeLessThanOrEqual(1e-6);
  });

  it('sums int32 tensors with the stock kernel', () => {
    const values = tf.tidy(() => Array.from(tf.sum(tf.tensor([[1, 2, 3, 4], [5, 6, 7, 8]], [2, 4], 'int32'), 0).dataSync()));
    expect(values).toEqual([6, 8, 10, 12]);
  });

  it('frees nothing it should keep and keeps nothing it should free', () => {
    const x = tf.randomNormal([8, 3, 3, 16]);
    const run = () => tf.tidy(() => tf.sum(x, [0, 1, 2]).dataSync());
    expectNoLeak(run, 3);
    x.dispose();
  });
});
