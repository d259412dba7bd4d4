import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installWasmKernels, uninstallWasmKernels } from '../install-wasm-kernels.js';
import { expectNoLeak, randomTensor, runOnBoth, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';

const CASES: Array<readonly [string, number[], number[]]> = [
  ['batch-norm gradient: [1,1,1,C] to the activation', [1, 1, 1, 5], [4, 3, 2, 1]],
  ['every axis repeated', [2, 3, 4], [3, 2, 2]],
  ['innermost only', [3, 2], [1, 4]],
  ['rank 1', [5], [3]],
  ['no repetition', [2, 3, 2], [1, 1, 1]],
  ['a zero repetition', [2, 3], [0, 2]],
  ['rank 5', [1, 2, 1, 3, 2], [2, 1, 3, 1, 2]],
];

describe('Tile on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    uninstallWasmKernels(tf);
  });

  it.each(CASES)('%s: equals the cpu backend exactly', async (_, shape, reps) => {
    const x = randomTensor(shape, 3);
    const { cpu, wasm } = await runOnBoth('Tile', { x }, { reps });
    expect(wasm.shape).toEqual(cpu.shape);
    expect(Array.from(wasm.values)).toEqual(Array.from(cpu.values));
  });

  it.each(['int32', 'bool'] as const)('tiles %s tensors', async (dtype) => {
    const run = () => tf.tidy(() => Array.from(tf.tile(tf.tensor([[1, 0, 3], [0, 5, 6]], [2, 3], dtype), [2, 3]).dataSync()));
    const wasm = run();
    await tf.setBackend('cpu');
    const cpu = run();
    await tf.setBackend('wasm');
    expect(wasm).toEqual(cpu);
  });

  it('is what the registry holds while installed, and the stock kernel after uninstall', () => {
    const ours = tf.getKernel('Tile', 'wasm')?.kernelFunc;
    uninstallWasmKernels(tf);
    const stock = tf.getKernel('Tile', 'wasm')?.kernelFunc;
    expect(stock).toBeDefined();
    expect(stock).not.toBe(ours);
    installWasmKernels(tf);
    expect(tf.getKernel('Tile', 'wasm')?.kernelFunc).not.toBe(stock);
  });

  it('leaks nothing across a batch-norm gradient', () => {
    const x = tf.randomNormal([4, 3, 3, 2]);
    const [scale, offset] = [tf.ones([2]), tf.zeros([2])];
    const step = () =>
      tf.tidy(() => {
        const grad = tf.grad((input: tf.Tensor) => {
          const { mean, variance } = tf.moments(input, [0, 1, 2]);
          return tf.sum(tf.batchNorm(input, mean, variance, offset, scale, 1e-3).square());
        });
        grad(x).dataSync();
      });
    expectNoLeak(step, 3);
    tf.dispose([x, scale, offset]);
  });
});
